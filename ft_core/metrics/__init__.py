"""Automatic metrics for generated outputs: per-example scores and corpus figures, each with its settings.

For whoever compares a base and a fine-tuned model: `score()` gives one row per example (what the paired
bootstrap resamples), `corpus()` the figures a paper table reports. Every result carries a signature of its
settings, so two tables are only compared when they were made the same way. One module per metric:

- `bleu`: BLEU twice, sacreBLEU's (`sacrebleu`, 0-100) and Hugging Face `evaluate`'s (`bleu`, 0-1), from
  per-item sufficient statistics.
- `rouge`: ROUGE-1/2/L/Lsum as `rouge_score` computes them, exact means; its speed tricks live in `rouge_fast`,
  pinned to `rouge_score` by their tests.
- `bertscore`: BERTScore with `bert_score`, on an embedded encoder by default.
- `evaluate_modules`: any `evaluate` module by local path (or hub id when online): `metrics=["evaluate:/path"]`.
- Output length: words and characters of each output.
- `tokenize`: how every metric cuts text into tokens, chosen in that one place.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ft_core.errors import ConfigError, DataError
from ft_core.metrics import evaluate_modules
from ft_core.metrics.bertscore import (
    BERTSCORE_COLUMNS,
    EMBEDDED_ENCODER,
    EMBEDDED_ENCODERS,
    bertscore_scores,
    bertscore_signature,
    resolve_encoder,
)
from ft_core.metrics.bleu import (
    MAX_ORDER as BLEU_MAX_ORDER,
)
from ft_core.metrics.bleu import (
    bleu_from_statistics,
    bleu_signature,
    bleu_statistics,
    corpus_bleu,
    sacrebleu_from_statistics,
    sentence_bleu,
)
from ft_core.metrics.rouge import ROUGE_TYPES, rouge_scores, rouge_signature
from ft_core.metrics.rouge_fast import lcs_indices, lcs_length, summary_level_lcs_f
from ft_core.metrics.tokenize import split_sentences

__all__ = [
    "BLEU_MAX_ORDER", "BUILTIN_METRICS", "DEFAULT_OPTIONS", "EMBEDDED_ENCODER", "EMBEDDED_ENCODERS",
    "METRIC_COLUMNS", "NEEDS_REFERENCES", "ROUGE_TYPES", "bertscore_signature", "bleu_from_statistics",
    "bleu_signature", "bleu_statistics", "check_inputs", "corpus", "lcs_indices", "lcs_length",
    "resolve_encoder", "rouge_signature", "sacrebleu_from_statistics", "score", "signatures", "split_sentences",
    "summary_level_lcs_f",
]  # fmt: skip

BUILTIN_METRICS = ("bleu", "rouge", "bertscore", "length")
NEEDS_REFERENCES = ("bleu", "rouge", "bertscore")

# Columns each built-in metric writes per example (the evaluate modules add their own).
METRIC_COLUMNS = {
    "bleu": ("bleu", "sacrebleu"),
    "rouge": ROUGE_TYPES,
    "bertscore": BERTSCORE_COLUMNS,
    "length": ("output_words", "output_chars"),
}
DEFAULT_OPTIONS: dict[str, Any] = {
    "use_stemmer": True,  # Porter stemming before ROUGE matching (ROUGE-1.5.5 -m)
    "multi_ref": "max",  # how several references combine for ROUGE: "max" or "mean"
    "split_sentences": True,  # one sentence per line before rougeLsum
    "bertscore_model": EMBEDDED_ENCODER,  # embedded name, local folder or cached hub id
    "bertscore_num_layers": None,  # layer whose embeddings are compared; None = known default for the model
    "bertscore_batch_size": 64,
    "device": None,  # None = cuda when available, else cpu
    "n_jobs": 0,  # processes for ROUGE on 2,000+ pairs (fewer are scored in-process); 0 = all cores
    "lowercase": False,  # BLEU on lowercased text
}


# --------------------------------------------------------------------------------------------- validation
def check_inputs(
    predictions: Sequence[str], references: Sequence[Sequence[str]] | None, metrics: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Validate once, at the edge: returns (metrics that will run, metrics skipped for lack of references)."""
    if isinstance(metrics, str):
        metrics = [metrics]
    if predictions is None or len(predictions) == 0:
        raise DataError("no predictions to score: the list of outputs is empty")
    bad = [i for i, p in enumerate(predictions) if not isinstance(p, str)]
    if bad:
        raise DataError(f"predictions must be strings; item {bad[0]} is {type(predictions[bad[0]]).__name__}")
    unknown = [m for m in metrics if m not in BUILTIN_METRICS and not m.startswith(evaluate_modules.PREFIX)]
    if unknown:
        raise ConfigError(
            f"unknown metric(s): {', '.join(unknown)}; known metrics: {', '.join(BUILTIN_METRICS)}, "
            "or evaluate:<local path or hub id>"
        )
    if not metrics:
        raise ConfigError(f"no metrics requested; choose from {', '.join(BUILTIN_METRICS)}")
    has_refs = references is not None and any(len(r) for r in references)
    if references is not None and len(references) != len(predictions):
        raise DataError(
            f"{len(predictions)} predictions but {len(references)} reference lists: they must pair up one to one"
        )
    if references is not None:
        for i, refs in enumerate(references):
            if isinstance(refs, str):
                raise DataError(
                    f"references[{i}] is a string; pass a list of references per item, e.g. [[ref], ...]"
                )
    runs = [
        m
        for m in metrics
        if has_refs or m not in NEEDS_REFERENCES and not m.startswith(evaluate_modules.PREFIX)
    ]
    skipped = [m for m in metrics if m not in runs]
    if skipped:
        warnings.warn(
            f"no references: skipping {', '.join(skipped)} (they compare outputs with references)",
            stacklevel=3,
        )
    empty = sum(1 for p in predictions if not p.strip())
    if empty:
        warnings.warn(f"{empty} of {len(predictions)} predictions are empty; they score 0", stacklevel=3)
    if has_refs:
        missing = sum(1 for r in references if not len(r))
        if missing:
            warnings.warn(
                f"{missing} of {len(references)} items have no reference; their reference-based scores are NaN",
                stacklevel=3,
            )
    return runs, skipped


def _options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ConfigError(
            f"unknown metric option(s): {', '.join(unknown)}; options are: {', '.join(DEFAULT_OPTIONS)}"
        )
    merged = {**DEFAULT_OPTIONS, **options}
    if merged["multi_ref"] not in ("max", "mean"):
        raise ConfigError(f"multi_ref must be 'max' or 'mean', got {merged['multi_ref']!r}")
    return merged


# --------------------------------------------------------------------------------------------- public API
def _lengths(predictions: Sequence[str]) -> dict[str, list[int]]:
    return {
        "output_words": [len(p.split()) for p in predictions],
        "output_chars": [len(p) for p in predictions],
    }


def signatures(metrics: Sequence[str], references: Sequence[Sequence[str]] | None = None, **options) -> dict:
    """The settings string of each column a `score`/`corpus` call produces."""
    opts = _options(options)
    out: dict[str, str] = {}
    nrefs: int | str = 1
    if references:
        counts = {len(r) for r in references if len(r)}
        nrefs = counts.pop() if len(counts) == 1 else "var"
    for metric in metrics:
        if metric == "bleu":
            out.update(bleu_signature(opts["lowercase"], nrefs))
        elif metric == "rouge":
            sig = rouge_signature(opts["use_stemmer"], opts["multi_ref"], opts["split_sentences"])
            out.update(dict.fromkeys(ROUGE_TYPES, sig))
        elif metric == "bertscore":
            sig = bertscore_signature(opts["bertscore_model"], opts["bertscore_num_layers"])
            out.update(dict.fromkeys(BERTSCORE_COLUMNS, sig))
        elif metric == "length":
            out.update(dict.fromkeys(METRIC_COLUMNS["length"], "whitespace-words|characters"))
        elif metric.startswith(evaluate_modules.PREFIX):
            location, name = evaluate_modules.location_and_name(metric)
            out[name] = f"evaluate:{location}"
    return out


def score(
    predictions: list[str],
    references: list[list[str]] | None,
    metrics: Sequence[str] = ("bleu", "rouge", "bertscore"),
    **options: Any,
) -> pd.DataFrame:
    """One row per example: bleu, sacrebleu, rouge1/2/L/Lsum, bertscore_*, output_words/chars, ...

    `references` holds a list of references per item (None: reference-free metrics only, with a warning).
    Options: use_stemmer, multi_ref ("max"/"mean"), split_sentences, bertscore_model, bertscore_num_layers,
    bertscore_batch_size, device, n_jobs (ROUGE processes), lowercase (BLEU). Output length is always included.
    `df.attrs["signatures"]` maps each column to the settings that made it.
    """
    opts = _options(options)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    runs, _ = check_inputs(predictions, references, metrics)
    references = references if references is not None else [[] for _ in predictions]
    columns: dict[str, Any] = {}
    for metric in runs:
        if metric == "bleu":
            columns.update(sentence_bleu(predictions, references, opts["lowercase"]))
        elif metric == "rouge":
            columns.update(
                rouge_scores(
                    predictions,
                    references,
                    opts["use_stemmer"],
                    opts["multi_ref"],
                    opts["split_sentences"],
                    opts["n_jobs"],
                )
            )
        elif metric == "bertscore":
            columns.update(
                bertscore_scores(
                    predictions,
                    references,
                    opts["bertscore_model"],
                    opts["bertscore_num_layers"],
                    opts["bertscore_batch_size"],
                    opts["device"],
                )
            )
        elif metric.startswith(evaluate_modules.PREFIX):
            location, name = evaluate_modules.location_and_name(metric)
            module = evaluate_modules.load_module(location)
            rows = [
                evaluate_modules.scalars(name, module.compute(predictions=[p], references=[list(r)]))
                if len(r)
                else {}
                for p, r in zip(predictions, references)
            ]
            columns.update(pd.DataFrame(rows, index=range(len(predictions))).to_dict("list"))
    columns.update(_lengths(predictions))
    frame = pd.DataFrame(columns, index=range(len(predictions)))
    frame.attrs["signatures"] = signatures(
        [m for m in runs if m != "length"] + ["length"], references, **options
    )
    return frame


def corpus(
    predictions: list[str],
    references: list[list[str]] | None,
    metrics: Sequence[str] = ("bleu", "rouge", "bertscore"),
    per_example: pd.DataFrame | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Corpus figures, indexed by metric, columns `value` and `signature`.

    bleu: HF-evaluate-style corpus BLEU (0-1); sacrebleu: sacreBLEU corpus BLEU (0-100); ROUGE and BERTScore:
    means of the per-example scores (pass `per_example` from `score()` to reuse them); output length: mean,
    median and 95th percentile of words, and the share of empty outputs.
    """
    opts = _options(options)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    runs, _ = check_inputs(predictions, references, metrics)
    if per_example is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # check_inputs has warned once already
            wanted = [m for m in runs if m in ("rouge", "bertscore")] + ["length"]
            per_example = score(predictions, references, wanted, **options)
    sigs = signatures([m for m in runs if m != "length"] + ["length"], references, **options)
    values: dict[str, float] = {}
    for metric in runs:
        if metric == "bleu":
            values.update(corpus_bleu(predictions, references, opts["lowercase"]))
        elif metric.startswith(evaluate_modules.PREFIX):
            location, name = evaluate_modules.location_and_name(metric)
            keep = [i for i, r in enumerate(references) if len(r)]
            result = evaluate_modules.load_module(location).compute(
                predictions=[predictions[i] for i in keep], references=[list(references[i]) for i in keep]
            )
            values.update(evaluate_modules.scalars(name, result))
        elif metric != "length":
            for column in METRIC_COLUMNS[metric]:
                values[column] = float(np.nanmean(per_example[column]))
    words = np.asarray(_lengths(predictions)["output_words"], dtype=float)
    values.update(
        {
            "output_words": float(words.mean()),
            "output_words_median": float(np.median(words)),
            "output_words_p95": float(np.percentile(words, 95)),
            "output_chars": float(np.mean([len(p) for p in predictions])),
            "empty_share": float(np.mean([not p.strip() for p in predictions])),
        }
    )
    frame = pd.DataFrame({"value": pd.Series(values)})
    frame["signature"] = [sigs.get(m, sigs.get("output_words", "")) for m in frame.index]
    frame.index.name = "metric"
    return frame
