"""ROUGE-1/2/L/Lsum (Lin, 2004) as Google's `rouge_score` computes them: F-measure per example, corpus = mean.

Unlike `evaluate`'s "rouge" (which by default reports the median of a bootstrap over the mean, with a seed
drawn from numpy's global state, so the figure moves slightly between runs), this mean is exact and identical
in every process. rougeLsum treats newline-separated lines as sentences, so each sentence goes on its own line
first (`ft_core.metrics.tokenize.split_sentences`; texts that already hold newlines are kept as they are).
Several references combine by `max` (rouge_score's `score_multi`: the reference with the best F-measure) or
`mean`. The per-pair arithmetic is `ft_core.metrics.rouge_fast` (the same floats as rouge_score, faster).
`language` chooses the tokenizer, stemmer and sentence splitter (`ft_core.metrics.tokenize`): English is
rouge_score's exactly; other languages keep their letters and diacritics and get their own stemmer (XL-Sum's
multilingual ROUGE, Hasan et al., 2021).
"""

from __future__ import annotations

import importlib.metadata
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

import numpy as np

from ft_core.metrics.rouge_fast import pair_scorer
from ft_core.metrics.tokenize import rouge_tokens_name, split_sentences

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
PARALLEL_FROM = 2000  # fewer pairs are scored in-process: a pool costs more than it saves


class _Chunk(NamedTuple):
    predictions: list[str]
    references: list[list[str]]
    use_stemmer: bool
    multi_ref: str
    split: bool
    language: str


def _score_chunk(chunk: _Chunk) -> list[list[float]]:
    scorer = pair_scorer(chunk.use_stemmer, chunk.language)
    rows = []
    for prediction, refs in zip(chunk.predictions, chunk.references):
        if not refs:
            rows.append([np.nan] * len(ROUGE_TYPES))
            continue
        if chunk.split:
            prediction = split_sentences(prediction, chunk.language)
            refs = [split_sentences(r, chunk.language) for r in refs]
        per_ref = np.array([scorer.score(r, prediction) for r in refs])
        if chunk.multi_ref == "max":  # the reference with the best F per type, as rouge_score's score_multi
            rows.append(per_ref.max(axis=0).tolist())
        else:
            rows.append([float(np.mean(per_ref[:, i])) for i in range(len(ROUGE_TYPES))])
    return rows


def rouge_scores(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    use_stemmer: bool,
    multi_ref: str,
    split: bool,
    n_jobs: int,
    language: str = "en",
) -> dict[str, np.ndarray]:
    """Per-example F-measures of each ROUGE type; NaN for items without a reference.

    n_jobs: processes for 2,000+ pairs (0 = all cores); fewer pairs are scored in this process.
    """
    n_jobs = (os.cpu_count() or 1) if n_jobs == 0 else max(1, n_jobs)
    chunk = _Chunk(list(predictions), [list(r) for r in references], use_stemmer, multi_ref, split, language)
    if n_jobs == 1 or len(predictions) < PARALLEL_FROM:
        rows = _score_chunk(chunk)
    else:
        bounds = np.linspace(0, len(predictions), n_jobs + 1).astype(int)
        chunks = [
            chunk._replace(predictions=chunk.predictions[a:b], references=chunk.references[a:b])
            for a, b in zip(bounds, bounds[1:])
        ]
        with ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            rows = [row for part in pool.map(_score_chunk, chunks) for row in part]
    array = np.asarray(rows, dtype=float).reshape(len(predictions), len(ROUGE_TYPES))
    return {t: array[:, i] for i, t in enumerate(ROUGE_TYPES)}


def rouge_signature(use_stemmer: bool, multi_ref: str, split_sentences: bool, language: str = "en") -> str:
    version = importlib.metadata.version("rouge-score")
    lsum = "punctuation-newlines" if split_sentences else "as-given"
    return (
        f"rouge_score:{version}|lang:{language}|{rouge_tokens_name(language, use_stemmer)}|"
        f"multi_ref:{multi_ref}|lsum_sentences:{lsum}|aggregate:mean-F"
    )
