"""ft_core.metrics.faithfulness: novel n-grams and unsupported numbers and names, checked by hand, in several
languages, through `score(..., sources=...)`."""

from __future__ import annotations

import numpy as np
import pytest

from ft_core import metrics
from ft_core.errors import DataError

SOURCE = "The Senate passed the budget of 1,200 million dollars on Tuesday after a debate led by Maria Silva."


def test_novel_ngrams_by_hand():
    output = "The Senate passed the budget on Monday"
    # words: the senate passed the budget on monday (7); source words include all but "monday"
    # 1-grams: monday novel -> 1/7; 2-grams (6): the senate, senate passed, passed the, the budget are in the
    # source; "budget on" (source: "budget of") and "on monday" are not -> 2/6
    # 3-grams (5): the senate passed, senate passed the, passed the budget in; "the budget on", "budget on
    # monday" not -> 2/5; 4-grams (4): the first two in, the last two not -> 2/4
    df = metrics.score([output], None, ["novelty"], sources=[SOURCE])
    assert df.loc[0, "novel_1gram"] == pytest.approx(1 / 7)
    assert df.loc[0, "novel_2gram"] == pytest.approx(2 / 6)
    assert df.loc[0, "novel_3gram"] == pytest.approx(2 / 5)
    assert df.loc[0, "novel_4gram"] == pytest.approx(2 / 4)
    copied = metrics.score([SOURCE], None, ["novelty"], sources=[SOURCE])
    assert copied[list(metrics.METRIC_COLUMNS["novelty"])].to_numpy().tolist() == [[0.0] * 4]
    short = metrics.score(["Budget"], None, ["novelty"], sources=[SOURCE])
    assert short.loc[0, "novel_1gram"] == 0.0 and np.isnan(short.loc[0, "novel_2gram"])  # one word: no bigram


def test_novel_ngrams_in_portuguese_and_chinese():
    source = "A eleição não terminou e a apuração continua."
    # words: a eleição não terminou | the source has a eleição não terminou e apuração continua:
    # no novel word; with "ação" instead of "eleição" (rouge_score would see "a", "o" fragments in both),
    # 1 of 4 words and 2 of 3 bigrams are novel
    df = metrics.score(
        ["A eleição não terminou", "A ação não terminou"],
        None,
        ["novelty"],
        sources=[source] * 2,
        language="pt",
    )
    assert df["novel_1gram"].tolist() == [0.0, pytest.approx(1 / 4)]
    assert df["novel_2gram"].tolist() == [0.0, pytest.approx(2 / 3)]
    zh = metrics.score(["我们明天很高兴"], None, ["novelty"], sources=["我们今天很高兴"], language="zh")
    assert zh.loc[0, "novel_1gram"] == pytest.approx(1 / 4)  # jieba: 我们 明天 很 高兴; 明天 is new


def test_unsupported_numbers_and_entities_by_hand():
    outputs = [
        # 1200 = 1,200; all supported
        "The Senate passed a budget of 1200 million dollars, said Maria Silva.",
        # 3, 1500; John Smith NASA
        "The Senate passed 3 budgets worth 1,500 million, said John Smith of NASA.",
        "On Tuesday the senate voted.",  # sentence-initial "On" is not a name; "senate" lower case is not one
    ]
    df = metrics.score(outputs, None, ["unsupported"], sources=[SOURCE] * 3)
    assert df["unsupported_numbers"].tolist() == [0, 2, 0]
    assert df["unsupported_entities"].tolist() == [0, 3, 0]


def test_unsupported_in_other_languages_and_scripts():
    source_pt = "O Senado aprovou 3,5 bilhões de reais na terça-feira, disse Ana Souza."
    df = metrics.score(
        ["Segundo Ana Souza, o Senado aprovou 3.5 bilhões.", "O Senado de Portugal aprovou 2 bilhões."],
        None,
        ["unsupported"],
        sources=[source_pt] * 2,
        language="pt",
    )
    # 3.5 and 3,5 are one number; Ana Souza Senado supported | 2 unsupported, Portugal unsupported, Senado not
    assert df["unsupported_numbers"].tolist() == [0, 1]
    assert df["unsupported_entities"].tolist() == [0, 1]
    # Arabic-Indic digits are numbers too; Arabic has no capital letters: no entities (NaN), with numbers
    ar = metrics.score(
        ["زار ٣ رؤساء المدينة"], None, ["unsupported"], sources=["زار رئيسان المدينة"], language="ar"
    )
    assert ar.loc[0, "unsupported_numbers"] == 1 and np.isnan(ar.loc[0, "unsupported_entities"])


def test_sources_are_required_and_paired():
    with pytest.warns(UserWarning, match="no sources: skipping novelty, unsupported"):
        df = metrics.score(["an output"], [["a reference"]], ["rouge", "novelty", "unsupported"])
    assert "rouge1" in df and "novel_1gram" not in df
    with pytest.raises(DataError, match="2 predictions but 1 sources"):
        metrics.score(["a", "b"], None, ["novelty"], sources=["a"])
    # a missing source for one item: NaN for that item only
    df = metrics.score(["a b", "a b"], None, ["novelty", "unsupported"], sources=["a b", None])
    assert df.loc[0, "novel_1gram"] == 0.0 and np.isnan(df.loc[1, "novel_1gram"])
    assert np.isnan(df.loc[1, "unsupported_numbers"])


def test_corpus_figures_are_means_and_signatures_name_the_language():
    outputs = ["The Senate passed the budget on Monday", SOURCE]
    figures = metrics.corpus(outputs, None, ["novelty", "unsupported"], sources=[SOURCE] * 2, language="en")
    assert figures.loc["novel_1gram", "value"] == pytest.approx((1 / 7 + 0) / 2)
    assert figures.loc["unsupported_numbers", "value"] == 0.0
    assert "lang:en" in figures.loc["novel_2gram", "signature"]
    assert metrics.HIGHER_IS_BETTER["novel_1gram"] is False and metrics.HIGHER_IS_BETTER["likelihood"] is True
