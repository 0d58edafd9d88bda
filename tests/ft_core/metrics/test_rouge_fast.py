"""ft_core.metrics.rouge_fast pinned to rouge_score: every speed trick gives exactly rouge_score's floats."""

from __future__ import annotations

import numpy as np

from ft_core import metrics


def test_bit_parallel_lcs_equals_the_dynamic_programming_table():
    from rouge_score import rouge_scorer
    from rouge_score.rouge_scorer import _lcs_table

    rng = np.random.default_rng(0)
    for _ in range(300):
        a = list(rng.choice(list("abcde"), size=rng.integers(0, 40)))
        b = list(rng.choice(list("abcdef"), size=rng.integers(0, 40)))
        expected = _lcs_table(a, b)[-1][-1] if a and b else 0
        assert metrics.lcs_length(a, b) == expected
        assert metrics.lcs_indices(a, b) == rouge_scorer.lcs_ind(a, b)
    for _ in range(100):
        refs = [list(rng.choice(list("abcd"), size=rng.integers(0, 12))) for _ in range(rng.integers(1, 4))]
        cans = [list(rng.choice(list("abcde"), size=rng.integers(0, 12))) for _ in range(rng.integers(1, 4))]
        expected = rouge_scorer._summary_level_lcs(refs, cans).fmeasure
        assert metrics.summary_level_lcs_f(refs, cans) == expected


def test_pair_scorer_equals_rouge_scorer_exactly(scitldr_pairs):
    from rouge_score import rouge_scorer, tokenize

    from ft_core.metrics.rouge_fast import RougePairScorer
    from ft_core.metrics.tokenize import RougeTokenizer, split_sentences

    predictions, references = scitldr_pairs()
    # One- and two-sentence outputs, so rougeLsum takes both paths (one sentence: rougeL; else summary level).
    predictions = [f"{p} {r[0]}" if i % 2 else p for i, (p, r) in enumerate(zip(predictions, references))]
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    for stem in (True, False):
        plain = rouge_scorer.RougeScorer(types, use_stemmer=stem)
        fast = RougePairScorer(stem)
        stemmer = plain._tokenizer._stemmer if stem else None
        for prediction, refs in zip(predictions, references):
            for target in refs:
                target, candidate = split_sentences(target), split_sentences(prediction)
                expected = plain.score(target, candidate)
                assert fast.score(target, candidate) == [expected[t].fmeasure for t in types]
                tokens = RougeTokenizer(stem).tokenize(target)
                assert tokens == tokenize.tokenize(target, stemmer)
