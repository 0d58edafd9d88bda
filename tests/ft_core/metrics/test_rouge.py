"""ft_core.metrics.rouge: hand-checked values and equality with Google's rouge_score (scores, rougeLsum
sentences, processes, the exact mean)."""

from __future__ import annotations

import numpy as np
import pytest

from ft_core import metrics


def test_rouge_hand_checked():
    # pred: the cat sat on the mat / ref: the cat is on the mat
    # unigrams in common: the x2, cat, on, mat = 5 of 6 each side -> F1 = 5/6
    # bigrams: {the cat, on the, the mat} = 3 of 5 each side -> F = 3/5; LCS "the cat on the mat" = 5 -> 5/6
    df = metrics.score(["the cat sat on the mat"], [["the cat is on the mat"]], ["rouge"], use_stemmer=False)
    assert df.loc[0, "rouge1"] == pytest.approx(5 / 6)
    assert df.loc[0, "rouge2"] == pytest.approx(3 / 5)
    assert df.loc[0, "rougeL"] == pytest.approx(5 / 6)
    assert df.loc[0, "rougeLsum"] == pytest.approx(5 / 6)


def test_rouge_matches_rouge_score(scitldr_pairs):
    from rouge_score import rouge_scorer

    predictions, references = scitldr_pairs()
    # Two-sentence outputs, so rougeLsum takes the summary-level path.
    predictions = [f"{p} {r[0]}" if i % 2 else p for i, (p, r) in enumerate(zip(predictions, references))]
    for stem in (True, False):
        scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=stem)
        df = metrics.score(predictions, references, ["rouge"], use_stemmer=stem, multi_ref="max")
        for i, (p, refs) in enumerate(zip(predictions, references)):
            best = scorer.score_multi([metrics.split_sentences(r) for r in refs], metrics.split_sentences(p))
            for key in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
                assert df.loc[i, key] == best[key].fmeasure  # exactly the same float
    mean_df = metrics.score(predictions, references, ["rouge"], use_stemmer=True, multi_ref="mean")
    scorer = rouge_scorer.RougeScorer(["rouge2"], use_stemmer=True)
    for i, (p, refs) in enumerate(zip(predictions, references)):
        expected = np.mean([scorer.score(r, p)["rouge2"].fmeasure for r in refs])
        assert mean_df.loc[i, "rouge2"] == pytest.approx(expected, abs=1e-15)
    # Corpus figure = plain mean of the per-example F-measures, the same every call.
    figures = metrics.corpus(predictions, references, ["rouge"])
    stemmed = metrics.score(predictions, references, ["rouge"])
    assert figures.loc["rouge1", "value"] == pytest.approx(stemmed["rouge1"].mean(), abs=1e-15)


def test_rouge_lsum_gets_one_sentence_per_line():
    from rouge_score import rouge_scorer

    prediction = "Graphs are hard. We make them easy with a new method."
    reference = "We make graphs easy. A new method helps."
    scorer = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=True)
    expected = scorer.score(
        "We make graphs easy.\nA new method helps.", "Graphs are hard.\nWe make them easy with a new method."
    )["rougeLsum"].fmeasure
    unsplit = scorer.score(reference, prediction)["rougeLsum"].fmeasure
    assert expected != pytest.approx(unsplit)  # the split matters for this pair
    df = metrics.score([prediction], [[reference]], ["rouge"])
    assert df.loc[0, "rougeLsum"] == pytest.approx(expected)
    assert metrics.split_sentences("Already\nsplit. Kept.") == "Already\nsplit. Kept."


def test_rouge_in_two_processes_equals_one():
    predictions = [f"method {i} improves graphs and proteins" for i in range(2100)]
    references = [[f"a method numbered {i % 7} improves graphs"] for i in range(2100)]
    one = metrics.score(predictions, references, ["rouge"], n_jobs=1)
    two = metrics.score(predictions, references, ["rouge"], n_jobs=2)
    assert np.array_equal(one[list(metrics.ROUGE_TYPES)].values, two[list(metrics.ROUGE_TYPES)].values)


def test_rouge_is_the_exact_mean_unlike_the_bootstrap_median_evaluate_reports(scitldr_pairs):
    # evaluate's "rouge" aggregates with rouge_score's BootstrapAggregator and reports `mid`: the median of
    # bootstrap means drawn from numpy's global random state. Ours is the plain mean, the same in every
    # process.
    from rouge_score import rouge_scorer, scoring

    predictions, references = scitldr_pairs(n=30)
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    exact = np.mean([scorer.score_multi(r, p)["rouge1"].fmeasure for p, r in zip(predictions, references)])
    mids = []
    for seed in (1, 2):
        np.random.seed(seed)
        aggregator = scoring.BootstrapAggregator()
        for p, r in zip(predictions, references):
            aggregator.add_scores(scorer.score_multi(r, p))
        mids.append(aggregator.aggregate()["rouge1"].mid.fmeasure)
    assert mids[0] != mids[1] and mids[0] != exact  # moves with the global seed, and is not the mean
    assert abs(mids[0] - exact) < 0.02  # but only slightly
    ours = [metrics.corpus(predictions, references, ["rouge"]).loc["rouge1", "value"] for _ in range(2)]
    assert ours[0] == ours[1] == pytest.approx(exact, abs=1e-15)
