"""Active sampling with inverse-probability weights: the probabilities keep the budget, a floor and the cap
of 1; the estimate stays unbiased and covers the true win rate when humans judge the items the judge is
least sure about; the weights matter (leaving them out biases the win rate)."""

import numpy as np
import pytest
from helpers.judged_campaigns import judged_campaigns

from annotations.stats.active import (
    MIN_SHARE,
    StatsInputError,
    active_mean,
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
