"""Preference data from a campaign's judgments, in TRL's formats, for the researcher who tunes the next model
on what the annotators preferred: `python -m annotations preferences --campaign ID --out DIR`.

Each judged item becomes at most one pair (`prompt`, `chosen`, `rejected`): the raters of the item vote, the
majority decides (Condorcet's simple majority; "tie" and "both bad" votes are no vote for either side), and a
pair without a majority (a tie) or whose margin (winning minus losing votes over all raters) is below
`min_margin` is left out and counted. Gold and attention items and repeated assignments never count. The
prompt is the one the run's generation used (`ft_core.generate` writes it into every output record; the
campaign stores it per item); when the run wrapped it in a chat template the rows are conversational (lists of
role/content messages, TRL's "conversational" format), the user message being the run's `prompt_template` as
it appears in that prompt. Items of an evaluation split are left out unless `include_eval_split`. The share of
decided votes against the majority (`disagreement_rate`) is the label noise a robust DPO loss (label
smoothing, Mitchell 2023 "cDPO") takes. KTO rows (`prompt`, `completion`, `label`; Ethayarajh et al. 2024)
come from the per-criterion scores: an output whose mean score, each scaled to [0, 1] over its criterion's
range, is above the middle is desirable. The format is documented in docs/preference-tuning.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from annotations.errors import AnnotationError
from ft_core import runfolder
from ft_core.config import ConfigError

EVAL_SPLITS = ("test", "validation", "dev", "eval", "evaluation", "unknown")
FILES = ("preferences.jsonl", "preferences.parquet", "summary.json")
KTO_FILES = ("kto.jsonl", "kto.parquet")


@dataclass(frozen=True)
class PreferenceOptions:
    """How the judgments become training pairs."""

    min_margin: float = 0.0  # pairs whose (winning - losing votes) / raters is below this are left out
    min_pairs: int = 10  # fewer decided pairs than this: an error, nothing written
    include_eval_split: bool = False  # write items of an evaluation split too
    kto: bool = False  # also write KTO rows from the per-criterion scores

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_margin <= 1.0:
            raise AnnotationError(f"--min-margin must be between 0 and 1, got {self.min_margin}")
        if self.min_pairs < 1:
            raise AnnotationError(f"--min-pairs must be at least 1, got {self.min_pairs}")


@dataclass(frozen=True)
class PromptFormat:
    """How the run built its prompts: the template around {source}, and whether a chat template wrapped it."""

    template: str
    conversational: bool


@dataclass
class PreferenceSummary:
    """What summary.json records beside the files."""

    campaign_id: str
    written: int = 0
    ties: int = 0
    low_margin: int = 0
    eval_split_left_out: int = 0
    undecided: int = 0  # items whose raters all said "tie" or "both bad"
    disagreement_rate: float | None = (
        None  # minority votes / decided votes, over written pairs with >= 2 votes
    )
    disagreement_pairs: int = 0  # the pairs that rate rests on
    conversational: bool = False
    splits: dict[str, int] = field(default_factory=dict)  # written pairs per split
    kto_rows: int | None = None
    kto_neutral: int | None = None  # outputs scored exactly in the middle: no KTO label
    min_margin: float = 0.0
    include_eval_split: bool = False
    note: str = ""  # what the exporter says of the data (the demo: its judgments are simulated)


@dataclass
class PreferenceData:
    """The rows to write and their summary."""

    pairs: pd.DataFrame  # prompt, chosen, rejected, split, item_id, n_raters, margin
    kto: pd.DataFrame | None  # prompt, completion, label, split, item_id
    summary: PreferenceSummary


# --------------------------------------------------------------------------------------------- prompts
def prompt_format(run_dir: str | None) -> PromptFormat:
    """The run's prompt template and whether its generation used a chat template (config.json,
    `ft_core.data`)."""
    if not run_dir:
        raise AnnotationError(
            "the prompt format cannot be recovered: the campaign was not imported from a run folder"
        )
    try:
        cfg = runfolder.load_train_config(run_dir)
    except (runfolder.RunFolderError, ConfigError) as e:
        raise AnnotationError(f"the prompt format cannot be recovered: {e}") from None
    return PromptFormat(cfg.prompt_template, bool(cfg.use_chat_template and cfg.task == "causal"))


def chat_wrapper(prompts: list[str], messages: list[str]) -> tuple[str, str] | None:
    """The chat template's text before and after the user message (the same for every prompt of a run),
    learnt from the prompts whose whole message (template and uncut source) they contain; None when no
    prompt shows it."""
    seen: Counter[tuple[str, str]] = Counter()
    for prompt, message in zip(prompts, messages):
        at = prompt.find(message) if message else -1
        if at >= 0 and prompt != message:
            seen[(prompt[:at], prompt[at + len(message) :])] += 1
    return seen.most_common(1)[0][0] if seen else None


def user_messages(items: pd.DataFrame, template: str) -> dict[str, str] | None:
    """item_id -> the user message inside each chat-formatted prompt, or None when the prompts are the
    plain template (use_chat_template, but the tokenizer had no chat template). A source cut to
    max_source_length tokens is found between the chat template's fixed text before and after the message."""
    prefix, _, suffix = template.partition("{source}")
    ids = list(items["item_id"])
    prompts = [p if isinstance(p, str) else "" for p in items["prompt"]]
    messages = [prefix + (s if isinstance(s, str) else "") + suffix for s in items["source"]]
    wrapper = chat_wrapper(prompts, messages)
    if wrapper is None:
        if all(p.startswith(prefix) and p.endswith(suffix) for p in prompts):
            return None
        raise AnnotationError(
            f"the prompt format cannot be recovered: item {ids[0]}'s prompt does not contain the run's "
            "prompt_template around its source"
        )
    head, tail = wrapper
    found = {}
    for item_id, prompt in zip(ids, prompts):
        inner = prompt[len(head) : len(prompt) - len(tail)]
        if not (prompt.startswith(head) and prompt.endswith(tail) and inner.startswith(prefix)):
            raise AnnotationError(
                f"the prompt format cannot be recovered: item {item_id}'s prompt is not the run's chat "
                "template around its prompt_template"
            )
        found[item_id] = inner
    return found


def formatted_prompts(items: pd.DataFrame, fmt: PromptFormat) -> dict[str, Any]:
    """item_id -> the prompt in TRL's format: the exact generation prompt, or a one-message conversation."""
    for item_id, prompt in zip(items["item_id"], items["prompt"]):
        if not isinstance(prompt, str):
            raise AnnotationError(
                f"the prompt format cannot be recovered: item {item_id} has no stored prompt "
                "(the run's outputs lack the 'prompt' field); generate the outputs again with ft_core"
            )
    plain = dict(zip(items["item_id"], items["prompt"]))
    messages = user_messages(items, fmt.template) if fmt.conversational else None
    if messages is None:
        return plain
    return {item_id: [{"role": "user", "content": text}] for item_id, text in messages.items()}


# --------------------------------------------------------------------------------------------- splits
def item_splits(items: pd.DataFrame, run_dir: str | None) -> dict[str, str]:
    """item_id -> the split the item came from: the item's own `split` field, else the split the run's
    generation read (outputs/generate_config.json; a file path that is the run's training file is "train"),
    else "unknown"."""
    split = "unknown"
    if run_dir:
        generated = runfolder.read_generate_config(runfolder.outputs_dir(run_dir)).get("split")
        run_config = runfolder.read_config(run_dir)
        train_file = run_config.train_file if run_config else None
        if generated in ("test", "validation"):
            split = generated
        elif generated == "dev":
            split = "validation"
        elif isinstance(generated, str) and generated:
            same = train_file and Path(generated).resolve() == Path(str(train_file)).resolve()
            split = "train" if same else f"file:{Path(generated).name}"
    return {
        item_id: str(meta.get("split") or split) if isinstance(meta, dict) else split
        for item_id, meta in zip(items["item_id"], items["metadata"])
    }


def is_eval_split(split: str) -> bool:
    """Whether a split is held out for evaluation (anything not known to be training data is)."""
    return split != "train" and not split.startswith("train")


# --------------------------------------------------------------------------------------------- the votes
def majority_pairs(judgments: pd.DataFrame, system_a: str, system_b: str) -> pd.DataFrame:
    """One row per item: votes for each system, raters, the majority winner (None on a tie) and its margin.

    `judgments`: the campaign's latest judgments (annotations.judging.judgments.judgments_frame); gold items
    and repeated assignments are left out, so each rater counts once per item."""
    counted = judgments[~judgments["is_gold"].astype(bool) & ~judgments["is_repeat"].astype(bool)]
    votes = (
        counted.assign(
            for_a=(counted["winner"] == system_a).astype(int),
            for_b=(counted["winner"] == system_b).astype(int),
        )
        .groupby("item_id", sort=False)
        .agg(for_a=("for_a", "sum"), for_b=("for_b", "sum"), n_raters=("annotator_id", "nunique"))
        .reset_index()
    )
    votes["winner"] = [
        system_a if a > b else system_b if b > a else None for a, b in zip(votes["for_a"], votes["for_b"])
    ]
    votes["margin"] = (votes["for_a"] - votes["for_b"]).abs() / votes["n_raters"]
    return votes


def disagreement(votes: pd.DataFrame) -> tuple[float | None, int]:
    """Minority votes over decided votes, on pairs with at least two decided votes; and how many such
    pairs."""
    decided = votes["for_a"] + votes["for_b"]
    rows = votes[decided >= 2]
    if rows.empty:
        return None, 0
    minority = rows[["for_a", "for_b"]].min(axis=1).sum()
    return float(minority / (rows["for_a"] + rows["for_b"]).sum()), len(rows)


def kto_rows(
    scores: pd.DataFrame, criteria: dict[str, tuple[int, int]], texts: dict[tuple[str, str], str]
) -> tuple[pd.DataFrame, int]:
    """One row per (item, system) output with scores: its mean score, each scaled to [0, 1] over its
    criterion's range; label True above 0.5, False below, and outputs exactly at 0.5 left out (their count
    returned)."""
    rows = scores[scores["criterion"].isin(list(criteria)) & ~scores["is_gold"].astype(bool)]
    rows = rows[~rows["is_repeat"].astype(bool)]
    if rows.empty:
        return pd.DataFrame(columns=["item_id", "completion", "label"]), 0
    low = rows["criterion"].map(lambda c: criteria[c][0])
    high = rows["criterion"].map(lambda c: criteria[c][1])
    scaled = (rows["score"] - low) / (high - low).where(high > low)
    mean = (
        rows.assign(scaled=scaled).groupby(["item_id", "system"], sort=False)["scaled"].mean().reset_index()
    )
    mean = mean.dropna(subset=["scaled"])
    neutral = int((mean["scaled"] == 0.5).sum())
    mean = mean[mean["scaled"] != 0.5]
    return (
        pd.DataFrame(
            {
                "item_id": mean["item_id"].to_numpy(),
                "completion": [texts[(i, s)] for i, s in zip(mean["item_id"], mean["system"])],
                "label": (mean["scaled"] > 0.5).to_numpy(),
            }
        ),
        neutral,
    )


# --------------------------------------------------------------------------------------------- the export
def build_preferences(
    campaign_id: str,
    judgments: pd.DataFrame,
    items: pd.DataFrame,
    outputs: pd.DataFrame,
    prompts: dict[str, Any],
    splits: dict[str, str],
    system_a: str,
    system_b: str,
    options: PreferenceOptions,
    scores: pd.DataFrame | None = None,
    criteria: dict[str, tuple[int, int]] | None = None,
) -> PreferenceData:
    """The pairs (and KTO rows) of one campaign; no I/O. Raises AnnotationError when fewer than
    `options.min_pairs` pairs are decided."""
    summary = PreferenceSummary(
        campaign_id, min_margin=options.min_margin, include_eval_split=options.include_eval_split
    )
    summary.conversational = any(isinstance(p, list) for p in prompts.values())
    texts = {(i, s): o for i, s, o in zip(outputs["item_id"], outputs["system"], outputs["output"])}
    gold = set(items.loc[items["is_gold"].astype(bool), "item_id"])
    votes = majority_pairs(judgments[~judgments["item_id"].isin(gold)], system_a, system_b)
    undecided = (votes["for_a"] + votes["for_b"]) == 0
    summary.undecided = int(undecided.sum())
    summary.ties = int((votes["winner"].isna() & ~undecided).sum())
    decided = votes[votes["winner"].notna()]
    low = decided["margin"] < options.min_margin
    summary.low_margin = int(low.sum())
    decided = decided[~low]
    decided = decided.assign(split=decided["item_id"].map(splits))
    held_out = decided["split"].map(is_eval_split)
    if not options.include_eval_split:
        summary.eval_split_left_out = int(held_out.sum())
        decided = decided[~held_out]
    if len(decided) < options.min_pairs:
        hint = (
            f"; {summary.eval_split_left_out} more are from an evaluation split (--include-eval-split writes "
            "them)"
            if summary.eval_split_left_out
            else ""
        )
        raise AnnotationError(
            f"campaign {campaign_id} has {len(decided)} decided preference "
            f"{'pair' if len(decided) == 1 else 'pairs'}, fewer than --min-pairs {options.min_pairs} "
            f"({summary.ties} ties, {summary.low_margin} below the margin{hint}): nothing written"
        )
    loser = {system_a: system_b, system_b: system_a}
    assistant = (lambda text: [{"role": "assistant", "content": text}]) if summary.conversational else str
    pairs = pd.DataFrame(
        {
            "prompt": [prompts[i] for i in decided["item_id"]],
            "chosen": [assistant(texts[(i, w)]) for i, w in zip(decided["item_id"], decided["winner"])],
            "rejected": [
                assistant(texts[(i, loser[w])]) for i, w in zip(decided["item_id"], decided["winner"])
            ],
            "split": decided["split"].to_numpy(),
            "item_id": decided["item_id"].to_numpy(),
            "n_raters": decided["n_raters"].astype(int).to_numpy(),
            "margin": decided["margin"].astype(float).round(6).to_numpy(),
        }
    )
    summary.written = len(pairs)
    summary.splits = {str(k): int(v) for k, v in pairs["split"].value_counts().sort_index().items()}
    summary.disagreement_rate, summary.disagreement_pairs = disagreement(decided)
    kto = None
    if options.kto:
        kto, summary.kto_neutral = kto_rows(
            scores if scores is not None else pd.DataFrame(columns=["criterion", "is_gold", "is_repeat"]),
            criteria or {},
            texts,
        )
        kto = kto[~kto["item_id"].isin(gold)]
        kto = kto.assign(split=kto["item_id"].map(splits))
        if not options.include_eval_split:
            kto = kto[~kto["split"].map(is_eval_split).astype(bool)]
        kto = pd.DataFrame(
            {
                "prompt": [prompts[i] for i in kto["item_id"]],
                "completion": [assistant(t) for t in kto["completion"]],
                "label": kto["label"].astype(bool).to_numpy(),
                "split": kto["split"].to_numpy(),
                "item_id": kto["item_id"].to_numpy(),
            }
        )
        summary.kto_rows = len(kto)
    return PreferenceData(pairs, kto, summary)


def campaign_preferences(con, campaign_id: str, options: PreferenceOptions) -> PreferenceData:
    """The preference data of a stored campaign (judgments, items, outputs and the run folder's prompt
    format)."""
    from annotations import campaigns
    from annotations.judging import judgments

    campaign = campaigns.get_campaign(con, campaign_id)
    config = campaign.config
    items = campaigns.items_frame(con, campaign_id)
    fmt = prompt_format(config.run_dir)
    prompts = formatted_prompts(items, fmt)
    scores = judgments.scores_frame(con, campaign_id) if options.kto else None
    criteria = {c.name: (c.min_score, c.max_score) for c in config.criteria}
    return build_preferences(
        campaign_id,
        judgments.judgments_frame(con, campaign_id),
        items,
        campaigns.outputs_frame(con, campaign_id),
        prompts,
        item_splits(items, config.run_dir),
        config.system_a,
        config.system_b,
        options,
        scores,
        criteria,
    )


def write_preferences(data: PreferenceData, out: str | Path) -> list[Path]:
    """preferences.jsonl/.parquet (+ kto.jsonl/.parquet) and summary.json in `out`, each file swapped in whole
    once every file is written beside it."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = runfolder.staging_dir(out / "preferences")
    staging.mkdir(parents=True)
    try:
        frames = {"preferences": data.pairs}
        if data.kto is not None:
            frames["kto"] = data.kto
        for name, frame in frames.items():
            records = frame.to_dict(orient="records")
            (staging / f"{name}.jsonl").write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
            )
            frame.to_parquet(staging / f"{name}.parquet", index=False)
        (staging / "summary.json").write_text(json.dumps(asdict(data.summary), indent=2) + "\n")
        written = []
        if data.kto is None:  # an earlier export's KTO rows would not match this summary
            for name in KTO_FILES:
                (out / name).unlink(missing_ok=True)
        for path in sorted(staging.iterdir()):
            os.replace(path, out / path.name)
            written.append(out / path.name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def preferences_zip(data: PreferenceData) -> bytes:
    """The files `write_preferences` writes, in one zip (the Results page's download)."""
    with tempfile.TemporaryDirectory() as folder:
        files = write_preferences(data, folder)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.name)
        return buffer.getvalue()


def main_preferences(argv: list[str]) -> int:
    """`python -m annotations preferences --campaign ID --out DIR`: TRL preference data from the judgments."""
    from annotations import store

    parser = argparse.ArgumentParser(
        prog="python -m annotations preferences",
        description="Write the campaign's majority preferences as TRL preference data (JSONL and Parquet).",
    )
    parser.add_argument("--campaign", required=True, help="campaign id")
    parser.add_argument("--out", required=True, help="folder to write into")
    parser.add_argument(
        "--db", default=None, help="the app's DuckDB file (default: $FT_APP_DB or data/app.duckdb)"
    )
    parser.add_argument(
        "--min-margin", type=float, default=0.0, help="leave out pairs whose vote margin is below this (0-1)"
    )
    parser.add_argument(
        "--min-pairs", type=int, default=10, help="fewest decided pairs to write (default 10)"
    )
    parser.add_argument(
        "--include-eval-split", action="store_true", help="write items of an evaluation split too"
    )
    parser.add_argument(
        "--kto", action="store_true", help="also write KTO rows from the per-criterion scores"
    )
    args = parser.parse_args(argv)
    options = PreferenceOptions(args.min_margin, args.min_pairs, args.include_eval_split, args.kto)
    path = args.db or store.default_target()
    if not store.is_postgres_url(path) and not Path(path).is_file():
        raise AnnotationError(f"{path} not found: pass the app's DuckDB file with --db (FT_APP_DB)")
    con = store.connect(path, read_only=True)
    try:
        data = campaign_preferences(con, args.campaign, options)
    finally:
        con.close()
    files = write_preferences(data, args.out)
    s = data.summary
    rate = "n/a" if s.disagreement_rate is None else f"{s.disagreement_rate:.3f}"
    print(
        f"{args.campaign}: {s.written} pairs written to {args.out} ({len(files)} files); left out: {s.ties} "
        f"ties, {s.low_margin} below the margin, {s.eval_split_left_out} from an evaluation split; "
        f"disagreement rate {rate}"
    )
    return 0
