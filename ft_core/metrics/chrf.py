"""chrF and chrF++ (Popović, 2015 and 2017) with sacreBLEU, from per-item sufficient statistics.

- `chrf`: character n-grams up to 6, beta 2 (sacreBLEU's `CHRF()`, 0-100);
- `chrfpp`: the same plus word unigrams and bigrams (chrF++, sacreBLEU's `CHRF(word_order=2)`).

Each item's statistics (hypothesis, reference and matched n-gram counts per order, of the reference with the
best F-score, sacreBLEU's rule for several references) sum over any subset of items: the corpus score is
sacreBLEU's corpus score of those items exactly, per example it is sacreBLEU's sentence score, and the paired
bootstrap of `ft_core.significance` recomputes the corpus score of each resample from the summed statistics,
as for BLEU. Character n-grams ignore spaces, so chrF works in any script; for languages written without
spaces the text is segmented first (`ft_core.metrics.tokenize.chrf_segment`) so that chrF++'s word n-grams are
words.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Sequence
from typing import Any

import numpy as np

from ft_core.metrics.tokenize import bleu_tokenizer_name, chrf_segment

CHRF_COLUMNS = ("chrf", "chrfpp")
WORD_ORDER = {"chrf": 0, "chrfpp": 2}


@functools.lru_cache(maxsize=4)
def _chrf(word_order: int) -> Any:
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=word_order)


def chrf_statistics(
    predictions: Sequence[str], references: Sequence[Sequence[str]], column: str, language: str = "en"
) -> np.ndarray:
    """sacreBLEU's chrF statistics per item (one row each, summable); NaN rows for items without a
    reference."""
    metric = _chrf(WORD_ORDER[column])
    width = 3 * (metric.char_order + metric.word_order)
    rows = []
    for prediction, refs in zip(predictions, references):
        if not refs:
            rows.append([np.nan] * width)
            continue
        info = metric._extract_reference_info([chrf_segment(r, language) for r in refs])
        rows.append(metric._compute_segment_statistics(chrf_segment(prediction, language), info))
    return np.asarray(rows, dtype=float).reshape(len(rows), width)


def chrf_from_statistics(stats: np.ndarray, column: str) -> float:
    """sacreBLEU's chrF / chrF++ (0-100) from statistics summed over items."""
    return float(_chrf(WORD_ORDER[column])._compute_score_from_stats([int(round(x)) for x in stats]).score)


def chrf_scores(
    predictions: Sequence[str], references: Sequence[Sequence[str]], language: str = "en"
) -> dict[str, np.ndarray]:
    """Per-example chrF and chrF++ (sacreBLEU's sentence scores); NaN for items without a reference."""
    out = {}
    for column in CHRF_COLUMNS:
        stats = chrf_statistics(predictions, references, column, language)
        out[column] = np.array(
            [np.nan if np.isnan(row).any() else chrf_from_statistics(row, column) for row in stats]
        )
    return out


def corpus_chrf(
    predictions: Sequence[str], references: Sequence[Sequence[str]], language: str = "en"
) -> dict[str, float]:
    """Corpus chrF and chrF++ of the items that have references."""
    out = {}
    for column in CHRF_COLUMNS:
        stats = chrf_statistics(predictions, references, column, language)
        out[column] = chrf_from_statistics(stats[~np.isnan(stats).any(axis=1)].sum(axis=0), column)
    return out


def chrf_signature(nrefs: int | str = 1, language: str = "en", sentence: bool = False) -> dict[str, str]:
    """The settings of the corpus figures, or with `sentence` of the per-example scores (`level:sentence`)."""
    version = importlib.metadata.version("sacrebleu")
    words = bleu_tokenizer_name(language)
    segmented = f"|segmented:{words}" if words in ("zh", "ja-mecab", "char") else ""
    level = "|level:sentence" if sentence else ""
    return {
        column: f"nrefs:{nrefs}|case:mixed|eff:yes|nc:6|nw:{WORD_ORDER[column]}|space:no|version:{version}|"
        f"lang:{language}{segmented}{level}"
        for column in CHRF_COLUMNS
    }
