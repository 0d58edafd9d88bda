"""Campaigns: which two systems are compared on which items, under which criteria, by how many annotators.

A researcher builds one from a run folder (`outputs/*.jsonl` + `scores/per_example.parquet`, see contracts.md)
or from a CSV/JSONL with `item_id, system, output` columns (optional `source`, `prompt`, `references`,
`gold_winner`, and numeric metric columns), so outputs made elsewhere can be judged too. Items are all of them,
a random sample, or the "critical" ones where the automatic metrics disagree most (`metric_disagreement`).
The frames at the bottom (`items_frame`, `outputs_frame`, `metrics_frame`, `list_campaigns`) are what the
statistics and the results page read.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from annotations import db, source_files
from annotations.design import Design, check_design, new_secret
from annotations.errors import CampaignError

SPECIAL_WINNERS = ("tie", "both_bad")
SELECTIONS = ("all", "random", "critical")
# Metrics that say how good an output is; lengths and token counts are not quality and stay out of "critical".
QUALITY_METRICS = (
    "rouge1",
    "rouge2",
    "rougeL",
    "rougeLsum",
    "bleu",
    "sacrebleu",
    "chrf",
    "meteor",
    "bertscore_f1",
)
NOT_METRICS = {
    "item_id",
    "system",
    "decoding",
    "seed",
    "new_tokens",
    "hit_max_new_tokens",
    "time_s",
    "gold_winner",
}
_OUTPUT_FILE = re.compile(r"^(?P<system>.+?)__(?P<decoding>.+)__seed(?P<seed>-?\d+)\.jsonl$")

# Texts longer than this are refused at import (or cut, when the researcher asks): a page showing a megabyte of
# text on one line froze annotators' tabs. Comments are kept short for the same reason.
DEFAULT_MAX_TEXT_CHARS = 20_000
DEFAULT_MAX_COMMENT_CHARS = 2_000

DEFAULT_INSTRUCTIONS = (
    "Read the source, then the two outputs A and B. Choose the better output, or tie, or both bad. "
    "Then score each output from 1 (poor) to 5 (excellent) on every criterion. Which system wrote which "
    "output is hidden. Which of the two is shown as A is drawn at random for each pair, from a sequence made "
    "for you alone in which each system is A equally often, and you get the pairs in an order of your own."
)


@dataclass
class Criterion:
    """A 1–5 (or min–max) score the annotator gives each of the two outputs."""

    name: str = field(metadata={"help": "short key, e.g. 'fluency'"})
    description: str = field(default="", metadata={"help": "the question shown to the annotator"})
    min_score: int = field(default=1, metadata={"help": "lowest score"})
    max_score: int = field(default=5, metadata={"help": "highest score"})


def default_criteria() -> list[Criterion]:
    """Fluency, fidelity to the source and relevance, each 1–5."""
    return [
        Criterion("fluency", "Is the output well-formed, grammatical, easy to read?"),
        Criterion("fidelity", "Is everything it says supported by the source (no invented facts)?"),
        Criterion("relevance", "Does it keep what matters in the source and leave out what does not?"),
    ]


@dataclass
class CampaignConfig:
    """Everything a researcher chooses when creating a campaign. Stored as JSON on the campaign."""

    name: str = field(metadata={"help": "name shown to researchers and annotators"})
    run_dir: str | None = field(
        default=None, metadata={"help": "run folder whose outputs/ and scores/ are judged"}
    )
    source_file: str | None = field(
        default=None, metadata={"help": "or a CSV/JSONL with item_id, system, output"}
    )
    system_a: str = field(default="base", metadata={"help": "first system (e.g. the base model)"})
    system_b: str = field(default="finetuned", metadata={"help": "second system (e.g. the fine-tuned model)"})
    decoding: str | None = field(
        default=None, metadata={"help": "decoding name of the outputs; None: the only/first"}
    )
    seed: int | None = field(
        default=None, metadata={"help": "generation seed of the outputs; None: the only/first"}
    )
    selection: str = field(
        default="all", metadata={"help": "all | random | critical (largest metric disagreement)"}
    )
    n_items: int | None = field(default=100, metadata={"help": "items to keep for random/critical selection"})
    sample_seed: int = field(default=0, metadata={"help": "seed of the random sample"})
    critical_metrics: list[str] | None = field(
        default=None, metadata={"help": "metrics compared; None: quality ones"}
    )
    criteria: list[Criterion] = field(
        default_factory=default_criteria, metadata={"help": "scores per output"}
    )
    show_reference: bool = field(default=True, metadata={"help": "show the reference text to annotators"})
    instructions: str = field(default=DEFAULT_INSTRUCTIONS, metadata={"help": "shown above every pair"})
    k: int = field(default=3, metadata={"help": "judgments per item, each by a different annotator"})
    gold_items: dict[str, str] = field(default_factory=dict, metadata={"help": "item_id -> known winner"})
    gold_rate: float = field(
        default=0.0, metadata={"help": "share of an annotator's pairs that are gold items"}
    )
    repeat_rate: float = field(default=0.0, metadata={"help": "share re-shown later with the sides flipped"})
    items_per_annotator: int | None = field(
        default=None, metadata={"help": "quota per annotator; None: no quota"}
    )
    lease_minutes: float = field(
        default=15.0, metadata={"help": "an unanswered pair returns to the pool after this"}
    )
    max_text_chars: int = field(
        default=DEFAULT_MAX_TEXT_CHARS,
        metadata={"help": "longest source, prompt, output or reference imported, in characters"},
    )
    truncate_long_texts: bool = field(
        default=False, metadata={"help": "cut longer texts to max_text_chars instead of refusing the import"}
    )
    max_comment_chars: int = field(
        default=DEFAULT_MAX_COMMENT_CHARS, metadata={"help": "longest comment an annotator may leave"}
    )
    side_block_sizes: list[int] = field(
        default_factory=lambda: [8, 12, 16],
        metadata={
            "help": "each annotator's left sides come in random blocks of these sizes (even, >= 8; drawn at "
            "random), each block with both systems on the left equally often (annotations.design)"
        },
    )
    side_max_imbalance: int = field(
        default=3,
        metadata={"help": "most by which one system may lead the other on an annotator's left side (>= 2)"},
    )
    max_items_in_progress: int = field(
        default=32,
        metadata={
            "help": "items started but short of k at once: once this many are, annotators finish them before "
            "new ones start (larger: annotators' orders differ more; smaller: fewer half-judged items)"
        },
    )

    def validate(self) -> None:
        """Raise CampaignError naming the first bad field."""
        if not self.name.strip():
            raise CampaignError("campaign name is empty")
        if (self.run_dir is None) == (self.source_file is None):
            raise CampaignError("give exactly one of run_dir (a run folder) or source_file (CSV/JSONL)")
        if self.system_a == self.system_b:
            raise CampaignError(
                f"system_a and system_b are both '{self.system_a}'; pick two different systems"
            )
        if self.selection not in SELECTIONS:
            raise CampaignError(f"selection '{self.selection}' unknown; use one of {', '.join(SELECTIONS)}")
        if self.selection != "all" and (self.n_items is None or self.n_items < 1):
            raise CampaignError(f"n_items must be >= 1 for selection '{self.selection}'")
        if self.k < 1:
            raise CampaignError(f"k must be >= 1 (judgments per item), got {self.k}")
        if not 0.0 <= self.gold_rate < 1.0 or not 0.0 <= self.repeat_rate < 1.0:
            raise CampaignError("gold_rate and repeat_rate are shares in [0, 1)")
        if self.lease_minutes <= 0:
            raise CampaignError("lease_minutes must be > 0")
        if self.max_text_chars < 1 or self.max_comment_chars < 1:
            raise CampaignError("max_text_chars and max_comment_chars must be >= 1")
        check_design(self.side_block_sizes, self.side_max_imbalance)
        if self.max_items_in_progress < 1:
            raise CampaignError(f"max_items_in_progress must be >= 1, got {self.max_items_in_progress}")
        names = [c.name for c in self.criteria]
        if len(names) != len(set(names)) or any(not re.fullmatch(r"[A-Za-z0-9_]+", n) for n in names):
            raise CampaignError(f"criterion names must be unique words (letters, digits, _): {names}")
        for c in self.criteria:
            if c.min_score >= c.max_score:
                raise CampaignError(f"criterion '{c.name}': min_score must be below max_score")
        allowed = {self.system_a, self.system_b, *SPECIAL_WINNERS}
        for item_id, winner in self.gold_items.items():
            if winner not in allowed:
                raise CampaignError(
                    f"gold item {item_id}: winner '{winner}' must be one of {sorted(allowed)}"
                )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CampaignConfig:
        data = json.loads(text)
        data["criteria"] = [Criterion(**c) for c in data.get("criteria", [])]
        return cls(**data)


@dataclass
class Campaign:
    """A stored campaign: its id plus the config it was created with."""

    campaign_id: str
    config: CampaignConfig
    status: str
    n_items: int
    texts_truncated: int = 0  # texts the import cut to config.max_text_chars
    # the public name of the side and order design (annotations.design); the secret stays in the store
    design_id: str = ""

    @property
    def criteria(self) -> list[Criterion]:
        return self.config.criteria


# ---------------------------------------------------------------------------------------------------- reading


def run_folder_options(run_dir: str | Path) -> pd.DataFrame:
    """The (system, decoding, seed) output files of a run folder with their item counts, for the page's choices."""
    out_dir = Path(run_dir) / "outputs"
    if not out_dir.is_dir():
        raise CampaignError(
            f"{out_dir} not found: a run folder needs outputs/ (run `python -m ft_core generate`)"
        )
    rows = []
    for file in sorted(out_dir.glob("*.jsonl")):
        match = _OUTPUT_FILE.match(file.name)
        if match is None:
            continue
        with file.open("rb") as lines:
            n = sum(1 for line in lines if line.strip())
        rows.append(
            {
                "system": match["system"],
                "decoding": match["decoding"],
                "seed": int(match["seed"]),
                "n_items": n,
                "file": str(file),
            }
        )
    return pd.DataFrame(rows, columns=["system", "decoding", "seed", "n_items", "file"])


def table_file_systems(path: str | Path) -> list[str]:
    """The systems named in a CSV/JSONL of outputs (its `system` column), for the page's choices."""
    return source_files.table_systems(source_files.read_table_file(path))


def run_folders(runs_dir: str | Path) -> list[Path]:
    """Run folders under `runs_dir` that hold generated outputs, newest first."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / "outputs").is_dir() and any((p / "outputs").glob("*.jsonl"))]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a run folder's outputs file; messages name it as outputs/<file>."""
    name = f"{path.parent.name}/{path.name}"
    return source_files.parse_jsonl(name, source_files.decode_text(name, path.read_bytes()))


def _pick_files(options: pd.DataFrame, config: CampaignConfig) -> dict[str, pd.Series]:
    picked = {}
    for system in (config.system_a, config.system_b):
        rows = options[options.system == system]
        if config.decoding is not None:
            rows = rows[rows.decoding == config.decoding]
        if config.seed is not None:
            rows = rows[rows.seed == config.seed]
        if rows.empty:
            have = ", ".join(f"{r.system}/{r.decoding}/seed{r.seed}" for r in options.itertuples()) or "none"
            raise CampaignError(
                f"no outputs for system '{system}' (decoding={config.decoding}, seed={config.seed}) in "
                f"{config.run_dir}; available: {have}"
            )
        picked[system] = rows.sort_values(["decoding", "seed"]).iloc[0]
    return picked


def _load_run_folder(config: CampaignConfig) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict[str, Any]]]:
    """Outputs (item_id, system, decoding, seed, output, prompt, source, references) and long metrics."""
    run_dir = Path(config.run_dir or "")
    picked = _pick_files(run_folder_options(run_dir), config)
    frames, origin = [], {}
    for system, choice in picked.items():
        rows = pd.DataFrame(_read_jsonl(Path(choice.file)))
        missing = {"item_id", "output"} - set(rows.columns)
        if missing:
            raise CampaignError(f"{choice.file} lacks column(s) {sorted(missing)}; see contracts.md")
        rows["system"] = system
        rows["decoding"] = choice.decoding
        rows["seed"] = int(choice.seed)
        frames.append(rows)
        origin[system] = {
            "decoding": str(choice.decoding),
            "seed": int(choice.seed),
            "origin": str(choice.file),
        }
    outputs = pd.concat(frames, ignore_index=True)
    metrics = pd.DataFrame(columns=["item_id", "system", "metric", "value"])
    scores_file = run_dir / "scores" / "per_example.parquet"
    if scores_file.exists():
        try:
            scores = pd.read_parquet(scores_file)
        except (OSError, ValueError, pa.ArrowException) as e:
            raise CampaignError(
                f"scores/per_example.parquet cannot be read ({source_files.short(e, 120)}); score the run again"
            ) from None
        missing = {"item_id", "system"} - set(scores.columns)
        if missing:
            raise CampaignError(f"scores/per_example.parquet lacks column(s) {sorted(missing)}")
        scores["item_id"] = scores["item_id"].astype(str)
        parts = []
        for system, meta in origin.items():
            sel = scores[scores.system == system]
            if "decoding" in sel:
                sel = sel[sel.decoding.astype(str) == meta["decoding"]]
            if "seed" in sel:
                sel = sel[sel.seed.astype(int) == meta["seed"]]
            parts.append(sel)
        metrics = _metrics_long(pd.concat(parts, ignore_index=True))
    return outputs, metrics, origin


def _metrics_long(wide: pd.DataFrame) -> pd.DataFrame:
    columns = [
        c
        for c in wide.columns
        if c not in NOT_METRICS
        and pd.api.types.is_numeric_dtype(wide[c])
        and not pd.api.types.is_bool_dtype(wide[c])
    ]
    if wide.empty or not columns:
        return pd.DataFrame(columns=["item_id", "system", "metric", "value"])
    long = wide[["item_id", "system", *columns]].melt(
        id_vars=["item_id", "system"], var_name="metric", value_name="value"
    )
    long["item_id"] = long["item_id"].astype(str)
    long["value"] = long["value"].astype(float)
    return long.drop_duplicates(["item_id", "system", "metric"])


def _load_table_file(config: CampaignConfig) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict[str, Any]]]:
    path = Path(config.source_file or "")
    table = source_files.read_table_file(path)
    for system in (config.system_a, config.system_b):
        if not (table.system == system).any():
            raise CampaignError(
                f"{path.name} has no rows for system '{source_files.short(system)}'; systems are: "
                f"{source_files.listing(source_files.table_systems(table))}"
            )
    if "references" in table and len(table):
        table["references"] = table["references"].map(_as_reference_list)
    elif "reference" in table:
        table["references"] = table["reference"].map(_as_reference_list)
    table = table[table.system.isin([config.system_a, config.system_b])].copy()
    metrics = _metrics_long(table)
    origin = {
        s: {"decoding": None, "seed": None, "origin": str(path)} for s in (config.system_a, config.system_b)
    }
    return table, metrics, origin


def _as_reference_list(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value]
    text = str(value)
    if text.startswith("["):
        try:
            return [str(v) for v in json.loads(text)]
        except json.JSONDecodeError:
            pass
    return [text]


# -------------------------------------------------------------------------------------------------- selecting


def metric_disagreement(deltas: pd.DataFrame) -> pd.Series:
    """How much the automatic metrics disagree about one item; larger = more critical to look at by hand.

    `deltas` has one row per item and one column per metric holding metric(system_b) - metric(system_a).
    Each column is standardized (divided by its standard deviation across items, so metrics on different scales
    weigh the same); the score is the spread max - min of the standardized deltas: high when one metric says
    B is much better and another says it is worse. With a single metric it is |standardized delta|: the
    items where the two systems differ most. This follows the "metric disagreement" sampling used to pick
    items for human checks in meta-evaluation studies (e.g. Deutsch et al., 2022, "Re-Examining System-Level
    Correlations of Automatic Summarization Evaluation Metrics").
    """
    scale = deltas.std(ddof=0).replace(0.0, np.nan)
    standardized = (deltas / scale).fillna(0.0)
    if standardized.shape[1] == 1:
        return standardized.iloc[:, 0].abs()
    return standardized.max(axis=1) - standardized.min(axis=1)


def _select_items(item_ids: list[str], metrics: pd.DataFrame, config: CampaignConfig) -> dict[str, str]:
    """item_id -> selection reason, in the order chosen."""
    if config.selection == "all":
        return {i: "all" for i in item_ids}
    n = min(int(config.n_items or len(item_ids)), len(item_ids))
    if config.selection == "random":
        rng = np.random.default_rng(config.sample_seed)
        return {item_ids[i]: "random" for i in sorted(rng.choice(len(item_ids), size=n, replace=False))}
    if metrics.empty:
        raise CampaignError(
            "critical selection needs automatic metrics (scores/per_example.parquet or metric columns)"
        )
    present = set(metrics.metric)
    wanted = config.critical_metrics or [m for m in QUALITY_METRICS if m in present] or sorted(present)
    unknown = [m for m in wanted if m not in present]
    if unknown:
        raise CampaignError(f"metric(s) {unknown} not in the scores; available: {', '.join(sorted(present))}")
    wide = metrics[metrics.metric.isin(wanted)].pivot_table(
        index=["item_id", "metric"], columns="system", values="value"
    )
    if config.system_a not in wide or config.system_b not in wide:
        raise CampaignError("critical selection needs metrics for both systems")
    deltas = (
        (wide[config.system_b] - wide[config.system_a]).unstack("metric").reindex(item_ids).dropna(how="all")
    )
    score = metric_disagreement(deltas).sort_values(ascending=False, kind="stable").head(n)
    return {str(i): f"critical: disagreement {v:.3f}" for i, v in score.items()}


# ---------------------------------------------------------------------------------------------------- storing


def create_campaign(
    con: duckdb.DuckDBPyConnection,
    config: CampaignConfig,
    created_by: str | None = None,
    *,
    design_secret: str | None = None,
) -> str:
    """Validate `config`, read its outputs and metrics, choose the items, store everything; returns campaign_id.

    `design_secret` (64 hex digits) fixes the secret of the side and order design, to rerun a design exactly
    (tests, simulations); by default every campaign gets a fresh random one, which is what keeps it blind.
    """
    config.validate()
    if design_secret is not None and not re.fullmatch(r"[0-9a-f]{64}", design_secret):
        raise CampaignError("design_secret must be 64 lowercase hex digits (256 bits)")
    outputs, metrics, origin = _load_run_folder(config) if config.run_dir else _load_table_file(config)
    outputs = outputs.copy()
    outputs["item_id"] = outputs["item_id"].astype(str)
    dup = outputs.duplicated(["item_id", "system"])
    if dup.any():
        first = outputs[dup].iloc[0]
        raise CampaignError(f"item '{first.item_id}' has two outputs for system '{first.system}'")
    by_system = {
        s: outputs[outputs.system == s].set_index("item_id") for s in (config.system_a, config.system_b)
    }
    a_items = list(by_system[config.system_a].index)
    common = [i for i in a_items if i in by_system[config.system_b].index]
    if not common:
        raise CampaignError(f"no item has outputs from both '{config.system_a}' and '{config.system_b}'")

    gold = dict(config.gold_items)
    if "gold_winner" in outputs:
        for row in outputs[outputs.system == config.system_a].itertuples():
            value = getattr(row, "gold_winner", None)
            if isinstance(value, str) and value:
                gold.setdefault(str(row.item_id), value)
        config = dataclasses.replace(config, gold_items=gold)
        config.validate()
    unknown_gold = [i for i in gold if i not in common]
    if unknown_gold:
        raise CampaignError(f"gold item(s) {unknown_gold[:5]} have no outputs from both systems")
    regular = [i for i in common if i not in gold]
    selected = _select_items(regular, metrics, config)
    selected.update({i: "gold" for i in gold})

    ids = list(selected)
    first = by_system[config.system_a].loc[ids]
    items_df = pd.DataFrame(
        {
            "item_id": ids,
            "position": range(len(ids)),
            "prompt": [_text_or_none(v) for v in _column(first, "prompt")],
            "source": [_text_or_none(v) for v in _column(first, "source")],
            "reference_texts": [_as_reference_list(v) for v in _column(first, "references")],
            "metadata": _metadata(first),
            "is_gold": [i in gold for i in ids],
            "gold_winner": [gold.get(i) for i in ids],
            "selection_reason": list(selected.values()),
        }
    )
    keep = set(selected)
    outputs_df = pd.concat(
        [
            pd.DataFrame(
                {
                    "item_id": ids,
                    "system": system,
                    "decoding": origin[system]["decoding"],
                    "seed": origin[system]["seed"],
                    "output": frame.loc[ids, "output"].astype(str).tolist(),
                }
            )
            for system, frame in by_system.items()
        ],
        ignore_index=True,
    )
    texts_truncated = _limit_texts(items_df, outputs_df, config)
    outputs_df["n_words"] = [len(text.split()) for text in outputs_df["output"]]
    metrics_df = metrics[metrics.item_id.isin(keep) & metrics.system.isin(list(by_system))].dropna(
        subset=["value"]
    )

    campaign_id = db.new_id("c-")[:14]
    now = db.utcnow()
    design = Design(design_secret or new_secret(), tuple(config.side_block_sizes), config.side_max_imbalance)

    def store(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute(
            "INSERT INTO campaigns (campaign_id, name, system_a, system_b, k, run_dir, source_file, selection, "
            "show_reference, instructions, lease_minutes, gold_rate, repeat_rate, items_per_annotator, config, "
            "status, created_at, created_by, design_secret, design_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)",
            [
                campaign_id,
                config.name,
                config.system_a,
                config.system_b,
                config.k,
                config.run_dir,
                config.source_file,
                config.selection,
                config.show_reference,
                config.instructions,
                config.lease_minutes,
                config.gold_rate,
                config.repeat_rate,
                config.items_per_annotator,
                config.to_json(),
                now,
                created_by,
                design.secret,
                design.design_id,
            ],
        )
        cur.execute(
            "UPDATE campaigns SET max_text_chars = ?, texts_truncated = ? WHERE campaign_id = ?",
            [config.max_text_chars, texts_truncated, campaign_id],
        )
        for position, c in enumerate(config.criteria):
            cur.execute(
                "INSERT INTO criteria VALUES (?, ?, ?, ?, ?, ?)",
                [campaign_id, position, c.name, c.description, c.min_score, c.max_score],
            )
        for system, meta in origin.items():
            cur.execute(
                "INSERT INTO systems VALUES (?, ?, ?, ?, ?)",
                [campaign_id, system, meta["decoding"], meta["seed"], meta["origin"]],
            )
        cur.register("new_items", items_df)
        cur.execute(
            "INSERT INTO items SELECT ?, item_id, position, prompt, source, reference_texts::VARCHAR[], metadata, "
            "is_gold, gold_winner, selection_reason FROM new_items",
            [campaign_id],
        )
        cur.register("new_outputs", outputs_df)
        cur.execute(
            "INSERT INTO outputs SELECT ?, item_id, system, decoding, seed, output, n_words FROM new_outputs",
            [campaign_id],
        )
        if len(metrics_df):
            cur.register("new_metrics", metrics_df[["item_id", "system", "metric", "value"]])
            cur.execute(
                "INSERT INTO metrics SELECT ?, item_id, system, metric, value FROM new_metrics", [campaign_id]
            )

    db.write(con, store)
    return campaign_id


_ITEM_FIELDS = {"output", "system", "prompt", "source", "references", "reference", "gold_winner"}


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    """The values of a column, or None for every row where the file has no such column."""
    return frame[name].tolist() if name in frame else [None] * len(frame)


def _metadata(rows: pd.DataFrame) -> list[str]:
    """Each item's other columns (beyond the texts and the system) as JSON."""
    names = [c for c in rows.columns if c not in _ITEM_FIELDS]
    return [
        json.dumps({name: _jsonable(value) for name, value in zip(names, values)})
        for values in rows[names].itertuples(index=False, name=None)
    ]


def _limit_texts(items: pd.DataFrame, outputs: pd.DataFrame, config: CampaignConfig) -> int:
    """Refuse texts longer than `config.max_text_chars` with a message naming the first ones, or cut them when
    `config.truncate_long_texts`; returns how many texts were cut. Works in place on the frames to be stored."""
    limit = config.max_text_chars
    position = dict(zip(items["item_id"], items["position"]))
    long: list[tuple[int, int, str, str, int]] = []  # (item position, field order, item_id, field, length)
    for order, column in enumerate(("prompt", "source")):
        for item_id, text in zip(items["item_id"], items[column]):
            if isinstance(text, str) and len(text) > limit:
                long.append((position[item_id], order, item_id, column, len(text)))
    for item_id, references in zip(items["item_id"], items["reference_texts"]):
        for number, text in enumerate(references, 1):
            if len(text) > limit:
                field_name = "reference" if len(references) == 1 else f"reference {number}"
                long.append((position[item_id], 2, item_id, field_name, len(text)))
    for item_id, system, text in zip(outputs["item_id"], outputs["system"], outputs["output"]):
        if len(text) > limit:
            field_name = f"output of system '{source_files.short(system, 40)}'"
            long.append((position[item_id], 3, item_id, field_name, len(text)))
    if not long:
        return 0
    if not config.truncate_long_texts:
        long.sort()
        first = "; ".join(
            f"item '{source_files.short(item_id, 40)}' {field_name}: {length:,}"
            for _, _, item_id, field_name, length in long[:3]
        )
        raise CampaignError(
            f"{len(long):,} text(s) are longer than the limit of {limit:,} characters ({first}"
            f"{'; …' if len(long) > 3 else ''}); shorten them, raise max_text_chars, or let the import cut them "
            "(truncate_long_texts)"
        )
    for column in ("prompt", "source"):
        items[column] = [t[:limit] if isinstance(t, str) else t for t in items[column]]
    items["reference_texts"] = [[t[:limit] for t in refs] for refs in items["reference_texts"]]
    outputs["output"] = [t[:limit] for t in outputs["output"]]
    return len(long)


def _text_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return "\n".join(map(str, value))
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value if isinstance(value, (str, int, float, bool, list, dict, type(None))) else str(value)


def get_campaign(con: duckdb.DuckDBPyConnection, campaign_id: str) -> Campaign:
    """The stored campaign; CampaignError if there is none with this id."""
    row = (
        db.read(con)
        .execute(
            "SELECT config, status, (SELECT count(*) FROM items i WHERE i.campaign_id = c.campaign_id), "
            "texts_truncated, design_id FROM campaigns c WHERE campaign_id = ?",
            [campaign_id],
        )
        .fetchone()
    )
    if row is None:
        raise CampaignError(f"no campaign with id '{campaign_id}'")
    return Campaign(
        campaign_id, CampaignConfig.from_json(row[0]), row[1], int(row[2]), int(row[3] or 0), row[4] or ""
    )


_CONFIGS: dict[str, CampaignConfig] = {}


def campaign_config(con: duckdb.DuckDBPyConnection, campaign_id: str) -> CampaignConfig:
    """The config of a campaign, cached in the process (a campaign's config never changes once created)."""
    config = _CONFIGS.get(campaign_id)
    if config is None:
        row = (
            db.read(con)
            .execute("SELECT config FROM campaigns WHERE campaign_id = ?", [campaign_id])
            .fetchone()
        )
        if row is None:
            raise CampaignError(f"no campaign with id '{campaign_id}'")
        config = _CONFIGS[campaign_id] = CampaignConfig.from_json(row[0])
    return config


_DESIGNS: dict[str, Design] = {}


def campaign_design(con: duckdb.DuckDBPyConnection, campaign_id: str) -> Design:
    """The randomization design of a campaign, secret included: for the server's own use (assignment), never
    for a page. Cached in the process like the config (neither changes once the campaign exists)."""
    design = _DESIGNS.get(campaign_id)
    if design is None:
        config = campaign_config(con, campaign_id)
        (secret,) = (
            db.read(con)
            .execute("SELECT design_secret FROM campaigns WHERE campaign_id = ?", [campaign_id])
            .fetchone()
        )
        design = _DESIGNS[campaign_id] = Design(
            secret, tuple(config.side_block_sizes), config.side_max_imbalance
        )
    return design


def design_record(con: duckdb.DuckDBPyConnection, campaign_id: str) -> dict[str, Any]:
    """The public description of a campaign's design, for the export and the researcher: its id (a commitment
    to the secret), the side blocks and the order rule; never the secret itself."""
    config = campaign_config(con, campaign_id)
    try:
        (public_id,) = (
            db.read(con)
            .execute("SELECT design_id FROM campaigns WHERE campaign_id = ?", [campaign_id])
            .fetchone()
        )
    except duckdb.BinderException:  # a store opened read-only that predates migration 002
        public_id = None
    return {
        "design_id": public_id,
        "sides": "random permuted blocks per annotator (annotations.design), stored per assignment as shown_left",
        "side_block_sizes": list(config.side_block_sizes),
        "side_max_imbalance": config.side_max_imbalance,
        "item_order": "per annotator: md5(HMAC(secret, annotator) || item_id)",
        "max_items_in_progress": config.max_items_in_progress,
    }


def set_status(con: duckdb.DuckDBPyConnection, campaign_id: str, status: str) -> None:
    """Open ('active') or close ('closed') a campaign to annotators."""
    if status not in ("active", "closed"):
        raise CampaignError(f"status must be 'active' or 'closed', got '{status}'")
    db.write(
        con,
        lambda cur: cur.execute(
            "UPDATE campaigns SET status = ? WHERE campaign_id = ?", [status, campaign_id]
        ),
    )


# ----------------------------------------------------------------------------------------------------- frames


def list_campaigns(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """campaign_id, name, system_a, system_b, created_at, k, n_items, run_dir (+ status, source_file, n_judgments,
    texts_truncated and the max_text_chars they were cut to, design_id))."""
    return (
        db.read(con)
        .execute(
            """
        SELECT c.campaign_id, c.name, c.system_a, c.system_b, c.created_at, c.k,
               (SELECT count(*) FROM items i WHERE i.campaign_id = c.campaign_id AND NOT i.is_gold) AS n_items,
               c.run_dir, c.status, c.source_file,
               (SELECT count(*) FROM assignments a WHERE a.campaign_id = c.campaign_id AND a.status = 'submitted')
                   AS n_judgments,
               coalesce(c.texts_truncated, 0) AS texts_truncated, c.max_text_chars, c.design_id
        FROM campaigns c ORDER BY c.created_at DESC, c.campaign_id
        """
        )
        .df()
    )


def items_frame(
    con: duckdb.DuckDBPyConnection, campaign_id: str, item_ids: list[str] | None = None
) -> pd.DataFrame:
    """item_id, source, references (list[str]), is_gold, metadata (dict) (+ prompt, gold_winner, selection_reason);
    only the items `item_ids` names when given (the results page's example browser reads one item at a time)."""
    only = "" if item_ids is None else " AND list_contains(?, item_id)"
    frame = (
        db.read(con)
        .execute(
            'SELECT item_id, source, reference_texts AS "references", is_gold, metadata, prompt, gold_winner, '
            f"selection_reason FROM items WHERE campaign_id = ?{only} ORDER BY position",
            [campaign_id] if item_ids is None else [campaign_id, list(item_ids)],
        )
        .df()
    )
    frame["references"] = frame["references"].map(lambda r: [] if r is None else list(r))
    frame["metadata"] = frame["metadata"].map(lambda m: json.loads(m) if m else {})
    frame["is_gold"] = frame["is_gold"].astype(bool)
    return frame


def outputs_frame(
    con: duckdb.DuckDBPyConnection, campaign_id: str, item_ids: list[str] | None = None
) -> pd.DataFrame:
    """item_id, system, output (+ decoding, seed, n_words); only the items `item_ids` names when given."""
    only = "" if item_ids is None else " AND list_contains(?, o.item_id)"
    return (
        db.read(con)
        .execute(
            "SELECT o.item_id, o.system, o.output, o.decoding, o.seed, o.n_words FROM outputs o "
            f"JOIN items i USING (campaign_id, item_id) WHERE o.campaign_id = ?{only} ORDER BY i.position, o.system",
            [campaign_id] if item_ids is None else [campaign_id, list(item_ids)],
        )
        .df()
    )


def read_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> pd.DataFrame:
    """The rows of a read query as a DataFrame with exactly the columns and dtypes `.df()` gives, fetched through
    Arrow: in pandas 3 that is about twice as fast for the string columns of the analysis frames (issue 5).
    `.df()` turns an integer or boolean column holding nulls into a nullable Int/boolean column and a text column
    of nulls only into an object column of None; the Arrow path is brought to the same dtypes."""
    table = db.read(con).sql(sql, params=params).to_arrow_table()
    if table.num_rows == 0:  # `.df()` types empty text columns as object; cheap to ask it directly
        return db.read(con).execute(sql, params).df()
    frame = table.to_pandas()
    for name, column in zip(table.column_names, table.columns):
        nulls, kind = column.null_count, column.type
        if not nulls:
            continue
        if pa.types.is_integer(kind):
            frame[name] = frame[name].astype(
                f"{'U' if pa.types.is_unsigned_integer(kind) else ''}Int{kind.bit_width}"
            )
        elif pa.types.is_boolean(kind):
            frame[name] = frame[name].astype("boolean")
        elif (pa.types.is_string(kind) or pa.types.is_large_string(kind)) and nulls == len(column):
            frame[name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame


def metrics_frame(
    con: duckdb.DuckDBPyConnection, campaign_id: str, item_ids: list[str] | None = None
) -> pd.DataFrame:
    """item_id, system, metric, value: the automatic metrics of the campaign's outputs (of `item_ids` if given)."""
    only = "" if item_ids is None else " AND list_contains(?, item_id)"
    return read_frame(
        con,
        f"SELECT item_id, system, metric, value FROM metrics WHERE campaign_id = ?{only} ORDER BY item_id, system, metric",
        [campaign_id] if item_ids is None else [campaign_id, item_ids],
    )
