"""The campaign planner (annotations.stats.power.human_items_needed): human-judged items for a target
win-rate half-width without and with a prediction-powered proxy, checked against the closed form of the
normal interval (Python's statistics.NormalDist, not scipy) and against simulated campaigns: at the planned
sizes the intervals come out at the target width."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from annotations.stats.power import human_items_needed
from annotations.stats.ppi import StatsInputError, ppi_mean


def test_without_human_data_the_figure_is_the_coin_flip_one():
    z = NormalDist().inv_cdf(0.975)
    for target in (0.03, 0.05, 0.1):
        plan = human_items_needed(target)
        assert plan.conservative and plan.n_judged == 0 and plan.items_with_proxy is None
        assert plan.items_human_only == math.ceil((z * 0.5 / target) ** 2)
    assert human_items_needed(0.05).items_human_only == 385  # the textbook figure for p = 1/2, ±5%
    # labels that all agree say nothing about the spread: still the conservative figure
    assert human_items_needed(0.05, labels=[1.0, 1.0, 1.0]).conservative


def test_human_only_figure_gives_the_target_width_in_simulated_campaigns():
    rng = np.random.default_rng(0)
    pilot = (rng.random(5000) < 0.7).astype(float)  # large: its spread is the true one
    plan = human_items_needed(0.05, labels=pilot)
    assert not plan.conservative and plan.items_human_only < 385  # p = 0.7 varies less than a coin flip
    z = NormalDist().inv_cdf(0.975)
    widths = [
        z * np.std(rng.random(plan.items_human_only) < 0.7, ddof=1) / math.sqrt(plan.items_human_only)
        for _ in range(500)
    ]
    assert abs(np.mean(widths) - 0.05) < 0.05 * 0.05  # within 5% of the target


def _population(rng, size):
    """Human labels (a win, a loss) and a proxy probability that tracks them (correlation about 0.6)."""
    latent = rng.normal(0.8, 1.5, size)
    proxy = 1 / (1 + np.exp(-latent))
    y = (rng.random(size) < proxy).astype(float)
    return y, proxy


def test_with_a_proxy_fewer_human_items_give_the_same_width_in_simulated_campaigns():
    rng = np.random.default_rng(1)
    big_n = 20_000  # items only the proxy sees
    y, proxy = _population(rng, 300 + big_n)
    pilot = ppi_mean(y[:300], proxy[:300], proxy[300:])
    plan = human_items_needed(0.04, labels=y[:300], ppi=pilot)
    assert plan.variance_ratio == pytest.approx(pilot.effective_n / 300)
    assert plan.items_with_proxy < 0.8 * plan.items_human_only  # the proxy is worth a fifth or more
    n = plan.items_with_proxy
    widths = []
    for _ in range(200):  # fresh campaigns of the planned size
        y, proxy = _population(rng, n + big_n)
        widths.append(ppi_mean(y[:n], proxy[:n], proxy[n:]).half_width)
    assert abs(np.mean(widths) - 0.04) < 0.04 * 0.08  # within 8% of the target
    human = [ppi_mean(y[:n], proxy[:n], proxy[n:]).human_half_width]
    assert human[0] > 0.04  # the same humans without the proxy fall short of it


def test_bad_targets_are_refused_in_one_line():
    with pytest.raises(StatsInputError, match="target half-width"):
        human_items_needed(0.0)
    with pytest.raises(StatsInputError, match="confidence"):
        human_items_needed(0.05, confidence=1.0)
