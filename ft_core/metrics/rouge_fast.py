"""ROUGE's speed tricks, in one place: the same floats as Google's `rouge_score`, several times faster.

`tests/ft_core/metrics/test_rouge_fast.py` pins every function here to the `rouge_score` function it replaces
(same tokens, same LCS table, same backtracking, exactly equal floats), so `ft_core.metrics.rouge` stays a
plain reading of ROUGE (Lin, 2004) while this module makes it fast:

- tokens and n-grams of each text are computed once (references recur across systems and seeds);
- the LCS length is bit-parallel (Allison & Dix, 1986; Hyyrö, 2004) instead of a dynamic-programming table;
- rougeLsum of two one-sentence texts is rougeL (the union LCS of one sentence pair is that pair's LCS).

For languages other than English the same arithmetic runs on `ft_core.metrics.tokenize.UnicodeTokenizer`'s
tokens; only the tokenizer differs.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import NamedTuple

from ft_core.metrics.tokenize import rouge_tokenizer


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison & Dix, 1986; Hyyrö, 2004).

    The same number as rouge_score's dynamic-programming table, in O(len(b)) big-integer steps.
    """
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    row = (1 << len(a)) - 1
    for token in b:
        matches = row & masks.get(token, 0)
        row = (row + matches) | (row - matches)
    return len(a) - (row & ((1 << len(a)) - 1)).bit_count()


def lcs_indices(ref: list[str], can: list[str]) -> list[int]:
    """Positions in `ref` of the LCS that rouge_score's `lcs_ind` returns (same table, same backtracking).

    Row i of the LCS table is read from the bit vector after i tokens of `ref`: table[i][j] is the number of
    zero bits among the lowest j (Hyyrö, 2004), so the backtracking makes exactly rouge_score's choices.
    """
    masks: dict[str, int] = {}
    for j, token in enumerate(can):
        masks[token] = masks.get(token, 0) | (1 << j)
    full = (1 << len(can)) - 1
    rows = [full]
    for token in ref:
        row = rows[-1]
        matches = row & masks.get(token, 0)
        rows.append(((row + matches) | (row - matches)) & full)

    def table(i: int, j: int) -> int:
        return j - (rows[i] & ((1 << j) - 1)).bit_count()

    i, j, lcs = len(ref), len(can), []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            lcs.append(i - 1)
            i, j = i - 1, j - 1
        elif table(i, j - 1) > table(i - 1, j):
            j -= 1
        else:
            i -= 1
    return lcs[::-1]


def summary_level_lcs_f(ref_sents: list[list[str]], can_sents: list[list[str]]) -> float:
    """rouge_score's `_summary_level_lcs` F-measure (ROUGE-Lsum, Lin 2004 section 3.2, with ROUGE-1.5.5's
    guard against counting a token twice), on `lcs_indices`."""
    from rouge_score import scoring

    m, n = sum(map(len, ref_sents)), sum(map(len, can_sents))
    if not ref_sents or not can_sents or not m or not n:
        return 0.0
    ref_counts, can_counts = Counter(), Counter()
    for sentence in ref_sents:
        ref_counts.update(sentence)
    for sentence in can_sents:
        can_counts.update(sentence)
    hits = 0
    for ref in ref_sents:
        union = sorted(set().union(*(lcs_indices(ref, can) for can in can_sents)))
        for token in (ref[i] for i in union):
            if can_counts[token] > 0 and ref_counts[token] > 0:
                hits += 1
                can_counts[token] -= 1
                ref_counts[token] -= 1
    return scoring.fmeasure(hits / n, hits / m)


class TextNgrams(NamedTuple):
    """A text's tokens and its unigram and bigram counts, as rouge_score builds them."""

    tokens: list[str]
    unigrams: Counter
    bigrams: Counter


class RougePairScorer:
    """rouge1/2/L/Lsum F-measures of one (target, prediction) pair, with rouge_score's n-gram and
    summary-level functions and the language's tokenizer: for English `RougeScorer.score`'s numbers, faster
    (see above)."""

    def __init__(self, use_stemmer: bool, language: str = "en"):
        self.tokenize = rouge_tokenizer(language, use_stemmer).tokenize
        self.ngrams = functools.lru_cache(2**16)(self._ngrams)

    def _ngrams(self, text: str) -> TextNgrams:
        from rouge_score.rouge_scorer import _create_ngrams

        tokens = self.tokenize(text)
        return TextNgrams(tokens, _create_ngrams(tokens, 1), _create_ngrams(tokens, 2))

    def score(self, target: str, prediction: str) -> list[float]:
        from rouge_score import scoring
        from rouge_score.rouge_scorer import _score_ngrams

        ours, theirs = self.ngrams(target), self.ngrams(prediction)
        rouge1 = _score_ngrams(ours.unigrams, theirs.unigrams).fmeasure
        rouge2 = _score_ngrams(ours.bigrams, theirs.bigrams).fmeasure
        if not ours.tokens or not theirs.tokens:
            rouge_l = 0.0
        else:
            lcs = lcs_length(ours.tokens, theirs.tokens)
            rouge_l = scoring.fmeasure(lcs / len(theirs.tokens), lcs / len(ours.tokens))
        target_lines = [x for x in target.split("\n") if len(x)]
        prediction_lines = [x for x in prediction.split("\n") if len(x)]
        if len(target_lines) == 1 and len(prediction_lines) == 1:
            rouge_lsum = rouge_l
        else:
            rouge_lsum = summary_level_lcs_f(
                [self.tokenize(x) for x in target_lines], [self.tokenize(x) for x in prediction_lines]
            )
        return [rouge1, rouge2, rouge_l, rouge_lsum]


@functools.lru_cache(maxsize=8)
def pair_scorer(use_stemmer: bool, language: str = "en") -> RougePairScorer:
    """One scorer per stemmer setting, language and process, so its caches serve every call."""
    return RougePairScorer(use_stemmer, language)
