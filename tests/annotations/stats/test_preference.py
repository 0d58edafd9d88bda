"""Win rate, sign test, Wilson, clustered bootstrap and Bradley-Terry against statsmodels and synthetic
campaigns with a known answer."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from helpers.synthetic import make_campaign
from statsmodels.stats.descriptivestats import sign_test
from statsmodels.stats.proportion import binom_test, proportion_confint

from annotations.errors import AnnotationError
from annotations.stats import preference


def tiny(winners: list[str], items: list[str] | None = None) -> pd.DataFrame:
    n = len(winners)
    left = np.where(np.arange(n) % 2 == 0, "base", "finetuned")
    right = np.where(left == "base", "finetuned", "base")
    choice = [
        w if w in ("tie", "both_bad") else ("left" if w == lf else "right") for w, lf in zip(winners, left)
    ]
    return pd.DataFrame(
        {
            "item_id": items or [f"i{i}" for i in range(n)],
            "annotator_id": "a",
            "system_a": "base",
            "system_b": "finetuned",
            "shown_left": left,
            "shown_right": right,
            "choice": choice,
            "winner": winners,
        }
    )


def test_win_rate_tie_policies_count_as_documented():
    j = tiny(["finetuned"] * 6 + ["base"] * 2 + ["tie"] * 1 + ["both_bad"] * 1)
    drop = preference.win_rate(j, tie_policy="drop", n_boot=0)
    half = preference.win_rate(j, tie_policy="half", n_boot=0)
    separate = preference.win_rate(j, tie_policy="separate", n_boot=0)
    assert (drop.wins, drop.losses, drop.ties, drop.both_bad, drop.n_judgments) == (6, 2, 1, 1, 10)
    assert drop.win_rate == 6 / 8 and drop.n_used == 8
    assert half.win_rate == 7 / 10 and half.n_used == 10
    assert separate.win_rate == 6 / 10 and separate.tie_rate == 0.2 and separate.loss_rate == 0.2
    assert (half.wilson_low, half.wilson_high) == pytest.approx(proportion_confint(7, 10, method="wilson"))
    # the sign test ignores ties whatever the policy
    assert drop.sign_test_p == pytest.approx(binom_test(6, 8, 0.5))
    assert drop.sign_test_p == pytest.approx(sign_test(np.array([1] * 6 + [-1] * 2 + [0] * 2))[1])
    assert preference.win_rate(j, system="base", opponent="finetuned", n_boot=0).win_rate == 2 / 8


def test_win_rate_degenerate_cases_say_why():
    only_ties = preference.win_rate(tiny(["tie", "tie"]), n_boot=100)
    assert only_ties.win_rate is None and "every judgment is a tie" in only_ties.reason
    assert preference.win_rate(tiny(["tie", "tie"]), tie_policy="half", n_boot=0).win_rate == 0.5
    nobody = preference.win_rate(tiny(["tie"]), system="x", opponent="y", n_boot=0)
    assert nobody.win_rate is None and "no judgments" in nobody.reason
    with pytest.raises(AnnotationError, match="tie policy"):
        preference.win_rate(tiny(["tie"]), tie_policy="ignore")
    with pytest.raises(AnnotationError, match="no judgments"):
        preference.win_rate(tiny([]).iloc[:0])


def test_clustered_bootstrap_matches_naive_item_resampling():
    j = make_campaign(n_items=150, k=3, seed=4).judgments
    fast = preference.win_rate(j, tie_policy="half", n_boot=2000, seed=1)
    # naive: draw item indices with replacement and add up each drawn item's half-win counts
    per_item = (
        j.assign(num=(j["winner"] == "finetuned") + 0.5 * j["winner"].isin(["tie", "both_bad"]), den=1.0)
        .groupby("item_id")[["num", "den"]]
        .sum()
        .to_numpy()
    )
    rng = np.random.default_rng(0)
    naive = []
    for _ in range(2000):
        drawn = per_item[rng.integers(0, len(per_item), len(per_item))]
        naive.append(drawn[:, 0].sum() / drawn[:, 1].sum())
    low, high = np.quantile(naive, [0.025, 0.975])
    assert fast.boot_low == pytest.approx(low, abs=0.015)
    assert fast.boot_high == pytest.approx(high, abs=0.015)


def test_clustered_interval_is_wider_than_wilson_when_judgments_on_an_item_agree():
    # ten identical judgments per item: really 40 independent observations, not 400
    rng = np.random.default_rng(1)
    per_item = rng.choice(["finetuned", "base"], size=40, p=[0.6, 0.4])
    j = tiny(list(np.repeat(per_item, 10)), items=list(np.repeat([f"i{i}" for i in range(40)], 10)))
    result = preference.win_rate(j, n_boot=1000)
    assert (result.boot_high - result.boot_low) > 2.5 * (result.wilson_high - result.wilson_low)


def test_known_winner_and_no_winner():
    winner = preference.win_rate(make_campaign(n_items=200, advantage=0.8, left_biased=(), seed=2).judgments)
    assert winner.boot_low > 0.5 and winner.sign_test_p < 1e-6
    even = preference.win_rate(make_campaign(n_items=200, advantage=0.0, left_biased=(), seed=3).judgments)
    # q_ft = 0.5 q_base + N(0, 1) has the same mean as q_base: no winner
    assert even.boot_low < 0.5 < even.boot_high


def three_system_judgments(seed: int = 0, n: int = 3000) -> tuple[pd.DataFrame, dict]:
    truth = {"base": 0.0, "finetuned": 1.0, "other": 0.4}
    rng = np.random.default_rng(seed)
    names = np.array(list(truth))
    pairs = np.array([rng.choice(3, 2, replace=False) for _ in range(n)])
    left, right = names[pairs[:, 0]], names[pairs[:, 1]]
    strength = np.array([truth[s] for s in names])
    p_left = 1 / (1 + np.exp(-(strength[pairs[:, 0]] - strength[pairs[:, 1]])))
    left_wins = rng.random(n) < p_left
    j = pd.DataFrame(
        {
            "item_id": [f"i{i // 3}" for i in range(n)],
            "system_a": "base",
            "system_b": "finetuned",
            "shown_left": left,
            "shown_right": right,
            "winner": np.where(left_wins, left, right),
        }
    )
    return j, truth


def test_bradley_terry_matches_logistic_regression_mle():
    j, truth = three_system_judgments()
    result = preference.bradley_terry(j, n_boot=300)
    # Independent: the BT MLE is a logistic regression of "left won" on (+1 left, -1 right), base dropped.
    design = pd.DataFrame(0.0, index=j.index, columns=["finetuned", "other"])
    for name in design:
        design[name] += (j["shown_left"] == name).astype(float) - (j["shown_right"] == name).astype(float)
    fit = sm.Logit((j["winner"] == j["shown_left"]).astype(float), design).fit(disp=0)
    table = result.table.set_index("system")
    assert table.loc["base", "strength"] == 0.0
    for name in ("finetuned", "other"):
        assert table.loc[name, "strength"] == pytest.approx(fit.params[name], abs=1e-6)
        assert table.loc[name, "ci_low"] < truth[name] < table.loc[name, "ci_high"]
    assert list(result.table["system"]) == ["finetuned", "other", "base"]


def test_bradley_terry_counts_ties_as_half_wins():
    j = tiny(["finetuned", "tie", "base", "finetuned"])
    table = preference.bradley_terry(j, n_boot=0).table.set_index("system")
    assert table.loc["finetuned", "wins"] == 2.5 and table.loc["base", "wins"] == 1.5
    # two systems: the MLE is log(wins ratio)
    assert table.loc["finetuned", "strength"] == pytest.approx(np.log(2.5 / 1.5))


def test_bradley_terry_rejects_an_unknown_reference():
    j, _ = three_system_judgments()
    with pytest.raises(AnnotationError, match="reference system 'gpt-9' was not judged"):
        preference.bradley_terry(j, reference="gpt-9", n_boot=0)
    assert (
        preference.bradley_terry(j, reference="other", n_boot=0)
        .table.set_index("system")
        .loc["other", "strength"]
        == 0
    )


def test_bradley_terry_intervals_follow_the_confidence():
    j, _ = three_system_judgments()
    wide = preference.bradley_terry(j, n_boot=300).table.set_index("system")
    narrow_result = preference.bradley_terry(j, n_boot=300, confidence=0.8)
    narrow = narrow_result.table.set_index("system")
    assert narrow_result.confidence == 0.8 and narrow_result.to_dict()["confidence"] == 0.8
    for name in ("finetuned", "other"):
        assert (
            narrow.loc[name, "ci_high"] - narrow.loc[name, "ci_low"]
            < wide.loc[name, "ci_high"] - wide.loc[name, "ci_low"]
        )
