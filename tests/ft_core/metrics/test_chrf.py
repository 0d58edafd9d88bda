"""ft_core.metrics.chrf: sacreBLEU's chrF and chrF++ per example and per corpus, from summable statistics."""

from __future__ import annotations

import numpy as np
import pytest

from ft_core import metrics


def test_chrf_equals_sacrebleu_per_example_and_corpus(scitldr_pairs):
    from sacrebleu.metrics import CHRF

    predictions, references = scitldr_pairs(n=30)
    single = [[r[0]] for r in references]
    df = metrics.score(predictions, single, ["chrf"])
    figures = metrics.corpus(predictions, single, ["chrf"])
    for column, word_order in (("chrf", 0), ("chrfpp", 2)):
        chrf = CHRF(word_order=word_order)
        for i in range(len(predictions)):
            assert df.loc[i, column] == pytest.approx(
                chrf.sentence_score(predictions[i], single[i]).score, abs=1e-9
            )
        corpus = chrf.corpus_score(predictions, [[r[0] for r in single]]).score
        assert figures.loc[column, "value"] == pytest.approx(corpus, abs=1e-9)
        assert f"nw:{word_order}" in figures.loc[column, "signature"]
    # Several references (the same count per item, as sacreBLEU's streams need): the best one per item.
    two = [r[:2] for r in references if len(r) >= 2]
    preds2 = [p for p, r in zip(predictions, references) if len(r) >= 2]
    streams = [[r[0] for r in two], [r[1] for r in two]]
    assert metrics.corpus(preds2, two, ["chrf"]).loc["chrfpp", "value"] == pytest.approx(
        CHRF(word_order=2).corpus_score(preds2, streams).score, abs=1e-9
    )


def test_statistics_of_any_subset_give_that_subsets_corpus_score(scitldr_pairs):
    from sacrebleu.metrics import CHRF

    predictions, references = scitldr_pairs(n=20)
    single = [[r[0]] for r in references]
    stats = metrics.sufficient_statistics("chrfpp", predictions, single)
    rng = np.random.default_rng(1)
    for _ in range(3):
        rows = rng.choice(len(predictions), size=len(predictions), replace=True)  # a bootstrap resample
        expected = (
            CHRF(word_order=2)
            .corpus_score([predictions[i] for i in rows], [[single[i][0] for i in rows]])
            .score
        )
        assert metrics.corpus_from_statistics("chrfpp", stats[rows].sum(axis=0)) == pytest.approx(
            expected, abs=1e-9
        )


def test_unspaced_languages_are_segmented_for_word_ngrams_only():
    from sacrebleu.metrics import CHRF

    prediction, reference = "我们今天很高兴", "我们明天很高兴"
    df = metrics.score([prediction], [[reference]], ["chrf"], language="zh")
    # chrF's character n-grams ignore spaces: segmenting changes nothing
    assert df.loc[0, "chrf"] == pytest.approx(CHRF().sentence_score(prediction, [reference]).score)
    # chrF++ on raw Chinese sees one "word" per sentence; on segmented text, words
    raw = CHRF(word_order=2).sentence_score(prediction, [reference]).score
    segmented = CHRF(word_order=2).sentence_score(" ".join(prediction), [" ".join(reference)]).score
    assert df.loc[0, "chrfpp"] == pytest.approx(segmented) and segmented > raw
    assert "segmented:zh" in df.attrs["signatures"]["chrfpp"]


def test_items_without_references_are_nan_and_skipped_in_the_corpus():
    with pytest.warns(UserWarning, match="1 of 2 items have no reference"):
        df = metrics.score(["a cat sat", "a dog"], [["a cat sat"], []], ["chrf"])
    assert df.loc[0, "chrf"] == pytest.approx(100.0) and np.isnan(df.loc[1, "chrf"])
    with pytest.warns(UserWarning):
        figures = metrics.corpus(["a cat sat", "a dog"], [["a cat sat"], []], ["chrf"])
    assert figures.loc["chrf", "value"] == pytest.approx(100.0)
