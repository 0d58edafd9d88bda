"""`analyze` on synthetic campaigns with a known winner, a position-biased annotator and a useless metric."""

import json

import numpy as np
import pytest
from helpers.synthetic import make_campaign

from annotations.errors import AnnotationError
from annotations.stats import paired_metrics, preference
from annotations.stats.analysis import AnalysisOptions, analyze
from ft_core import resampling as bootstrap


@pytest.fixture(scope="module")
def campaign():
    return make_campaign(n_items=240, n_annotators=6, fast=("ann-fast",), seed=21)


@pytest.fixture(scope="module")
def result(campaign):
    return analyze(campaign.judgments, campaign.scores, campaign.metrics, AnalysisOptions(n_boot=400))


def test_known_winner_biased_annotator_and_useless_metric(result):
    assert result.system == "finetuned" and result.opponent == "base"
    assert result.verdict.win.boot_low > 0.5
    annotators = result.biases.annotators.set_index("annotator_id")
    assert annotators.loc["ann-left", "flagged"] and annotators.loc["ann-fast", "flagged"]
    accuracy = result.versus_metrics.pairwise_accuracy.set_index("metric")
    assert accuracy.loc["good_metric", "ci_low"] > 0.5
    assert accuracy.loc["useless_metric", "ci_low"] < 0.5 < accuracy.loc["useless_metric", "ci_high"]
    pooled = result.versus_metrics.correlations.query("level == 'pooled' and method == 'kendall'").set_index(
        ["metric", "human"]
    )
    assert (pooled.loc["good_metric", "ci_low"] > 0).all()
    assert (
        (pooled.loc["useless_metric", "ci_low"] < 0) & (pooled.loc["useless_metric", "ci_high"] > 0)
    ).all()
    assert set(result.versus_metrics.correlations["level"]) == {"summary", "system", "pooled"}
    assert (
        result.versus_metrics.correlations.query("level == 'system'")["reason"]
        .str.contains("at least 3 systems")
        .all()
    )


def test_what_was_used_is_stated_and_exclusions_apply(campaign, result):
    j = campaign.judgments
    firsts = j[~j["is_repeat"] & ~j["is_gold"]]
    assert result.evidence.judgments_used == len(firsts) == result.verdict.win.n_judgments
    assert result.evidence.repeats_left_out == int(j["is_repeat"].sum())
    excluded = analyze(
        j, campaign.scores, campaign.metrics, AnalysisOptions(n_boot=100, exclude_flagged=True)
    )
    assert {"ann-left", "ann-fast"} <= set(excluded.evidence.excluded_annotators)
    kept = firsts[~firsts["annotator_id"].isin(excluded.evidence.excluded_annotators)]
    assert excluded.verdict.win.n_judgments == len(kept)
    assert excluded.agreement.table.iloc[0]["n_annotators"] == kept["annotator_id"].nunique()
    assert "ann-left" not in set(excluded.biases.position["annotator_id"])
    assert excluded.biases.annotators.set_index("annotator_id").loc["ann-left", "excluded"]
    # without the left-biased annotator, the overall share of left choices is close to one half
    overall = excluded.biases.position.set_index("annotator_id").loc["all"]
    assert abs(overall["left_share"] - 0.5) < 0.05
    by_name = analyze(j, campaign.scores, None, AnalysisOptions(n_boot=0, exclude_annotators=("ann-00",)))
    assert by_name.evidence.excluded_annotators == ["ann-00"]


def test_tie_policy_is_applied_and_all_policies_are_shown(campaign):
    half = analyze(campaign.judgments, campaign.scores, None, AnalysisOptions(n_boot=100, tie_policy="half"))
    assert half.verdict.win.tie_policy == "half"
    assert list(half.verdict.win_by_policy["tie_policy"]) == list(preference.TIE_POLICIES)
    direct = preference.win_rate(
        campaign.judgments[~campaign.judgments["is_repeat"] & ~campaign.judgments["is_gold"]],
        tie_policy="half",
    )
    assert half.verdict.win.win_rate == direct.win_rate
    with pytest.raises(AnnotationError, match="tie_policy must be one of"):
        AnalysisOptions(tie_policy="coin")


def test_export_shapes_are_json_and_deterministic(campaign, result):
    again = analyze(campaign.judgments, campaign.scores, campaign.metrics, AnalysisOptions(n_boot=400))
    assert json.dumps(result.to_dict(), sort_keys=True) == json.dumps(again.to_dict(), sort_keys=True)
    table = result.statistics_table()
    assert {"statistic", "value", "ci_low", "ci_high", "n", "seed", "method"} <= set(table.columns)
    assert (table["statistic"] == "krippendorff_alpha").sum() == len(result.agreement.table)
    assert result.environment["numpy"] == np.__version__


def test_more_than_two_systems_gets_bradley_terry():
    c = make_campaign(n_items=150, seed=22)
    j = c.judgments.copy()
    third = j.index[::3]
    # a third system replaces base in every third judgment and loses most of the time
    j.loc[third, "shown_left"] = j.loc[third, "shown_left"].replace("base", "other")
    j.loc[third, "shown_right"] = j.loc[third, "shown_right"].replace("base", "other")
    j.loc[third, "winner"] = np.where(j.loc[third, "winner"] == "base", "other", j.loc[third, "winner"])
    out = analyze(j, None, None, AnalysisOptions(n_boot=100))
    assert out.verdict.bradley_terry is not None
    assert set(out.verdict.bradley_terry.table["system"]) == {"base", "finetuned", "other"}
    assert out.verdict.bradley_terry.table.iloc[0]["system"] == "finetuned"


def test_nothing_to_analyse_says_so(campaign):
    with pytest.raises(AnnotationError, match="no judgments yet"):
        analyze(campaign.judgments.iloc[:0])
    everyone = tuple(campaign.judgments["annotator_id"].unique())
    with pytest.raises(AnnotationError, match="no judgments are left"):
        analyze(campaign.judgments, options=AnalysisOptions(exclude_annotators=everyone))


def test_scale_bench_runs_at_small_size():
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[3] / "bench" / "analysis_scale.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--judgments", "3000", "--repeats", "1", "--skip-page"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "all statistics, 1,000 resamples" in done.stdout


def test_correlations_computed_beside_the_rest_equal_a_sequential_run(campaign):
    """The correlations analyze computes beside the other statistics must equal the same functions run one
    after the other, and two runs must give the same numbers (shared bootstrap resamples, no race)."""
    import pandas as pd

    from annotations.stats import analysis

    options = AnalysisOptions(n_boot=200)
    first = analyze(campaign.judgments, campaign.scores, campaign.metrics, options)
    bootstrap.item_weights.cache_clear()
    second = analyze(campaign.judgments, campaign.scores, campaign.metrics, options)
    assert json.dumps({**first.to_dict(), "environment": None}, sort_keys=True) == json.dumps(
        {**second.to_dict(), "environment": None}, sort_keys=True
    )
    evidence = campaign.judgments[~campaign.judgments.is_repeat & ~campaign.judgments.is_gold]
    scores = campaign.scores[campaign.scores.judgment_id.isin(evidence.judgment_id)]
    metrics = campaign.metrics[campaign.metrics.item_id.isin(evidence.item_id)]
    pairs = paired_metrics.metric_pairs(metrics, first.system, first.opponent)
    alone = analysis.metrics_versus_humans(
        scores, metrics, evidence, first.system, first.opponent, options, pairs[0] - pairs[1]
    )
    pd.testing.assert_frame_equal(first.versus_metrics.correlations, alone.correlations)
    pd.testing.assert_frame_equal(first.versus_metrics.preference_correlations, alone.preference_correlations)
    pd.testing.assert_frame_equal(first.versus_metrics.pairwise_accuracy, alone.pairwise_accuracy)


def test_every_interval_follows_the_confidence_asked_for(campaign):
    """A label can say the coverage used only if every result carries it and every interval was computed with
    it (Krippendorff's alpha used a fixed 95% before)."""
    from annotations.stats.intervals import ci_label

    j, s, m = campaign.judgments, campaign.scores, campaign.metrics
    wide = analyze(j, s, m, AnalysisOptions(n_boot=300))
    narrow = analyze(j, s, m, AnalysisOptions(n_boot=300, confidence=0.8))
    for result, confidence in ((wide, 0.95), (narrow, 0.8)):
        assert result.verdict.win.confidence == result.power.confidence == confidence
        for table in (
            result.agreement.table,
            result.versus_metrics.correlations,
            result.versus_metrics.preference_correlations,
            result.versus_metrics.pairwise_accuracy,
        ):
            assert (table["confidence"] == confidence).all()
    assert (
        ci_label(narrow.verdict.win.confidence) == "80% CI"
        and ci_label(wide.verdict.win.confidence) == "95% CI"
    )

    def width(low, high):
        return np.asarray(high, dtype=float) - np.asarray(low, dtype=float)

    assert width(narrow.verdict.win.boot_low, narrow.verdict.win.boot_high) < width(
        wide.verdict.win.boot_low, wide.verdict.win.boot_high
    )
    assert width(narrow.verdict.win.wilson_low, narrow.verdict.win.wilson_high) < width(
        wide.verdict.win.wilson_low, wide.verdict.win.wilson_high
    )
    tables = {
        "agreement": lambda a: a.agreement.table,
        "correlations": lambda a: a.versus_metrics.correlations,
        "pairwise_accuracy": lambda a: a.versus_metrics.pairwise_accuracy,
        "criteria": lambda a: a.verdict.criteria,
        "metric_table": lambda a: a.verdict.metric_table,
    }
    for name, table in tables.items():
        n, w = table(narrow).dropna(subset=["ci_low"]), table(wide).dropna(subset=["ci_low"])
        assert len(n) == len(w) > 0, name
        assert (width(n["ci_low"], n["ci_high"]) < width(w["ci_low"], w["ci_high"])).all(), name
    with pytest.raises(AnnotationError, match=r"confidence must be in \(0, 1\), got 95"):
        AnalysisOptions(confidence=95)


def test_bradley_terry_only_when_more_than_two_systems_were_shown(campaign, result):
    assert result.verdict.bradley_terry is None  # two systems: the win rate says it all
    j = campaign.judgments.copy()
    swap = (j["shown_left"] == "base") & (j.index % 4 == 0)  # a third system in some comparisons
    j.loc[swap, "shown_left"] = "other"
    j.loc[swap & (j["winner"] == "base"), "winner"] = "other"
    three = analyze(j, campaign.scores, campaign.metrics, AnalysisOptions(n_boot=50))
    assert three.verdict.bradley_terry is not None
    assert set(three.verdict.bradley_terry.table["system"]) == {"base", "finetuned", "other"}
