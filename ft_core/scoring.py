"""Score a run's outputs and compare base with fine-tuned: `python -m ft_core score --run-dir runs/x`.

Reads `outputs/<system>__<decoding>__seed<seed>.jsonl`, scores every output once (`ft_core.metrics.score`, one
BERTScore model load for all files) and writes, in `scores/` (through `ft_core.runfolder`; every column in
docs/run-folder.md):

- `per_example.parquet`: item_id, system, decoding, seed, one column per metric, output_tokens,
  hit_max_new_tokens;
  BLEU and chrF per item are sentence scores, named `sentence_bleu`, `sentence_sacrebleu`, `sentence_chrf`,
  `sentence_chrfpp` (`runfolder.SENTENCE_COLUMNS`): `bleu` and the others name the corpus figures only.
- `comparison.json` / `comparison.csv`: per decoding setting and metric, the corpus figure of each system
  (`bleu`, `sacrebleu`, `chrf`, `chrfpp` from n-gram statistics pooled over items; the `sentence_*` rows and
  every other metric the mean of the per-item scores, the figure a campaign's results show), the delta
  (finetuned - base), its paired-bootstrap interval (95% unless `confidence` says otherwise) and p-value over
  items (Koehn, 2004; see `ft_core.significance`), the share of items where the fine-tuned output scores
  higher, whether higher is better for that metric, and the settings signature. The delta and interval come
  from `ft_core.resampling.paired_difference`, which the results page's metric table calls too: a campaign
  imported from one seed of this run shows the same interval for a per-item metric with the same bootstrap
  seed. With several sampling seeds, each item's scores are averaged over seeds before resampling (BLEU, chrF:
  their statistics are pooled), and the per-seed corpus figures are summarised as mean ± sd.
- `corpus.csv`: every corpus figure per system, decoding and seed (what the seed summary is made from).

The outputs' language is the run's (`language` of its config.json) unless `language` says otherwise; the
faithfulness scores compare each output with the `source` its outputs file records; the likelihood score runs
on the run's base model unless `likelihood_model` says otherwise.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ft_core import metrics as metric_lib
from ft_core import runfolder
from ft_core.config import ScoreConfig, parse_cli
from ft_core.errors import DataError, RunFolderError, out_of_memory_hint, warnings_as_lines
from ft_core.languages import DEFAULT_LANGUAGE, check_language
from ft_core.significance import format_mean_sd, paired_bootstrap, seed_summary, share_higher

__all__ = [
    "COMPARED",
    "KEYS",
    "ScoreConfig",
    "compare",
    "format_table",
    "read_outputs",
    "score",
    "score_outputs",
]

KEYS = ["item_id", "system", "decoding", "seed"]
# Comparison rows in this order; corpus BLEU and chrF come from pooled statistics (each shown when its
# sentence score was computed), the rest are means of per-item values.
COMPARED = [
    "bleu",
    "sacrebleu",
    "sentence_bleu",
    "sentence_sacrebleu",
    *metric_lib.ROUGE_TYPES,
    *metric_lib.BERTSCORE_COLUMNS,
    *metric_lib.CHRF_COLUMNS,
    "sentence_chrf",
    "sentence_chrfpp",
    *metric_lib.NOVELTY_COLUMNS,
    *metric_lib.UNSUPPORTED_COLUMNS,
    *metric_lib.SOURCE_COLUMNS,
    "likelihood",
    "output_words",
    "output_tokens",
    "hit_max_new_tokens",
]
LENGTH_SIGNATURES = {
    "output_words": "whitespace words of the output",
    "output_tokens": "new tokens generated (model tokenizer)",
    "hit_max_new_tokens": "share of outputs stopped by max_new_tokens",
}


# --------------------------------------------------------------------------------------------- reading
def read_outputs(outputs_dir: Path, decodings: list[str] | None = None) -> pd.DataFrame:
    """All outputs files as one frame (item_id, system, decoding, seed, output, references, new_tokens,
    ...)."""
    outputs_dir = Path(outputs_dir)
    if not outputs_dir.is_dir():
        raise RunFolderError(f"{outputs_dir} not found: run `.venv/bin/python -m ft_core generate` first")
    frames = []
    for path in runfolder.output_files(outputs_dir):
        name = runfolder.parse_output_name(path)
        if name is None:
            raise DataError(f"{path.name} is not named <system>__<decoding>__seed<seed>.jsonl")
        system, decoding, seed = name
        if decodings and decoding not in decodings:
            continue
        read = runfolder.read_jsonl(path)
        if read.bad_line is not None:
            raise DataError(
                f"{path} is not valid UTF-8 JSONL (line {read.bad_line}: {read.error}); regenerate it"
            )
        if not read.records:
            raise DataError(f"{path} holds no outputs")
        frame = pd.DataFrame(read.records)
        missing = {"item_id", "output"} - set(frame.columns)
        if missing:
            raise DataError(f"{path.name} lacks {', '.join(sorted(missing))}; see docs/run-folder.md")
        if frame["item_id"].duplicated().any():
            raise DataError(
                f"{path.name} repeats item ids, e.g. "
                f"{frame.loc[frame.item_id.duplicated(), 'item_id'].iloc[0]}"
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
            f"no outputs files in {outputs_dir}{which}: run `.venv/bin/python -m ft_core generate` first"
        )
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------- scoring
def resolve_defaults(cfg: ScoreConfig) -> ScoreConfig:
    """The config with what it leaves to the run filled in: the language of the run's data (else English) and,
    when the likelihood is asked for, the run's base model (a causal one; else the embedded model). The run is
    `run_dir`, or the one named in the outputs' generate_config.json."""
    run = runfolder.read_config(cfg.run_dir)
    if (
        run is None
    ):  # outputs written elsewhere (a decoding sweep's output_dir): the run their generation names
        run = runfolder.read_config(runfolder.read_generate_config(_outputs_dir(cfg)).get("run_dir"))
    language = cfg.language or check_language((run.language if run else None) or DEFAULT_LANGUAGE)
    model = cfg.likelihood_model
    if "likelihood" in cfg.metrics and model is None:
        model = (run.base_model if run else None) or "smollm2-135m"
        if run is not None and run.task != "causal":
            warnings.warn(
                f"the run's base model {model} is not a causal LM: the likelihood score uses smollm2-135m",
                stacklevel=2,
            )
            model = "smollm2-135m"
    return dataclasses.replace(cfg, language=language, likelihood_model=model)


def score_outputs(outputs: pd.DataFrame, cfg: ScoreConfig) -> pd.DataFrame:
    """Per-example scores of every output, keyed by item_id, system, decoding, seed."""
    references = outputs["references"].tolist()
    no_refs = not any(len(r) for r in references)
    sources = None
    if "source" in outputs:
        sources = [s if isinstance(s, str) else None for s in outputs["source"]]
    scored = metric_lib.score(
        outputs["output"].tolist(),
        None if no_refs else references,
        cfg.metrics,
        sources=sources,
        **cfg.metric_options(),
    )
    # per item, BLEU and chrF are sentence scores: they take the sentence_ names (bleu names the corpus
    # figure)
    frame = pd.concat([outputs[KEYS].reset_index(drop=True), scored], axis=1).rename(
        columns=runfolder.SENTENCE_COLUMNS
    )
    if "new_tokens" in outputs:
        frame["output_tokens"] = outputs["new_tokens"].astype(float).to_numpy()
    if "hit_max_new_tokens" in outputs:
        frame["hit_max_new_tokens"] = outputs["hit_max_new_tokens"].astype(bool).to_numpy()
    signatures = {runfolder.per_item_metric(c): s for c, s in scored.attrs.get("signatures", {}).items()}
    corpus_metrics = [m for m in cfg.metrics if m in ("bleu", "chrf")]
    if corpus_metrics and not no_refs:
        corpus_signatures = metric_lib.signatures(corpus_metrics, references, **cfg.metric_options())
        signatures.update({c: s for c, s in corpus_signatures.items() if c in runfolder.SENTENCE_COLUMNS})
    frame.attrs["signatures"] = signatures
    return frame


def _corpus_values(
    per_example: pd.DataFrame, stats: dict[str, np.ndarray], columns: list[str]
) -> dict[str, float]:
    """Corpus figures of one system/decoding/seed: from summed statistics (BLEU, chrF), else means."""
    values = {}
    for column in columns:
        if column in stats:
            sums = np.nansum(stats[column][per_example.index], axis=0)
            values[column] = metric_lib.corpus_from_statistics(column, sums)
        else:
            column_values = per_example[column].astype(float)
            values[column] = float(np.nanmean(column_values)) if column_values.notna().any() else np.nan
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
    # a corpus figure is there when its sentence score is: both come from the same outputs and references
    present = set(per_example.columns) | {
        c for c, s in runfolder.SENTENCE_COLUMNS.items() if s in per_example
    }
    columns = [c for c in COMPARED if c in present]
    stats = {}
    for column in columns:
        if column in metric_lib.STATISTIC_COLUMNS:
            shared = "bleu" if column == "sacrebleu" and "bleu" in stats else None  # one block holds both
            stats[column] = (
                stats[shared]
                if shared
                else metric_lib.sufficient_statistics(
                    column,
                    outputs["output"].tolist(),
                    outputs["references"].tolist(),
                    cfg.language or DEFAULT_LANGUAGE,
                )
            )
    corpus_rows = []
    for (system, decoding, seed), group in per_example.groupby(["system", "decoding", "seed"], sort=True):
        values = _corpus_values(group, stats, columns)
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
                    per_item[system] = (  # corpus BLEU, chrF: the items' sentence scores say which is higher
                        group.groupby("item_id")[runfolder.per_item_metric(metric)]
                        .mean()
                        .astype(float)
                        .reindex(items)
                        .to_numpy()
                    )
                if metric in stats:
                    # Each seed's statistics side by side (items x seeds*k): a resample keeps items across
                    # seeds, and the statistic is the mean over seeds of each seed's corpus figure, as
                    # reported.
                    side_by_side = {}
                    for system, group in by_system.items():
                        blocks = [
                            pd.DataFrame(stats[metric][g.index], index=g.item_id.values)
                            .reindex(items)
                            .to_numpy()
                            for _, g in group.groupby("seed")
                        ]
                        side_by_side[system] = np.hstack(blocks)
                    compared = side_by_side
                    statistic = _mean_over_seeds(
                        lambda sums, m=metric: metric_lib.corpus_from_statistics(m, sums),
                        stats[metric].shape[1],
                    )
                else:
                    compared, statistic = per_item, None
                result = paired_bootstrap(
                    compared[a], compared[b], statistic, cfg.n_boot, cfg.confidence, cfg.seed
                )
                row.update(result.as_dict())  # n_boot and confidence are not columns of the comparison
                row.update(share_higher(per_item[a], per_item[b]))
            else:
                row.update(delta=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan, n=len(items))
                row.update(share_finetuned_higher=np.nan, share_finetuned_lower=np.nan, share_tied=np.nan)
            row["higher_is_better"] = metric_lib.HIGHER_IS_BETTER.get(metric, np.nan)
            row["signature"] = signatures.get(metric, LENGTH_SIGNATURES.get(metric, ""))
            row["system_a"], row["system_b"] = a, b
            rows.append(row)
    order = [
        "decoding",
        "metric",
        "base",
        "finetuned",
        "delta",
        "ci_low",
        "ci_high",
        "p_value",
        "share_finetuned_higher",
        "share_finetuned_lower",
        "share_tied",
        "n",
        "base_mean_sd",
        "finetuned_mean_sd",
        "base_sd",
        "finetuned_sd",
        "base_n_seeds",
        "finetuned_n_seeds",
        "system_a",
        "system_b",
        "higher_is_better",
        "signature",
    ]
    return pd.DataFrame(rows)[order], corpus


def interval_label(confidence: float) -> str:
    """'95% CI' for 0.95: the label of an interval says the confidence it was computed with."""
    return f"{confidence * 100:g}% CI"


def format_table(comparison: pd.DataFrame, confidence: float = 0.95) -> str:
    """The comparison as a fixed-width text table (what the CLI prints); `confidence` of its intervals."""
    width = max([18, *(len(str(d)) for d in comparison["decoding"])])
    lines = []
    header = (
        f"{'decoding':<{width}} {'metric':<20} {'base':>16} {'finetuned':>16} {'delta':>9} "
        f"{interval_label(confidence):>21} {'p':>7} {'ft>base':>7}"
    )
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
        lower_is_better = isinstance(row.higher_is_better, (bool, np.bool_)) and not row.higher_is_better
        metric = f"{row.metric} (lower=better)" if lower_is_better else row.metric
        lines.append(
            f"{row.decoding:<{width}} {metric:<20} {base:>16} {finetuned:>16} {delta:>9} {ci:>21} {p:>7} "
            f"{share:>7}"
        )
    return "\n".join(lines + corpus_note(comparison["metric"]))


def corpus_note(metrics: pd.Series | list[str]) -> list[str]:
    """The lines under a table saying which BLEU/chrF figures are corpus figures and which are means of
    sentence scores (the two differ; runfolder.METRIC_DEFINITIONS)."""
    names = set(metrics)
    corpus = [m for m in runfolder.SENTENCE_COLUMNS if m in names]
    sentence = [s for s in runfolder.SENTENCE_COLUMNS.values() if s in names]
    lines = []
    if corpus:
        lines.append(
            f"{', '.join(corpus)}: corpus figures (n-gram counts pooled over the items, then one score)"
        )
    if sentence:
        lines.append(
            f"{', '.join(sentence)}: means over items of each item's own score (what a campaign's results "
            "show)"
        )
    return lines


def score(cfg: ScoreConfig) -> pd.DataFrame:
    """Run a scoring job; writes scores/ and returns the comparison table."""
    cfg = resolve_defaults(cfg)
    outputs = read_outputs(_outputs_dir(cfg), cfg.decodings)
    per_example = score_outputs(outputs, cfg)
    signatures = per_example.attrs.get("signatures", {})
    comparison, corpus = compare(per_example, outputs, cfg, signatures)
    table = per_example.copy()
    table.attrs = {}
    runfolder.write_scores(_scores_dir(cfg), table, comparison, corpus, signatures, cfg)
    return comparison


def _outputs_dir(cfg: ScoreConfig) -> Path:
    return Path(cfg.outputs_dir) if cfg.outputs_dir else runfolder.outputs_dir(cfg.run_dir)


def _scores_dir(cfg: ScoreConfig) -> Path:
    return Path(cfg.scores_dir) if cfg.scores_dir else runfolder.scores_dir(cfg.run_dir)


def main(argv: list[str] | None = None) -> int:
    cfg = parse_cli(ScoreConfig, argv, "score")
    where = (
        f"likelihood_batch_tokens={cfg.likelihood_batch_tokens}, "
        f"bertscore_batch_size={cfg.bertscore_batch_size}"
    )
    advice = "lower likelihood_batch_tokens (likelihood) or bertscore_batch_size (BERTScore)"
    with warnings_as_lines(), out_of_memory_hint(where, advice):
        comparison = score(cfg)
    print(format_table(comparison, cfg.confidence))
    print(f"wrote {_scores_dir(cfg)}/per_example.parquet and comparison.json/.csv")
    return 0
