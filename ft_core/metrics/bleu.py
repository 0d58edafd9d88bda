"""BLEU twice, from per-item sufficient statistics that sum over any subset of items (Papineni et al., 2002).

A corpus figure (`corpus_bleu`: the statistics summed over the items, then one score) is not the mean of the
per-example scores (`sentence_bleu`); wherever both leave ft_core the per-example ones are named
`sentence_bleu` and `sentence_sacrebleu` (`ft_core.runfolder.SENTENCE_COLUMNS`), `bleu` and `sacrebleu` being
the corpus figures.

- `sacrebleu`: sacreBLEU (Post, 2018) on the 0-100 scale, 13a tokens, closest reference length; per example,
  sentence BLEU with exponential smoothing and effective order.
- `bleu`: the 0-1 BLEU that Hugging Face `evaluate`'s "bleu" module reports (tensorflow/nmt's `compute_bleu`:
  13a tokens of the text as given, no smoothing, brevity penalty against the *shortest* reference). With one
  reference per item and no segment ending in `-` plus a newline, the corpus `bleu` equals sacreBLEU's
  unsmoothed corpus score / 100 (see `ft_core.metrics.tokenize` for the one tokenization difference). Per
  example, unsmoothed `bleu` is 0 whenever an output shares no 4-gram with its references: compare systems on
  the corpus figure, which `ft_core.significance` resamples from these statistics (Koehn, 2004).

`language` picks sacreBLEU's tokenizer for both (`ft_core.metrics.tokenize.bleu_tokenizer_name`: 13a for
English, as before; `intl`, `zh`, `ja-mecab` or `char` for other languages).
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ft_core.metrics.tokenize import bleu_tokenizer_name, evaluate_bleu_segment, sacrebleu_segment

MAX_ORDER = 4
# Columns of `bleu_statistics`: one block per BLEU, each (output length, reference length, matches n=1..4,
# possible matches n=1..4). sacreBLEU's block uses the closest reference length, evaluate's the shortest.
SACREBLEU_BLOCK = slice(0, 2 + 2 * MAX_ORDER)
EVALUATE_BLOCK = slice(2 + 2 * MAX_ORDER, 4 + 4 * MAX_ORDER)
STATISTICS_WIDTH = 4 + 4 * MAX_ORDER


@functools.lru_cache(maxsize=16)
def _sacrebleu(lowercase: bool, sentence: bool, tokenize: str = "13a") -> Any:
    from sacrebleu.metrics import BLEU

    if sentence:
        return BLEU(tokenize=tokenize, lowercase=lowercase, effective_order=True)
    return BLEU(tokenize=tokenize, lowercase=lowercase)


def _block(bleu: Any, prediction: str, references: list[str]) -> list[int]:
    """(output length, closest and shortest reference length, matches, possible) of tokenized texts."""
    info = bleu._extract_reference_info(references)
    seg = bleu._compute_segment_statistics(prediction, info)
    return [seg[0], seg[1], min(info["ref_lens"]), *seg[2:]]


def bleu_statistics(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    lowercase: bool = False,
    language: str = "en",
) -> np.ndarray:
    """BLEU's sufficient statistics per item, summable over any subset of items; NaN rows for items without a
    reference. Columns: sacreBLEU's block (`SACREBLEU_BLOCK`: output length, closest reference length,
    matches for n = 1..4, possible matches for n = 1..4) then evaluate's (`EVALUATE_BLOCK`: the same with the
    shortest reference length, on evaluate's tokens)."""
    bleu = _sacrebleu(lowercase, False, bleu_tokenizer_name(language))
    rows = []
    for prediction, refs in zip(predictions, references):
        if not refs:
            rows.append([np.nan] * STATISTICS_WIDTH)
            continue
        sacre_texts = [sacrebleu_segment(t, lowercase, language) for t in (prediction, *refs)]
        evaluate_texts = [evaluate_bleu_segment(t, lowercase, language) for t in (prediction, *refs)]
        sacre = _block(bleu, sacre_texts[0], sacre_texts[1:])
        # Tokens differ only for segments ending in "-\n": reuse sacreBLEU's counts otherwise.
        same = evaluate_texts == sacre_texts
        evaluate = sacre if same else _block(bleu, evaluate_texts[0], evaluate_texts[1:])
        rows.append([sacre[0], sacre[1], *sacre[3:], evaluate[0], evaluate[2], *evaluate[3:]])
    return np.asarray(rows, dtype=float).reshape(len(rows), STATISTICS_WIDTH)


def bleu_from_statistics(stats: np.ndarray) -> float:
    """HF `evaluate` "bleu" (0-1; tensorflow/nmt `compute_bleu`, no smoothing) from summed statistics."""
    block = np.asarray(stats)[EVALUATE_BLOCK]
    hyp_len, ref_len = block[0], block[1]
    matches, possible = block[2 : 2 + MAX_ORDER], block[2 + MAX_ORDER :]
    precisions = [m / p if p > 0 else 0.0 for m, p in zip(matches, possible)]
    if min(precisions) <= 0 or ref_len <= 0:
        return 0.0
    geo_mean = math.exp(sum(math.log(p) for p in precisions) / MAX_ORDER)
    ratio = hyp_len / ref_len
    brevity_penalty = 1.0 if ratio > 1.0 else (math.exp(1 - 1.0 / ratio) if ratio > 0 else 0.0)
    return float(geo_mean * brevity_penalty)


def sacrebleu_from_statistics(stats: np.ndarray, lowercase: bool = False) -> float:
    """sacreBLEU's corpus score (0-100, exp smoothing as its default) from summed statistics."""
    block = [int(round(x)) for x in np.asarray(stats)[SACREBLEU_BLOCK]]
    return float(_sacrebleu(lowercase, False)._compute_score_from_stats(block).score)


def sentence_bleu(
    predictions: Sequence[str], references: Sequence[Sequence[str]], lowercase: bool, language: str = "en"
) -> dict[str, list[float]]:
    """Per-example sentence BLEU: `bleu` (unsmoothed, from the item's statistics, 0-1) and `sacrebleu`
    (sacreBLEU's sentence BLEU, 0-100). Their means over items are not the corpus figures (`corpus_bleu`)."""
    stats = bleu_statistics(predictions, references, lowercase, language)
    sentence = _sacrebleu(lowercase, True, bleu_tokenizer_name(language))
    bleu, sacre = [], []
    for prediction, refs, row in zip(predictions, references, stats):
        if not refs:
            bleu.append(np.nan)
            sacre.append(np.nan)
            continue
        bleu.append(bleu_from_statistics(row))
        sacre.append(sentence.sentence_score(prediction, list(refs)).score)
    return {"bleu": bleu, "sacrebleu": sacre}


def corpus_bleu(
    predictions: Sequence[str], references: Sequence[Sequence[str]], lowercase: bool, language: str = "en"
) -> dict[str, float]:
    """Corpus `bleu` and `sacrebleu` from the statistics of the items that have references."""
    stats = bleu_statistics(predictions, references, lowercase, language)
    sums = stats[~np.isnan(stats).any(axis=1)].sum(axis=0)
    return {"bleu": bleu_from_statistics(sums), "sacrebleu": sacrebleu_from_statistics(sums, lowercase)}


def bleu_signature(
    lowercase: bool = False, nrefs: int | str = 1, language: str = "en", sentence: bool = False
) -> dict[str, str]:
    """The settings of the corpus figures, or with `sentence` of the per-example scores (`level:sentence`;
    sacreBLEU's sentence BLEU uses the effective order)."""
    version = importlib.metadata.version("sacrebleu")
    case = "lc" if lowercase else "mixed"
    tok = _sacrebleu(lowercase, False, bleu_tokenizer_name(language)).tokenizer.signature()
    level = "|level:sentence" if sentence else ""
    return {
        "bleu": f"bleu:hf-evaluate|nrefs:{nrefs}|case:{case}|tok:{tok}|smooth:none|ref_len:shortest|"
        f"scale:0-1|lang:{language}{level}",
        "sacrebleu": f"nrefs:{nrefs}|case:{case}|eff:{'yes' if sentence else 'no'}|tok:{tok}|smooth:exp|"
        f"version:{version}|lang:{language}{level}",
    }
