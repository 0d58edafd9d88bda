"""Metric-human correlation on the real SummEval expert scores (Fabbri et al. 2021) against scipy, the
bootstrap against naive item resampling, and a synthetic campaign with a good and a useless metric."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers.synthetic import make_campaign
from scipy import stats as sps

from annotations.errors import AnnotationError
from annotations.stats import correlation
from annotations.stats.correlation import metric_human_correlation, pairwise_accuracy, preference_correlation

SCIPY = {
    "kendall": lambda x, y: sps.kendalltau(x, y).statistic,  # tau-b
    "spearman": lambda x, y: sps.spearmanr(x, y).statistic,
    "pearson": lambda x, y: sps.pearsonr(x, y).statistic,
}


@pytest.fixture(scope="module")
def summeval(shared_data) -> pd.DataFrame:
    """16 systems x 100 documents with expert relevance/coherence; summary length in words as the 'metric'."""
    path = shared_data / "summeval" / "summaries.jsonl"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the SummEval data lies in /work/shared/data/summeval")
    frame = pd.DataFrame([json.loads(line) for line in path.open()]).rename(columns={"doc_id": "item_id"})
    return frame.assign(length=frame["summary"].str.split().str.len().astype(float))


@pytest.mark.parametrize("method", correlation.METHODS)
def test_levels_match_direct_scipy_computations_on_summeval(summeval, method):
    f = SCIPY[method]
    summary = metric_human_correlation(summeval, "length", "relevance", "summary", method, n_boot=200)
    per_doc = [f(g["length"], g["relevance"]) for _, g in summeval.groupby("item_id")]
    assert summary.coefficient == pytest.approx(np.nanmean(per_doc))
    assert summary.n + summary.n_skipped == 100
    means = summeval.groupby("system")[["length", "relevance"]].mean()
    system = metric_human_correlation(summeval, "length", "relevance", "system", method, n_boot=200)
    assert system.coefficient == pytest.approx(f(means["length"], means["relevance"]))
    assert system.n == 16
    pooled = metric_human_correlation(summeval, "length", "relevance", "pooled", method, n_boot=200)
    assert pooled.coefficient == pytest.approx(f(summeval["length"], summeval["relevance"]))
    assert pooled.n == 1600 and pooled.n_items == 100
    for r in (summary, system, pooled):
        assert r.ci_low <= r.coefficient <= r.ci_high


def test_summary_level_skips_and_counts_items_with_constant_scores():
    rows = []
    for item, (metric, human) in enumerate(
        [([1, 2, 3], [1, 2, 3]), ([3, 2, 1], [1, 2, 3]), ([1, 2, 3], [4, 4, 4])]
    ):
        rows += [{"item_id": item, "system": s, "m": metric[s], "h": human[s]} for s in range(3)]
    result = metric_human_correlation(pd.DataFrame(rows), "m", "h", "summary", "kendall", n_boot=0)
    assert result.n_skipped == 1 and result.n == 2
    assert result.coefficient == 0.0  # (+1 + -1) / 2, the constant item is not a zero
    constant = pd.DataFrame(rows).assign(h=1.0)
    undefined = metric_human_correlation(constant, "m", "h", "summary", "pearson")
    assert undefined.coefficient is None and "undefined in every item" in undefined.reason
    assert "constant" in metric_human_correlation(constant, "m", "h", "pooled", "spearman").reason


def test_system_level_needs_three_systems_and_inputs_are_checked():
    df = pd.DataFrame(
        {"item_id": [1, 1, 2, 2], "system": ["a", "b"] * 2, "m": [1, 2, 3, 4], "h": [2, 1, 4, 3]}
    )
    assert "at least 3 systems" in metric_human_correlation(df, "m", "h", "system", "kendall").reason
    with pytest.raises(AnnotationError, match="level must be"):
        metric_human_correlation(df, "m", "h", "corpus", "kendall")
    with pytest.raises(AnnotationError, match="method must be"):
        metric_human_correlation(df, "m", "h", "pooled", "distance")
    with pytest.raises(AnnotationError, match="not found"):
        metric_human_correlation(df, "rouge1", "h", "pooled", "kendall")


@pytest.mark.parametrize("method", ["kendall", "spearman", "pearson"])
def test_pooled_bootstrap_matches_naive_item_resampling(method):
    rng = np.random.default_rng(0)
    n_items, systems = 60, 3
    quality = rng.normal(size=(n_items, systems))
    df = pd.DataFrame(
        {
            "item_id": np.repeat(np.arange(n_items), systems),
            "system": np.tile(np.arange(systems), n_items),
            "m": (quality + rng.normal(0, 1, quality.shape)).ravel(),
            "h": np.clip(np.rint(3 + quality + rng.normal(0, 0.5, quality.shape)), 1, 5).ravel(),
        }
    )
    fast = metric_human_correlation(df, "m", "h", "pooled", method, n_boot=2000, seed=3)
    groups = [g for _, g in df.groupby("item_id")]
    naive = []
    for _ in range(800):
        sample = pd.concat([groups[i] for i in rng.integers(0, n_items, n_items)])
        naive.append(SCIPY[method](sample["m"], sample["h"]))
    low, high = np.quantile(naive, [0.025, 0.975])
    assert fast.ci_low == pytest.approx(low, abs=0.03)
    assert fast.ci_high == pytest.approx(high, abs=0.03)


@pytest.mark.parametrize("method", ["kendall", "spearman"])
def test_linearised_bootstrap_agrees_with_exact_one_on_summeval(summeval, method, monkeypatch):
    monkeypatch.setattr(correlation, "EXACT_KENDALL_MAX_ROWS", 10**6)
    monkeypatch.setattr(correlation, "EXACT_SPEARMAN_MAX_ROWS", 10**6)
    exact = metric_human_correlation(summeval, "length", "coherence", "pooled", method, n_boot=2000, seed=1)
    monkeypatch.setattr(correlation, "EXACT_KENDALL_MAX_ROWS", 0)
    monkeypatch.setattr(correlation, "EXACT_SPEARMAN_MAX_ROWS", 0)
    linear = metric_human_correlation(summeval, "length", "coherence", "pooled", method, n_boot=2000, seed=1)
    assert "linearised" in linear.ci_method and "linearised" not in exact.ci_method
    assert linear.coefficient == pytest.approx(exact.coefficient, abs=1e-12)
    assert linear.ci_low == pytest.approx(exact.ci_low, abs=0.01)
    assert linear.ci_high == pytest.approx(exact.ci_high, abs=0.01)


def test_good_metric_tracks_humans_and_useless_metric_does_not():
    c = make_campaign(n_items=300, left_biased=(), seed=9)
    human = c.scores[c.scores["criterion"] == "fluency"].groupby(["item_id", "system"])["score"].mean()
    wide = c.metrics.pivot_table(index=["item_id", "system"], columns="metric", values="value")
    frame = wide.join(human).reset_index()
    for level in ("summary", "pooled"):
        good = metric_human_correlation(frame, "good_metric", "score", level, "kendall", n_boot=500)
        useless = metric_human_correlation(frame, "useless_metric", "score", level, "kendall", n_boot=500)
        assert good.ci_low > 0.2
        assert useless.ci_low < 0 < useless.ci_high
    good = preference_correlation(c.judgments, c.metrics, "good_metric", "finetuned", "base", n_boot=500)
    assert good.metric == "good_metric" and good.level == "per-item delta"
    useless = preference_correlation(
        c.judgments, c.metrics, "useless_metric", "finetuned", "base", n_boot=500
    )
    assert good.ci_low > 0.2 and useless.ci_low < 0 < useless.ci_high
    assert good.n == 300
    acc_good = pairwise_accuracy(c.judgments, c.metrics, "good_metric", "finetuned", "base")
    acc_useless = pairwise_accuracy(c.judgments, c.metrics, "useless_metric", "finetuned", "base")
    assert acc_good.ci_low > 0.6
    assert acc_useless.ci_low < 0.5 < acc_useless.ci_high


def test_table_gives_the_same_numbers_as_single_calls(summeval):
    table = correlation.correlation_table(
        summeval, ["length"], ["relevance", "fluency"], n_boot=300
    ).set_index(["human", "level", "method"])
    for human in ("relevance", "fluency"):
        for level in correlation.LEVELS:
            for method in correlation.METHODS:
                single = metric_human_correlation(summeval, "length", human, level, method, n_boot=300)
                row = table.loc[(human, level, method)]
                assert (row["coefficient"], row["ci_low"], row["ci_high"]) == pytest.approx(
                    (single.coefficient, single.ci_low, single.ci_high)
                )


def test_preference_delta_correlation_matches_scipy_on_items():
    c = make_campaign(n_items=120, seed=10)
    result = preference_correlation(
        c.judgments, c.metrics, "good_metric", "finetuned", "base", "spearman", n_boot=0
    )
    j = c.judgments
    pref = ((j["winner"] == "finetuned").astype(float) - (j["winner"] == "base")).groupby(j["item_id"]).mean()
    m = c.metrics[c.metrics["metric"] == "good_metric"].pivot(
        index="item_id", columns="system", values="value"
    )
    delta = (m["finetuned"] - m["base"]).reindex(pref.index)
    assert result.coefficient == pytest.approx(sps.spearmanr(delta, pref).statistic)


def test_pairwise_accuracy_counts_by_hand():
    judgments = pd.DataFrame(
        {
            "item_id": ["a", "a", "a", "b", "b", "c", "d"],
            "winner": ["finetuned", "finetuned", "base", "base", "finetuned", "base", "finetuned"],
        }
    )
    metrics = pd.DataFrame(
        {
            "item_id": ["a", "a", "b", "b", "c", "c", "d", "d"],
            "system": ["base", "finetuned"] * 4,
            "metric": "rouge1",
            "value": [0.1, 0.3, 0.2, 0.5, 0.4, 0.1, 0.3, 0.3],
        }
    )
    # a: humans finetuned, metric finetuned -> agree; b: human tie -> out; c: humans base, metric base ->
    # agree; d: metric tie -> out
    result = pairwise_accuracy(judgments, metrics, "rouge1", "finetuned", "base")
    assert (result.accuracy, result.n, result.n_human_ties, result.n_metric_ties) == (1.0, 2, 1, 1)
    missing = pairwise_accuracy(judgments, metrics, "bleu", "finetuned", "base")
    assert missing.accuracy is None and missing.reason


def test_scatter_points_are_the_pooled_rows():
    c = make_campaign(n_items=50, seed=14)
    ids = c.judgments["judgment_id"].iloc[::2]
    points = correlation.metric_human_points(c.scores, c.metrics, "good_metric", "fluency", ids)
    chosen = c.scores[(c.scores["criterion"] == "fluency") & c.scores["judgment_id"].isin(set(ids))]
    expected = chosen.groupby(["item_id", "system"])["score"].mean()
    assert len(points) == len(expected)
    assert points.set_index(["item_id", "system"])["score"].sort_index().equals(expected.sort_index())
    pooled = metric_human_correlation(points, "value", "score", "pooled", "pearson", n_boot=0)
    assert pooled.coefficient == pytest.approx(sps.pearsonr(points["value"], points["score"]).statistic)


def test_scatter_points_from_the_analysis_means_are_those_of_metric_human_points():
    from annotations.stats.analysis import AnalysisOptions, analyze

    c = make_campaign(n_items=60, criteria=("fluency", "relevance"), seed=15)
    result = analyze(c.judgments, c.scores, c.metrics, AnalysisOptions(n_boot=0))
    for metric in ("good_metric", "useless_metric"):
        for human in ("fluency", "relevance"):
            expected = correlation.metric_human_points(
                c.scores, c.metrics, metric, human, result.evidence.used_judgment_ids
            )
            points = correlation.points_from_means(result.versus_metrics.means, metric, human)
            assert len(points) == len(expected) > 0
            pd.testing.assert_frame_equal(
                points[["item_id", "system", "score", "value"]].astype({"item_id": str, "system": str}),
                expected.reset_index(drop=True)[["item_id", "system", "score", "value"]].astype(
                    {"item_id": str, "system": str}
                ),
            )
    assert correlation.points_from_means(result.versus_metrics.means, "no_such_metric", "fluency").empty


def tied_campaign(n_items: int = 40, n_systems: int = 5, seed: int = 3) -> pd.DataFrame:
    """Every system on every item; human scores are means of one to three Likert ratings (halves, thirds) and
    the metric is a whole number, so resampled per-system means often tie exactly."""
    rng = np.random.default_rng(seed)
    rows = []
    for item in range(n_items):
        for s in range(n_systems):
            ratings = rng.integers(1, 6, rng.integers(1, 4))
            rows.append(
                {
                    "item_id": f"i{item:02d}",
                    "system": f"s{s}",
                    "human": ratings.mean(),
                    "metric": float(rng.integers(3, 7)),
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("method", ["kendall", "spearman"])
def test_system_level_interval_treats_exact_ties_as_ties(method):
    """The resampled per-system means are compared in exact arithmetic (fractions), so a tie is a tie, and the
    table and the single call give bit-identical intervals."""
    from fractions import Fraction

    from ft_core import resampling as bootstrap

    df = tied_campaign()
    result = metric_human_correlation(df, "metric", "human", "system", method, n_boot=300, seed=4)
    table = correlation.correlation_table(df, ["metric"], ["human"], n_boot=300, seed=4)
    row = table.set_index(["level", "method"]).loc[("system", method)]
    assert (row["ci_low"], row["ci_high"]) == (result.ci_low, result.ci_high)
    # naive, exact: the same item resamples, totals in fractions, one rounding per mean
    wide = {c: df.pivot(index="item_id", columns="system", values=c) for c in ("metric", "human")}
    weights = bootstrap.item_weights(len(wide["human"]), 300, 4).astype(int)
    exact = {
        c: [[Fraction(v).limit_denominator(6) for v in col] for col in w.to_numpy().T]
        for c, w in wide.items()
    }
    f = SCIPY[method]
    boot = []
    for w in weights:
        means = {
            c: [float(sum(wi * v for wi, v in zip(w, col)) / int(w.sum())) for col in cols]
            for c, cols in exact.items()
        }
        ties = (
            len(means["human"]) - len(set(means["human"])) + len(means["metric"]) - len(set(means["metric"]))
        )
        boot.append((f(means["metric"], means["human"]), ties))
    assert sum(t > 0 for _, t in boot) > 30  # the data do tie
    low, high = np.quantile([b for b, _ in boot], [0.025, 0.975])
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high), abs=1e-12)
