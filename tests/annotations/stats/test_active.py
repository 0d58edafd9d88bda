"""Active sampling with inverse-probability weights: the probabilities keep the budget, a floor and the cap
of 1; the estimate stays unbiased and covers the true win rate when humans judge the items the judge is
least sure about; the weights matter (leaving them out biases the win rate)."""

import numpy as np
import pandas as pd
import pytest
from helpers.judged_campaigns import judged_campaigns

from annotations.stats.active import (
    MIN_SHARE,
    StatsInputError,
    active_mean,
    active_win_rate,
    judge_uncertainty,
    sampling_probabilities,
)
from annotations.stats.ppi import ppi_mean


def test_probabilities_keep_budget_floor_and_cap():
    u = judge_uncertainty(np.random.default_rng(0).random(500))
    pi = sampling_probabilities(u, budget=50)
    assert pi.sum() == pytest.approx(50) and pi.min() >= MIN_SHARE * 50 / 500 - 1e-12 and pi.max() <= 1
    assert np.corrcoef(u, pi)[0, 1] > 0.99  # more uncertain, more likely judged
    capped = sampling_probabilities(np.r_[np.full(5, 100.0), np.ones(95)], budget=20)
    assert capped[:5].tolist() == [1.0] * 5 and capped.sum() == pytest.approx(20)
    assert np.allclose(sampling_probabilities(np.zeros(10), budget=4), 0.4)  # no uncertainty: uniform


def test_unbiased_and_covers_with_active_sampling():
    c = judged_campaigns(n_campaigns=600, n_items=1000, seed=41)  # the biased judge of test_ppi.py
    rng = np.random.default_rng(42)
    estimates, covered, unweighted = [], [], []
    for human, judge in zip(c.human, c.judge):
        pi = sampling_probabilities(judge_uncertainty(judge), budget=100)
        judged = rng.random(len(pi)) < pi
        r = active_mean(np.where(judged, human, np.nan), judge, judged, pi)
        estimates.append(r.estimate)
        covered.append(r.ci_low <= c.true_win_rate <= r.ci_high)
        # the same items as if they had been drawn uniformly: ignores that uncertain items were preferred
        unweighted.append(ppi_mean(human[judged], judge[judged], judge[~judged]).estimate)
    se = np.std(estimates) / np.sqrt(len(estimates))
    assert abs(np.mean(estimates) - c.true_win_rate) < 3 * se
    assert np.mean(covered) >= 0.93
    assert abs(np.mean(unweighted) - c.true_win_rate) > 5 * se  # without the weights: biased


def test_uniform_probabilities_give_the_uniform_answer():
    """With pi = n / N the active estimate is PPI++ with the labelled items' mean weights: close to
    ppi_mean."""
    c = judged_campaigns(n_campaigns=1, n_items=2000, seed=43)
    human, judge = c.human[0], c.judge[0]
    judged = np.zeros(2000, dtype=bool)
    judged[:200] = True
    active = active_mean(human, judge, judged, np.full(2000, 0.1))
    uniform = ppi_mean(human[:200], judge[:200], judge[200:])
    assert active.estimate == pytest.approx(uniform.estimate, abs=0.01)
    assert active.half_width == pytest.approx(uniform.half_width, rel=0.15)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(probabilities=np.r_[0.0, np.full(9, 0.5)]), "in \\(0, 1\\]"),
        (dict(judged=np.r_[True, np.zeros(9, dtype=bool)]), "at least 2 human-judged"),
        (dict(yhat=np.full(9, 0.5)), "one value per item"),
        (dict(y=np.r_[2.0, np.full(9, 0.5)]), r"must lie in \[0, 1\]"),
    ],
)
def test_bad_input_is_one_line(kwargs, message):
    arguments = dict(y=np.full(10, 0.5), yhat=np.full(10, 0.5), judged=np.ones(10, dtype=bool))
    arguments["probabilities"] = np.full(10, 0.5)
    arguments.update(kwargs)
    with pytest.raises(StatsInputError, match=message) as error:
        active_mean(**arguments)
    assert "\n" not in str(error.value)
    with pytest.raises(StatsInputError, match="budget"):
        sampling_probabilities([0.1, 0.2], budget=3)


def _campaign_frames(human, judge, pi, started, judged):
    """The frames Results hands to active_win_rate: the draws as stored and the labels of the items judged
    so far."""
    items = [f"item-{i:04d}" for i in range(len(human))]
    draws = pd.DataFrame(
        {
            "item_id": items,
            "system_a": "base",
            "system_b": "finetuned",
            "judge_p_system_b": judge,
            "probability": pi,
            "drawn": judged | started,  # replaced below by the caller's draw
            "started": started,
        }
    )
    labels = pd.DataFrame({"item_id": np.array(items)[judged], "label": human[judged]})
    return labels, draws


def test_the_campaigns_weighted_win_rate_is_unbiased_and_covers_at_an_equal_budget():
    """active_win_rate as Results calls it, mid-campaign: 10 items started before the switch (pi = 1), the
    rest drawn by the judge's uncertainty (or uniformly, at the same budget of 60 of 200), and only 60% of
    the items drawn after the switch judged so far, in an order that ignores the labels."""
    c = judged_campaigns(n_campaigns=400, n_items=200, seed=44)
    rng = np.random.default_rng(45)
    results = {"judge": [], "uniform": [], "unscaled": []}
    for human, judge in zip(c.human, c.judge):
        started = np.zeros(200, dtype=bool)
        started[:10] = True
        for name, weights in (("judge", judge_uncertainty(judge[10:])), ("uniform", np.ones(190))):
            pi = np.r_[np.ones(10), sampling_probabilities(weights, budget=50)]
            drawn = started | (rng.random(200) < pi)
            judged = drawn & (started | (rng.random(200) < 0.6))
            labels, draws = _campaign_frames(human, judge, pi, started, judged)
            draws["drawn"] = drawn
            results[name].append(active_win_rate(labels, draws, "finetuned"))
            if name == "judge":  # the same data without the share of drawn items judged so far
                results["unscaled"].append(active_mean(np.where(judged, human, 0), judge, judged, pi))
    truth = c.true_win_rate
    for name in ("judge", "uniform"):
        estimates = np.array([r.estimate for r in results[name]])
        se = estimates.std() / np.sqrt(len(estimates))
        assert abs(estimates.mean() - truth) < 3 * se, name
        assert np.mean([r.ci_low <= truth <= r.ci_high for r in results[name]]) >= 0.92, name
    unscaled = np.array([r.estimate for r in results["unscaled"]])
    # the rescaling for the drawn items not judged yet matters: without it, the win rate is biased
    assert abs(unscaled.mean() - truth) > 5 * unscaled.std() / np.sqrt(len(unscaled))
    # the base's win rate: the judge's probability is turned around with the pair, so it still tracks the
    # labels (lambda well above 0) and the estimate is about the complement (lambda is fitted anew)
    labels, draws = _campaign_frames(human, judge, pi, started, judged)
    draws["drawn"] = drawn
    base = active_win_rate(labels.assign(label=1 - labels["label"]), draws, "base")
    finetuned = active_win_rate(labels, draws, "finetuned")
    assert base.lam > 0.3 and finetuned.lam > 0.3
    assert base.estimate == pytest.approx(1 - finetuned.estimate, abs=0.01)


def test_no_weighted_win_rate_before_an_item_drawn_after_the_switch_is_judged():
    human, judge = np.full(20, 0.5), np.linspace(0.1, 0.9, 20)
    started = np.arange(20) < 4
    pi = np.r_[np.ones(4), np.full(16, 0.5)]
    labels, draws = _campaign_frames(human, judge, pi, started, started)
    draws["drawn"] = started | (np.arange(20) % 2 == 0)
    with pytest.raises(StatsInputError, match="no item drawn after the switch .* is judged yet"):
        active_win_rate(labels, draws, "finetuned")
