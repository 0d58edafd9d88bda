"""Automatic metrics for generated outputs: per-example scores and corpus figures, each with its settings.

For whoever compares a base and a fine-tuned model: `score()` gives one row per example (what the paired
bootstrap resamples), `corpus()` the figures a paper table reports. Every result carries a signature of its
settings, so two tables are only compared when they were made the same way. One module per metric:

- `bleu`: BLEU twice, sacreBLEU's (`sacrebleu`, 0-100) and Hugging Face `evaluate`'s (`bleu`, 0-1), from
  per-item sufficient statistics.
- `chrf`: chrF and chrF++ (`chrf`, `chrfpp`, 0-100) with sacreBLEU, from per-item sufficient statistics.

BLEU and chrF per example (`score`) are sentence scores; `corpus` pools the items' statistics into one score,
which is not the mean of the sentence scores. Outside this package the per-example ones are `sentence_bleu`,
`sentence_sacrebleu`, `sentence_chrf`, `sentence_chrfpp` (`ft_core.runfolder.SENTENCE_COLUMNS`), so that
`bleu` always names the corpus figure.
- `rouge`: ROUGE-1/2/L/Lsum as `rouge_score` computes them, exact means; its speed tricks live in
  `rouge_fast`,
  pinned to `rouge_score` by their tests.
- `bertscore`: BERTScore with `bert_score`, on an embedded encoder by default.
- `evaluate_modules`: any `evaluate` module by local path (or hub id when online):
  `metrics=["evaluate:/path"]`.
- Output length: words and characters of each output.
- `tokenize`: how every metric cuts text into tokens, per language, chosen in that one place.

Faithfulness (reference-free: they compare each output with its *source*, `score(..., sources=[...])`):

- `novelty` (`faithfulness`): novel n-gram rates `novel_1gram` ... `novel_4gram` (lower = closer to the
  source);
- `unsupported` (`faithfulness`): `unsupported_numbers`, `unsupported_entities` (lower = better);
- `bertscore_source` (`bertscore`): `bertscore_src_precision`, BERTScore precision against the source;
- `likelihood` (`likelihood`): mean log-probability per output token given the source under a causal LM.

`language` (ISO 639-1, default "en") picks the tokenizer and stemmer of every metric and is recorded in every
signature; for "en" every number is what it was before languages existed (rouge_score's, 13a BLEU).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ft_core import runfolder
from ft_core.errors import ConfigError, DataError
from ft_core.languages import DEFAULT_LANGUAGE, check_language
from ft_core.metrics import evaluate_modules
from ft_core.metrics.bertscore import (
    BERTSCORE_COLUMNS,
    EMBEDDED_ENCODER,
    EMBEDDED_ENCODERS,
    SOURCE_COLUMNS,
    bertscore_scores,
    bertscore_signature,
    bertscore_source_precision,
    resolve_encoder,
    warn_if_english_only,
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
from ft_core.metrics.chrf import (
    CHRF_COLUMNS,
    chrf_from_statistics,
    chrf_scores,
    chrf_signature,
    chrf_statistics,
    corpus_chrf,
)
from ft_core.metrics.faithfulness import (
    NOVELTY_COLUMNS,
    UNSUPPORTED_COLUMNS,
    faithfulness_signature,
    novel_ngram_rates,
    unsupported_counts,
)
from ft_core.metrics.likelihood import DEFAULT_PROMPT as DEFAULT_LIKELIHOOD_PROMPT
from ft_core.metrics.rouge import ROUGE_TYPES, rouge_scores, rouge_signature
from ft_core.metrics.rouge_fast import lcs_indices, lcs_length, summary_level_lcs_f
from ft_core.metrics.tokenize import split_sentences

__all__ = [
    "BLEU_MAX_ORDER", "BUILTIN_METRICS", "DEFAULT_OPTIONS", "EMBEDDED_ENCODER", "EMBEDDED_ENCODERS",
    "HIGHER_IS_BETTER", "METRIC_COLUMNS", "NEEDS_REFERENCES", "NEEDS_SOURCES", "ROUGE_TYPES",
    "STATISTIC_COLUMNS", "bertscore_signature", "bleu_from_statistics", "bleu_signature", "bleu_statistics",
    "check_inputs", "corpus", "corpus_from_statistics", "lcs_indices", "lcs_length", "resolve_encoder",
    "rouge_signature", "sacrebleu_from_statistics", "score", "signatures", "split_sentences",
    "sufficient_statistics", "summary_level_lcs_f",
]  # fmt: skip

BUILTIN_METRICS = (
    "bleu", "rouge", "bertscore", "chrf", "novelty", "unsupported", "bertscore_source", "likelihood",
    "length",
)  # fmt: skip
NEEDS_REFERENCES = ("bleu", "rouge", "bertscore", "chrf")
NEEDS_SOURCES = ("novelty", "unsupported", "bertscore_source", "likelihood")

# Columns each built-in metric writes per example (the evaluate modules add their own).
METRIC_COLUMNS = {
    "bleu": ("bleu", "sacrebleu"),
    "rouge": ROUGE_TYPES,
    "bertscore": BERTSCORE_COLUMNS,
    "chrf": CHRF_COLUMNS,
    "novelty": NOVELTY_COLUMNS,
    "unsupported": UNSUPPORTED_COLUMNS,
    "bertscore_source": SOURCE_COLUMNS,
    "likelihood": ("likelihood",),
    "length": ("output_words", "output_chars"),
}
# Whether a higher value of a column is better (the faithfulness counts and rates are better low).
HIGHER_IS_BETTER = {
    **dict.fromkeys(("bleu", "sacrebleu", *ROUGE_TYPES, *BERTSCORE_COLUMNS, *CHRF_COLUMNS), True),
    **dict.fromkeys(runfolder.SENTENCE_COLUMNS.values(), True),
    **dict.fromkeys((*SOURCE_COLUMNS, "likelihood"), True),
    **dict.fromkeys((*NOVELTY_COLUMNS, *UNSUPPORTED_COLUMNS), False),
}
# Corpus figures that are not means of per-example values: computed from summed per-item statistics.
STATISTIC_COLUMNS = ("bleu", "sacrebleu", "chrf", "chrfpp")
DEFAULT_OPTIONS: dict[str, Any] = {
    "language": DEFAULT_LANGUAGE,  # ISO 639-1 code of the data: tokenizer and stemmer of every metric
    "use_stemmer": True,  # Porter stemming before ROUGE matching (ROUGE-1.5.5 -m)
    "multi_ref": "max",  # how several references combine for ROUGE: "max" or "mean"
    "split_sentences": True,  # one sentence per line before rougeLsum
    "bertscore_model": EMBEDDED_ENCODER,  # embedded name, local folder or cached hub id
    "bertscore_num_layers": None,  # layer whose embeddings are compared; None = known default for the model
    "bertscore_batch_size": 64,
    "device": None,  # None = cuda when available, else cpu
    "n_jobs": 0,  # processes for ROUGE on 2,000+ pairs (fewer are scored in-process); 0 = all cores
    "lowercase": False,  # BLEU on lowercased text
    "likelihood_model": "smollm2-135m",  # causal LM of the likelihood score: embedded name, folder or hub id
    "likelihood_prompt": DEFAULT_LIKELIHOOD_PROMPT,  # the context, with a {source} placeholder
    "likelihood_chat_template": False,  # wrap the prompt in the model's chat template
    "likelihood_pmi": False,  # score log p(output | source) - log p(output | prompt without the source)
    "likelihood_max_source_tokens": 1024,  # the source is cut to this many tokens of the LM
    "likelihood_batch_tokens": 16384,  # padded positions per batch of the likelihood score
    "precision": "auto",  # of the likelihood model: auto = fp32 on any device (see metrics/likelihood.py)
}


# --------------------------------------------------------------------------------------------- validation
def check_inputs(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]] | None,
    metrics: Sequence[str],
    sources: Sequence[str | None] | None = None,
) -> tuple[list[str], list[str]]:
    """Validate once, at the edge: returns (metrics that will run, metrics skipped for lack of references or
    sources)."""
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
            f"unknown {'metric' if len(unknown) == 1 else 'metrics'}: {', '.join(unknown)}; known metrics: "
            f"{', '.join(BUILTIN_METRICS)}, "
            "or evaluate:<local path or hub id>"
        )
    if not metrics:
        raise ConfigError(f"no metrics requested; choose from {', '.join(BUILTIN_METRICS)}")
    has_refs = references is not None and any(len(r) for r in references)
    if references is not None and len(references) != len(predictions):
        raise DataError(
            f"{len(predictions)} predictions but {len(references)} reference lists: they must pair up one to "
            "one"
        )
    if references is not None:
        for i, refs in enumerate(references):
            if isinstance(refs, str):
                raise DataError(
                    f"references[{i}] is a string; pass a list of references per item, e.g. [[ref], ...]"
                )
    if isinstance(sources, str):
        raise DataError("sources is a string; pass one source per item, e.g. [source, ...]")
    if sources is not None and len(sources) != len(predictions):
        raise DataError(
            f"{len(predictions)} predictions but {len(sources)} sources: they must pair up one to one"
        )
    has_sources = sources is not None and any(isinstance(s, str) and s.strip() for s in sources)
    runs = [
        m
        for m in metrics
        if (has_refs or m not in NEEDS_REFERENCES and not m.startswith(evaluate_modules.PREFIX))
        and (has_sources or m not in NEEDS_SOURCES)
    ]
    no_refs = [m for m in metrics if m not in runs and m not in NEEDS_SOURCES]
    no_sources = [m for m in metrics if m not in runs and m in NEEDS_SOURCES]
    if no_refs:
        warnings.warn(
            f"no references: skipping {', '.join(no_refs)} (they compare outputs with references)",
            stacklevel=3,
        )
    if no_sources:
        warnings.warn(
            f"no sources: skipping {', '.join(no_sources)} (they compare outputs with their sources; "
            "pass sources=[...])",
            stacklevel=3,
        )
    skipped = no_refs + no_sources
    empty = sum(1 for p in predictions if not p.strip())
    if empty:
        warnings.warn(
            f"{empty} of {len(predictions)} predictions are empty; they score 0 (novelty and likelihood: "
            "NaN)",
            stacklevel=3,
        )
    if has_refs:
        missing = sum(1 for r in references if not len(r))
        if missing:
            warnings.warn(
                f"{missing} of {len(references)} items have no reference; their reference-based scores are "
                "NaN",
                stacklevel=3,
            )
    return runs, skipped


def _options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ConfigError(
            f"unknown metric {'option' if len(unknown) == 1 else 'options'}: {', '.join(unknown)}; options "
            f"are: {', '.join(DEFAULT_OPTIONS)}"
        )
    merged = {**DEFAULT_OPTIONS, **options}
    if merged["multi_ref"] not in ("max", "mean"):
        raise ConfigError(f"multi_ref must be 'max' or 'mean', got {merged['multi_ref']!r}")
    merged["language"] = check_language(merged["language"])
    return merged


# --------------------------------------------------------------------------------------------- public API
def _lengths(predictions: Sequence[str]) -> dict[str, list[int]]:
    return {
        "output_words": [len(p.split()) for p in predictions],
        "output_chars": [len(p) for p in predictions],
    }


def signatures(
    metrics: Sequence[str],
    references: Sequence[Sequence[str]] | None = None,
    sentence: bool = False,
    **options,
) -> dict:
    """The settings string of each column a `corpus` call produces (each names the language); with `sentence`,
    of each column of `score` (BLEU and chrF per example are sentence scores: `level:sentence`)."""
    opts = _options(options)
    language = opts["language"]
    out: dict[str, str] = {}
    nrefs: int | str = 1
    if references:
        counts = {len(r) for r in references if len(r)}
        nrefs = counts.pop() if len(counts) == 1 else "var"
    for metric in metrics:
        if metric == "bleu":
            out.update(bleu_signature(opts["lowercase"], nrefs, language, sentence))
        elif metric == "rouge":
            sig = rouge_signature(opts["use_stemmer"], opts["multi_ref"], opts["split_sentences"], language)
            out.update(dict.fromkeys(ROUGE_TYPES, sig))
        elif metric == "bertscore":
            sig = bertscore_signature(opts["bertscore_model"], opts["bertscore_num_layers"], language)
            out.update(dict.fromkeys(BERTSCORE_COLUMNS, sig))
        elif metric == "chrf":
            out.update(chrf_signature(nrefs, language, sentence))
        elif metric in ("novelty", "unsupported"):
            out.update(dict.fromkeys(METRIC_COLUMNS[metric], faithfulness_signature(metric, language)))
        elif metric == "bertscore_source":
            sig = bertscore_signature(
                opts["bertscore_model"], opts["bertscore_num_layers"], language, "source"
            )
            out.update(dict.fromkeys(SOURCE_COLUMNS, sig))
        elif metric == "likelihood":
            from ft_core.metrics.likelihood import likelihood_signature

            out["likelihood"] = likelihood_signature(
                opts["likelihood_model"],
                opts["likelihood_prompt"],
                opts["likelihood_max_source_tokens"],
                opts["likelihood_chat_template"],
                opts["likelihood_pmi"],
                language,
                device=opts["device"],
                precision=opts["precision"],
            )
        elif metric == "length":
            out.update(
                dict.fromkeys(METRIC_COLUMNS["length"], f"whitespace-words|characters|lang:{language}")
            )
        elif metric.startswith(evaluate_modules.PREFIX):
            location, name = evaluate_modules.location_and_name(metric)
            out[name] = f"evaluate:{location}|lang:{language}"
    return out


def _metric_columns(
    metric: str,
    predictions: list[str],
    references: list[list[str]],
    sources: list[str | None],
    opts: dict[str, Any],
) -> dict[str, Any]:
    """The per-example columns of one built-in metric."""
    language = opts["language"]
    if metric == "bleu":
        return sentence_bleu(predictions, references, opts["lowercase"], language)
    if metric == "rouge":
        return rouge_scores(
            predictions,
            references,
            opts["use_stemmer"],
            opts["multi_ref"],
            opts["split_sentences"],
            opts["n_jobs"],
            language,
        )
    if metric in ("bertscore", "bertscore_source"):
        warn_if_english_only(opts["bertscore_model"], language)
        scorer = bertscore_scores if metric == "bertscore" else bertscore_source_precision
        return scorer(
            predictions,
            references if metric == "bertscore" else sources,
            opts["bertscore_model"],
            opts["bertscore_num_layers"],
            opts["bertscore_batch_size"],
            opts["device"],
        )
    if metric == "chrf":
        return chrf_scores(predictions, references, language)
    if metric == "novelty":
        return novel_ngram_rates(predictions, sources, language)
    if metric == "unsupported":
        return unsupported_counts(predictions, sources, language)
    if metric == "likelihood":
        from ft_core.metrics.likelihood import likelihood_scores

        return likelihood_scores(
            sources,
            predictions,
            opts["likelihood_model"],
            opts["likelihood_prompt"],
            opts["likelihood_max_source_tokens"],
            opts["likelihood_chat_template"],
            opts["likelihood_pmi"],
            opts["likelihood_batch_tokens"],
            opts["device"],
            opts["precision"],
        )
    location, name = evaluate_modules.location_and_name(metric)
    module = evaluate_modules.load_module(location)
    rows = [
        evaluate_modules.scalars(name, module.compute(predictions=[p], references=[list(r)]))
        if len(r)
        else {}
        for p, r in zip(predictions, references)
    ]
    return pd.DataFrame(rows, index=range(len(predictions))).to_dict("list")


def score(
    predictions: list[str],
    references: list[list[str]] | None,
    metrics: Sequence[str] = ("bleu", "rouge", "bertscore"),
    sources: list[str | None] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """One row per example: bleu, sacrebleu, rouge1/2/L/Lsum, bertscore_*, chrf, chrfpp, the faithfulness
    scores, output_words/chars, ... BLEU and chrF here are each example's sentence score (`bleu`: unsmoothed,
    0-1; `sacrebleu`: sacreBLEU's sentence BLEU, 0-100); their mean is not the corpus figure that `corpus`
    gives.

    `references` holds a list of references per item (None: reference-free metrics only, with a warning);
    `sources` the source of each item, for the faithfulness metrics (novelty, unsupported, bertscore_source,
    likelihood). Options: language (ISO 639-1), use_stemmer, multi_ref ("max"/"mean"), split_sentences,
    bertscore_model, bertscore_num_layers, bertscore_batch_size, device, n_jobs (ROUGE processes), lowercase
    (BLEU), likelihood_* (see DEFAULT_OPTIONS), precision. Output length is always included.
    `df.attrs["signatures"]` maps each column to the settings that made it.
    """
    opts = _options(options)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    runs, _ = check_inputs(predictions, references, metrics, sources)
    references = references if references is not None else [[] for _ in predictions]
    sources = list(sources) if sources is not None else [None] * len(predictions)
    columns: dict[str, Any] = {}
    for metric in runs:
        if metric != "length":
            columns.update(_metric_columns(metric, list(predictions), list(references), sources, opts))
    columns.update(_lengths(predictions))
    frame = pd.DataFrame(columns, index=range(len(predictions)))
    frame.attrs["signatures"] = signatures(
        [m for m in runs if m != "length"] + ["length"], references, sentence=True, **opts
    )
    return frame


def sufficient_statistics(
    column: str,
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    language: str = DEFAULT_LANGUAGE,
    lowercase: bool = False,
) -> np.ndarray:
    """Per-item statistics of a corpus figure in STATISTIC_COLUMNS (rows sum over any subset of items; NaN
    rows for items without a reference): what the paired bootstrap resamples."""
    language = check_language(language)
    if column in ("bleu", "sacrebleu"):
        return bleu_statistics(predictions, references, lowercase, language)
    if column in CHRF_COLUMNS:
        return chrf_statistics(predictions, references, column, language)
    raise ValueError(
        f"{column} has no sufficient statistics; columns that do: {', '.join(STATISTIC_COLUMNS)}"
    )


def corpus_from_statistics(column: str, sums: np.ndarray, lowercase: bool = False) -> float:
    """The corpus figure of `column` from its statistics summed over items (see `sufficient_statistics`)."""
    if column == "bleu":
        return bleu_from_statistics(sums)
    if column == "sacrebleu":
        return sacrebleu_from_statistics(sums, lowercase)
    if column in CHRF_COLUMNS:
        return chrf_from_statistics(sums, column)
    raise ValueError(
        f"{column} has no sufficient statistics; columns that do: {', '.join(STATISTIC_COLUMNS)}"
    )


def corpus(
    predictions: list[str],
    references: list[list[str]] | None,
    metrics: Sequence[str] = ("bleu", "rouge", "bertscore"),
    per_example: pd.DataFrame | None = None,
    sources: list[str | None] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Corpus figures, indexed by metric, columns `value` and `signature`.

    bleu: HF-evaluate-style corpus BLEU (0-1); sacrebleu: sacreBLEU corpus BLEU (0-100); chrf, chrfpp:
    sacreBLEU's corpus chrF and chrF++ (0-100); ROUGE, BERTScore and the faithfulness scores: means of the
    per-example scores (pass `per_example` from `score()` to reuse them); output length: mean, median and 95th
    percentile of words, and the share of empty outputs.
    """
    opts = _options(options)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    runs, _ = check_inputs(predictions, references, metrics, sources)
    mean_metrics = [m for m in runs if m in METRIC_COLUMNS and m not in ("bleu", "chrf", "length")]
    if per_example is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # check_inputs has warned once already
            per_example = score(predictions, references, mean_metrics + ["length"], sources, **options)
    sigs = signatures([m for m in runs if m != "length"] + ["length"], references, **options)
    values: dict[str, float] = {}
    for metric in runs:
        if metric == "bleu":
            values.update(corpus_bleu(predictions, references, opts["lowercase"], opts["language"]))
        elif metric == "chrf":
            values.update(corpus_chrf(predictions, references, opts["language"]))
        elif metric.startswith(evaluate_modules.PREFIX):
            location, name = evaluate_modules.location_and_name(metric)
            keep = [i for i, r in enumerate(references) if len(r)]
            result = evaluate_modules.load_module(location).compute(
                predictions=[predictions[i] for i in keep], references=[list(references[i]) for i in keep]
            )
            values.update(evaluate_modules.scalars(name, result))
        elif metric != "length":
            for column in METRIC_COLUMNS[metric]:
                column_values = per_example[column].astype(float)
                values[column] = float(np.nanmean(column_values)) if column_values.notna().any() else np.nan
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
