"""ft_core.metrics.score / corpus: lengths and signatures, evaluate modules, and the bad input they refuse."""

from __future__ import annotations

import numpy as np
import pytest

from ft_core import metrics
from ft_core.errors import ConfigError, DataError


def test_length_statistics_and_signatures():
    df = metrics.score(["one two three", "four"], [["x"], ["y"]], ["rouge"])
    assert df["output_words"].tolist() == [3, 1]
    assert df["output_chars"].tolist() == [13, 4]
    sigs = df.attrs["signatures"]
    assert "stemmer:yes" in sigs["rouge1"] and "multi_ref:max" in sigs["rougeLsum"]
    assert "bleu" not in sigs


def test_evaluate_module_by_local_path(tmp_path):
    module = tmp_path / "word_match"
    module.mkdir()
    (module / "word_match.py").write_text(
        """
import datasets
import evaluate


class WordMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="share of outputs whose first word is a reference's first word",
            citation="",
            inputs_description="",
            features=datasets.Features(
                {"predictions": datasets.Value("string"),
                 "references": datasets.Sequence(datasets.Value("string"))}
            ),
        )

    def _compute(self, predictions, references):
        hits = [p.split()[:1] in [r.split()[:1] for r in refs] for p, refs in zip(predictions, references)]
        return {"word_match": sum(hits) / len(hits)}
"""
    )
    name = f"evaluate:{module}"
    df = metrics.score(["a b", "c d"], [["a x"], ["x y"]], [name])
    assert df["word_match"].tolist() == [1.0, 0.0]
    figures = metrics.corpus(["a b", "c d"], [["a x"], ["x y"]], [name])
    assert figures.loc["word_match", "value"] == 0.5
    with pytest.raises(ConfigError, match="cannot load the evaluate module"):
        metrics.score(["a"], [["a"]], [f"evaluate:{tmp_path / 'missing_module'}"])


def test_bad_inputs_have_clear_messages():
    with pytest.raises(DataError, match="no predictions"):
        metrics.score([], [], ["rouge"])
    with pytest.raises(DataError, match="2 predictions but 1 reference lists"):
        metrics.score(["a", "b"], [["a"]], ["rouge"])
    with pytest.raises(ConfigError, match="unknown metric.*meteor.*known metrics: bleu"):
        metrics.score(["a"], [["a"]], ["meteor"])
    with pytest.raises(DataError, match="is a string"):
        metrics.score(["a"], ["a"], ["rouge"])
    with pytest.raises(ConfigError, match="multi_ref"):
        metrics.score(["a"], [["a"]], ["rouge"], multi_ref="median")
    with pytest.raises(ConfigError, match="unknown metric option"):
        metrics.score(["a"], [["a"]], ["rouge"], stemmer=True)


def test_missing_references_skip_reference_metrics_with_a_warning():
    with pytest.warns(UserWarning, match="no references: skipping bleu, rouge"):
        df = metrics.score(["an output", "another"], None, ["bleu", "rouge"])
    assert list(df.columns) == ["output_words", "output_chars"]
    with pytest.warns(UserWarning, match="1 of 2 items have no reference"):
        df = metrics.score(["an output", "another"], [["an output"], []], ["rouge"])
    assert df.loc[0, "rouge1"] == 1.0 and np.isnan(df.loc[1, "rouge1"])


def test_empty_predictions_score_zero_with_a_warning():
    with pytest.warns(UserWarning, match="1 of 2 predictions are empty"):
        df = metrics.score(["", "a cat"], [["a cat"], ["a cat"]], ["bleu", "rouge"])
    assert df.loc[0, "rouge1"] == 0.0 and df.loc[0, "bleu"] == 0.0 and df.loc[1, "rouge1"] == 1.0
