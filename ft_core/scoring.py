"""Score a run's outputs and compare base with fine-tuned: `python -m ft_core score --run-dir runs/x`.

Reads `outputs/<system>__<decoding>__seed<seed>.jsonl`, scores every output once (`ft_core.metrics.score`, one
BERTScore model load for all files) and writes, in `scores/`:

- `per_example.parquet`: item_id, system, decoding, seed, one column per metric, output_tokens, hit_max_new_tokens.
- `comparison.json` / `comparison.csv`: per decoding setting and metric, the corpus figure of each system, the
  delta (finetuned - base), its 95% paired-bootstrap interval and p-value over items (Koehn, 2004; see
  `ft_core.significance`), the share of items where the fine-tuned output scores higher, and the settings
  signature. With several sampling seeds, each item's scores are averaged over seeds before resampling (BLEU:
  its statistics are pooled), and the per-seed corpus figures are summarised as mean ± sd.
- `corpus.csv`: every corpus figure per system, decoding and seed (what the seed summary is made from).
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ft_core import metrics as metric_lib
from ft_core.config import _help, save_config
from ft_core.errors import ConfigError, DataError, RunFolderError
from ft_core.generate import parse_args, parse_output_name
from ft_core.significance import format_mean_sd, paired_bootstrap, seed_summary, share_higher

KEYS = ["item_id", "system", "decoding", "seed"]
# Comparison rows in this order; corpus BLEU comes from pooled statistics, the rest are means of per-item values.
COMPARED = [
    "bleu",
    "sacrebleu",
    "rouge1",
    "rouge2",
    "rougeL",
    "rougeLsum",
    "bertscore_precision",
    "bertscore_recall",
    "bertscore_f1",
    "output_words",
    "output_tokens",
    "hit_max_new_tokens",
]
LENGTH_SIGNATURES = {
    "output_words": "whitespace words of the output",
    "output_tokens": "new tokens generated (model tokenizer)",
    "hit_max_new_tokens": "share of outputs stopped by max_new_tokens",
}


@dataclass
class ScoreConfig:
    """A scoring job: which outputs, which metrics and options, how the comparison is resampled."""

    run_dir: str | None = _help(None, "run folder with outputs/; scores go to its scores/")
    outputs_dir: str | None = _help(None, "folder of outputs/*.jsonl files; default: <run_dir>/outputs")
    scores_dir: str | None = _help(None, "folder for the score files; default: <run_dir>/scores")
    metrics: list[str] = _help(
        ["bleu", "rouge", "bertscore"], "bleu, rouge, bertscore, and/or evaluate:<local path or hub id>"
    )
    decodings: list[str] = _help([], "score only these decoding names (as in the file names); empty = all")
    system_a: str = _help("base", "the reference system of the comparison")
    system_b: str = _help("finetuned", "the system compared with it (delta = b - a)")
    use_stemmer: bool = _help(True, "Porter stemming before ROUGE matching")
    multi_ref: str = _help(
        "max", "several references combine by 'max' or 'mean' (ROUGE)", choices=("max", "mean")
    )
    split_sentences: bool = _help(True, "one sentence per line before rougeLsum")
    bertscore_model: str = _help(
        metric_lib.EMBEDDED_ENCODER, "BERTScore encoder: embedded name, folder or hub id"
    )
    bertscore_num_layers: int | None = _help(
        None, "encoder layer for BERTScore; default: known for the model"
    )
    bertscore_batch_size: int = _help(64, "BERTScore batch size")
    device: str = _help("auto", "'auto', 'cpu' or 'cuda' for BERTScore")
    n_jobs: int = _help(0, "processes for ROUGE on 2,000+ outputs; 0 = all cores")
    n_boot: int = _help(1000, "bootstrap resamples")
    confidence: float = _help(0.95, "confidence level of the intervals")
    seed: int = _help(0, "seed of the bootstrap")

    def validate(self) -> None:
        from ft_core.config import _check_choices

        _check_choices(self)
        if not self.run_dir and not (self.outputs_dir and self.scores_dir):
            raise ConfigError("give run_dir, or both outputs_dir and scores_dir")
        if self.n_boot < 100:
            raise ConfigError(f"n_boot must be at least 100 for a usable interval, got {self.n_boot}")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"confidence must be in (0, 1), got {self.confidence}")
        if self.system_a == self.system_b:
            raise ConfigError(f"system_a and system_b are both {self.system_a!r}; compare two systems")
        if not self.metrics:
            raise ConfigError(f"metrics is empty; choose from {', '.join(metric_lib.NEEDS_REFERENCES)}")

    def metric_options(self) -> dict[str, Any]:
        return {
            "use_stemmer": self.use_stemmer,
            "multi_ref": self.multi_ref,
            "split_sentences": self.split_sentences,
            "bertscore_model": self.bertscore_model,
            "bertscore_num_layers": self.bertscore_num_layers,
            "bertscore_batch_size": self.bertscore_batch_size,
            "device": None if self.device == "auto" else self.device,
            "n_jobs": self.n_jobs,
        }


# --------------------------------------------------------------------------------------------- reading
def read_outputs(outputs_dir: Path, decodings: list[str] | None = None) -> pd.DataFrame:
    """All outputs files as one frame (item_id, system, decoding, seed, output, references, new_tokens, ...)."""
    outputs_dir = Path(outputs_dir)
    if not outputs_dir.is_dir():
        raise RunFolderError(f"{outputs_dir} not found: run `python -m ft_core generate` first")
    files = sorted(p for p in outputs_dir.glob("*.jsonl") if not p.name.startswith("."))
    frames = []
    for path in files:
        try:
            system, decoding, seed = parse_output_name(path)
        except ValueError:
            raise DataError(f"{path.name} is not named <system>__<decoding>__seed<seed>.jsonl") from None
        if decodings and decoding not in decodings:
            continue
        try:
            rows = [json.loads(line) for line in path.read_bytes().decode().splitlines() if line.strip()]
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"{path} is not valid UTF-8 JSONL ({e}); regenerate it") from None
        if not rows:
            raise DataError(f"{path} holds no outputs")
        frame = pd.DataFrame(rows)
        missing = {"item_id", "output"} - set(frame.columns)
        if missing:
            raise DataError(f"{path.name} lacks {', '.join(sorted(missing))}; see notes/contracts.md")
        if frame["item_id"].duplicated().any():
            raise DataError(
                f"{path.name} repeats item ids, e.g. {frame.loc[frame.item_id.duplicated(), 'item_id'].iloc[0]}"
            )
        frame["item_id"] = frame["item_id"].astype(str)
        frame["system"], frame["decoding"], frame["seed"] = system, decoding, seed
        frame["output"] = frame["output"].fillna("").astype(str)
        if "references" not in frame:
            frame["references"] = [[] for _ in range(len(frame))]
        frame["references"] = [
            list(r) if isinstance(r, (list, tuple, np.ndarray)) else [] for r in frame["references"]
        ]
        frames.append(frame)
    if not frames:
        which = f" for decodings {', '.join(decodings)}" if decodings else ""
        raise RunFolderError(
            f"no outputs files in {outputs_dir}{which}: run `python -m ft_core generate` first"
        )
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------- scoring
def score_outputs(outputs: pd.DataFrame, cfg: ScoreConfig) -> pd.DataFrame:
    """Per-example scores of every output, keyed by item_id, system, decoding, seed."""
    references = outputs["references"].tolist()
    no_refs = not any(len(r) for r in references)
    scored = metric_lib.score(
        outputs["output"].tolist(), None if no_refs else references, cfg.metrics, **cfg.metric_options()
    )
    frame = pd.concat([outputs[KEYS].reset_index(drop=True), scored], axis=1)
    if "new_tokens" in outputs:
        frame["output_tokens"] = outputs["new_tokens"].astype(float).to_numpy()
    if "hit_max_new_tokens" in outputs:
        frame["hit_max_new_tokens"] = outputs["hit_max_new_tokens"].astype(bool).to_numpy()
    frame.attrs["signatures"] = scored.attrs.get("signatures", {})
    return frame


def _corpus_values(
    per_example: pd.DataFrame, bleu_stats: np.ndarray | None, columns: list[str]
) -> dict[str, float]:
    values = {}
    for column in columns:
        if column == "bleu" and bleu_stats is not None:
            values["bleu"] = metric_lib.bleu_from_statistics(np.nansum(bleu_stats, axis=0))
        elif column == "sacrebleu" and bleu_stats is not None:
            values["sacrebleu"] = metric_lib.sacrebleu_from_statistics(np.nansum(bleu_stats, axis=0))
        else:
            values[column] = float(np.nanmean(per_example[column].astype(float)))
    return values


def _mean_over_seeds(corpus_statistic, width: int):
    """Statistic of column sums laid out as one block of `width` per seed: the mean of each block's figure."""

    def statistic(sums: np.ndarray) -> float:
        return float(np.mean([corpus_statistic(sums[i : i + width]) for i in range(0, len(sums), width)]))

    return statistic


def compare(
    per_example: pd.DataFrame,
    outputs: pd.DataFrame,
    cfg: ScoreConfig,
    signatures: dict[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(comparison rows, corpus figures per system/decoding/seed) from per-example scores."""
    columns = [c for c in COMPARED if c in per_example.columns]
    uses_bleu = "bleu" in columns
    stats = None
    if uses_bleu:
        stats = metric_lib.bleu_statistics(outputs["output"].tolist(), outputs["references"].tolist())
    corpus_rows = []
    for (system, decoding, seed), group in per_example.groupby(["system", "decoding", "seed"], sort=True):
        values = _corpus_values(group, stats[group.index] if uses_bleu else None, columns)
        corpus_rows += [
            {"system": system, "decoding": decoding, "seed": seed, "metric": m, "value": v}
            for m, v in values.items()
        ]
    corpus = pd.DataFrame(corpus_rows)
    summary = seed_summary(corpus, by=("decoding", "system", "metric")).set_index(
        ["decoding", "system", "metric"]
    )
    a, b = cfg.system_a, cfg.system_b
    rows = []
    for decoding in sorted(per_example["decoding"].unique()):
        in_decoding = per_example[per_example.decoding == decoding]
        systems = set(in_decoding.system)
        if not {a, b} <= systems:
            warnings.warn(
                f"decoding {decoding}: no {' or '.join(s for s in (a, b) if s not in systems)} outputs; "
                "corpus figures only, no comparison",
                stacklevel=2,
            )
        # Item-level values averaged over seeds; items present for both systems, in one order.
        by_system = {s: in_decoding[in_decoding.system == s] for s in (a, b) if s in systems}
        items = sorted(set.intersection(*(set(g.item_id) for g in by_system.values()))) if by_system else []
        if len(by_system) == 2 and any(g.item_id.nunique() != len(items) for g in by_system.values()):
            counts = ", ".join(f"{s} has {g.item_id.nunique()}" for s, g in by_system.items())
            warnings.warn(
                f"decoding {decoding}: the systems cover different items ({counts}); "
                f"comparing the {len(items)} items both have",
                stacklevel=2,
            )
        for metric in columns:
            row: dict[str, Any] = {"decoding": decoding, "metric": metric}
            for label, system in (("base", a), ("finetuned", b)):
                key = (decoding, system, metric)
                row[f"{label}_mean_sd"] = (
                    format_mean_sd(summary.loc[key, "mean"], summary.loc[key, "sd"])
                    if key in summary.index
                    else ""
                )
                row[f"{label}_n_seeds"] = int(summary.loc[key, "n_seeds"]) if key in summary.index else 0
                row[f"{label}_sd"] = float(summary.loc[key, "sd"]) if key in summary.index else np.nan
                row[label] = float(summary.loc[key, "mean"]) if key in summary.index else np.nan
            if len(by_system) == 2 and items:
                per_item = {}
                for system, group in by_system.items():
                    per_item[system] = (
                        group.groupby("item_id")[metric].mean().astype(float).reindex(items).to_numpy()
                    )
                if metric in ("bleu", "sacrebleu"):
                    # Each seed's statistics side by side (items x seeds*k): a resample keeps items across
                    # seeds, and the statistic is the mean over seeds of each seed's corpus BLEU, as reported.
                    side_by_side = {}
                    for system, group in by_system.items():
                        blocks = [
                            pd.DataFrame(stats[g.index], index=g.item_id.values).reindex(items).to_numpy()
                            for _, g in group.groupby("seed")
                        ]
                        side_by_side[system] = np.hstack(blocks)
                    corpus_bleu = (
                        metric_lib.bleu_from_statistics
                        if metric == "bleu"
                        else metric_lib.sacrebleu_from_statistics
                    )
                    result = paired_bootstrap(
                        side_by_side[a],
                        side_by_side[b],
                        _mean_over_seeds(corpus_bleu, stats.shape[1]),
                        cfg.n_boot,
                        cfg.confidence,
                        cfg.seed,
                    )
                else:
                    result = paired_bootstrap(
                        per_item[a], per_item[b], None, cfg.n_boot, cfg.confidence, cfg.seed
                    )
                row.update(
                    base=result.base,
                    finetuned=result.finetuned,
                    delta=result.delta,
                    ci_low=result.ci_low,
                    ci_high=result.ci_high,
                    p_value=result.p_value,
                    n=result.n,
                )
                row.update(share_higher(per_item[a], per_item[b]))
            else:
                row.update(delta=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan, n=len(items))
                row.update(share_finetuned_higher=np.nan, share_finetuned_lower=np.nan, share_tied=np.nan)
            row["signature"] = signatures.get(metric, LENGTH_SIGNATURES.get(metric, ""))
            row["system_a"], row["system_b"] = a, b
            rows.append(row)
    order = [
        "decoding", "metric", "base", "finetuned", "delta", "ci_low", "ci_high", "p_value",
        "share_finetuned_higher", "share_finetuned_lower", "share_tied", "n", "base_mean_sd", "finetuned_mean_sd",
        "base_sd", "finetuned_sd", "base_n_seeds", "finetuned_n_seeds", "system_a", "system_b", "signature",
    ]  # fmt: skip
    return pd.DataFrame(rows)[order], corpus


def format_table(comparison: pd.DataFrame) -> str:
    """The comparison as a fixed-width text table (what the CLI prints)."""
    width = max([18, *(len(str(d)) for d in comparison["decoding"])])
    lines = []
    header = f"{'decoding':<{width}} {'metric':<20} {'base':>16} {'finetuned':>16} {'delta':>9} {'95% CI':>21} {'p':>7} {'ft>base':>7}"
    lines.append(header)
    lines.append("-" * len(header))
    for row in comparison.itertuples():
        base = (
            row.base_mean_sd if row.base_n_seeds > 1 else ("-" if np.isnan(row.base) else f"{row.base:.4f}")
        )
        finetuned = (
            row.finetuned_mean_sd
            if row.finetuned_n_seeds > 1
            else ("-" if np.isnan(row.finetuned) else f"{row.finetuned:.4f}")
        )
        ci = "" if np.isnan(row.ci_low) else f"[{row.ci_low:+.4f}, {row.ci_high:+.4f}]"
        p = "" if np.isnan(row.p_value) else f"{row.p_value:.3f}"
        share = "" if np.isnan(row.share_finetuned_higher) else f"{row.share_finetuned_higher:.0%}"
        delta = "" if np.isnan(row.delta) else f"{row.delta:+.4f}"
        lines.append(
            f"{row.decoding:<{width}} {row.metric:<20} {base:>16} {finetuned:>16} {delta:>9} {ci:>21} {p:>7} {share:>7}"
        )
    return "\n".join(lines)


def score(cfg: ScoreConfig) -> pd.DataFrame:
    """Run a scoring job; writes scores/ and returns the comparison table."""
    cfg.validate()
    outputs_dir = Path(cfg.outputs_dir or Path(cfg.run_dir) / "outputs")
    scores_dir = Path(cfg.scores_dir or Path(cfg.run_dir) / "scores")
    outputs = read_outputs(outputs_dir, cfg.decodings)
    per_example = score_outputs(outputs, cfg)
    signatures = per_example.attrs.get("signatures", {})
    comparison, corpus = compare(per_example, outputs, cfg, signatures)
    scores_dir.mkdir(parents=True, exist_ok=True)
    table = per_example.copy()
    table.attrs = {}
    table.to_parquet(scores_dir / "per_example.parquet", index=False)
    comparison.to_csv(scores_dir / "comparison.csv", index=False)
    records = json.loads(comparison.to_json(orient="records"))  # NaN -> null
    (scores_dir / "comparison.json").write_text(json.dumps(records, indent=2) + "\n")
    corpus.to_csv(scores_dir / "corpus.csv", index=False)
    (scores_dir / "signatures.json").write_text(json.dumps(signatures, indent=2) + "\n")
    save_config(cfg, scores_dir / "score_config.json")
    return comparison


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv, ScoreConfig, prog="score")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *a, **k: print(f"warning: {message}", file=sys.stderr)
        comparison = score(cfg)
    print(format_table(comparison))
    print(
        f"wrote {Path(cfg.scores_dir or Path(cfg.run_dir) / 'scores')}/per_example.parquet and comparison.json/.csv"
    )
    return 0
