"""Position bias, length bias, speed and the annotator table against statsmodels and synthetic campaigns with
planted annotators."""

import numpy as np
import pytest
from helpers.synthetic import make_campaign
from statsmodels.stats.proportion import binom_test

from annotations.stats import agreement, quality


def test_position_bias_finds_the_biased_annotator():
    j = make_campaign(n_items=300, n_annotators=6, seed=6).judgments
    table = quality.position_bias(j).set_index("annotator_id")
    left = table.loc["ann-left"]
    assert left["left_share"] > 0.8
    assert left["p_value"] == pytest.approx(binom_test(int(left["left"]), int(left["n"]), 0.5))
    assert (table.drop(index=["ann-left", "all"])["p_value"] > 0.01).all()


def test_length_bias_detects_a_length_preferring_campaign_and_not_a_fair_one():
    j = make_campaign(n_items=300, left_biased=(), seed=7).judgments
    fair = quality.length_bias(j)
    assert fair.p_value > 0.01
    # make the longer output win every decisive judgment
    decisive = j["choice"].isin(["left", "right"])
    longer_left = j["left_length"] > j["right_length"]
    rigged = j.copy()
    rigged.loc[decisive, "choice"] = np.where(longer_left[decisive], "left", "right")
    biased = quality.length_bias(rigged)
    unequal = (j["left_length"] != j["right_length"]) & decisive
    assert biased.n == int(unequal.sum()) and biased.share == 1.0 and biased.p_value < 1e-10
    assert quality.length_bias(j.iloc[:0]).reason is not None


def test_annotator_table_flags_the_planted_annotators_only():
    j = make_campaign(n_items=400, n_annotators=7, fast=("ann-fast",), seed=8).judgments
    firsts = j[~j["is_repeat"]].rename(columns={"winner": "value"})
    table = quality.annotator_table(
        j, agreement.majority_agreement(firsts), agreement.gold_agreement(j), agreement.self_consistency(j)
    ).set_index("annotator_id")
    assert "position bias" in table.loc["ann-left", "flags"]
    assert "too fast" in table.loc["ann-fast", "flags"]
    honest = table.drop(index=["ann-left", "ann-fast"])
    assert not honest["flags"].str.contains("position|too fast|gold").any()
    assert table.loc["ann-fast", "median_s"] < 2 and honest["fast_share"].max() < 0.05
    pace = quality.speed(j).set_index("annotator_id")
    assert pace.loc["all", "median_s"] == pytest.approx(j["duration_s"].median())


def test_vectorised_binomial_test_matches_statsmodels():
    ks, ns = zip(*[(k, n) for n in range(1, 40) for k in range(n + 1)])
    expected = [binom_test(k, n, 0.5) for k, n in zip(ks, ns)]
    assert quality._two_sided_binomial_half(np.array(ks), np.array(ns)) == pytest.approx(expected, abs=1e-12)
