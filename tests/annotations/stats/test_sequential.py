"""The betting confidence sequence: the vectorised computation against a plain loop over the paper's formulas,
anytime validity by simulation (a look after every item, no true difference), and the decision it allows."""

import math

import numpy as np
import pytest
from helpers.judged_campaigns import judged_campaigns
from scipy import stats as sps

from annotations.errors import AnnotationError
from annotations.stats.sequential import (
    BET_LIMIT,
    StatsInputError,
    confidence_sequence,
    decide,
    ppi_confidence_sequence,
    proxy_mean_bounds,
)


def hedged_wealth_plainly(x: list[float], m: float, alpha: float) -> list[float]:
    """Waudby-Smith & Ramdas (2024), eq. 26-27 and Theorem 3, one value at a time: the hedged wealth after
    each value for the candidate mean m, with predictable plug-in bets truncated at c = BET_LIMIT (eq. 26)
    and at c / m, c / (1 - m) (eq. 27), theta = 1/2."""
    up = down = 1.0
    total, squares, wealth = 0.0, 0.0, []
    sigma2_before = 0.25
    for t, value in enumerate(x, start=1):
        bet = min(math.sqrt(2 * math.log(2 / alpha) / (sigma2_before * t * math.log(1 + t))), BET_LIMIT)
        up *= 1 + min(bet, BET_LIMIT / m) * (value - m)
        down *= 1 - min(bet, BET_LIMIT / (1 - m)) * (value - m)
        wealth.append(max(0.5 * up, 0.5 * down))
        total += value
        mu_hat = (0.5 + total) / (t + 1)
        squares += (value - mu_hat) ** 2
        sigma2_before = (0.25 + squares) / (t + 1)
    return wealth


def test_matches_the_plain_capital_process():
    rng = np.random.default_rng(4)
    x = rng.choice([0.0, 0.5, 1.0], size=150, p=[0.25, 0.2, 0.55])
    grid_size = 50
    cs = confidence_sequence(x, alpha=0.1, grid_size=grid_size)
    for m in np.arange(1, grid_size) / grid_size:
        rejected_by = np.maximum.accumulate(np.array(hedged_wealth_plainly(list(x), m, 0.1)) >= 10)
        inside = (cs.lower < m) & (m < cs.upper)
        # a candidate strictly inside the interval was never rejected; one never rejected is inside (the ends
        # are rounded outwards to the next grid point, so they may be rejected ones)
        assert not np.any(inside & rejected_by)
        assert np.all((cs.lower <= m) & (m <= cs.upper) | rejected_by)
    assert np.all(np.diff(cs.lower) >= 0) and np.all(np.diff(cs.upper) <= 0)  # running intersection
    assert cs.upper[-1] - cs.lower[-1] < 0.4 and cs.lower[-1] > 0.5


def test_unpacks_and_is_fast_for_thousands_of_items():
    rng = np.random.default_rng(5)
    lower, upper = confidence_sequence(rng.random(5000))
    assert len(lower) == len(upper) == 5000 and np.all(lower <= upper)
    assert lower[-1] < 0.5 < upper[-1] and upper[-1] - lower[-1] < 0.1


def null_campaigns(n_campaigns: int, n_items: int, seed: int) -> np.ndarray:
    """Item labels (mean of 3 annotators, ties included) with no true difference: the win rate is exactly
    1/2."""
    c = judged_campaigns(n_campaigns=n_campaigns, n_items=n_items, advantage=0.0, seed=seed)
    assert c.true_win_rate == pytest.approx(0.5)
    return c.human


def test_a_look_after_every_item_rarely_stops_wrongly():
    """With no true difference, the share of campaigns that ever say "fine-tune better" or "base better" is at
    most alpha for the confidence sequence; a fixed-n t interval recomputed after every item errs far more."""
    alpha, n_items = 0.05, 300
    labels = null_campaigns(300, n_items, seed=31)
    ever_wrong = []
    for x in labels:
        lower, upper = confidence_sequence(x, alpha=alpha, grid_size=200)
        ever_wrong.append(np.any((lower > 0.5) | (upper < 0.5)))
    t = np.arange(1, n_items + 1)
    mean = np.cumsum(labels, axis=1) / t
    sd = np.sqrt(np.maximum(np.cumsum(labels**2, axis=1) - t * mean**2, 0) / np.maximum(t - 1, 1))
    half = sps.t.ppf(1 - alpha / 2, np.maximum(t - 1, 1)) * sd / np.sqrt(t)
    looks = t >= 10  # nobody stops before ten items
    fixed_wrong = np.any(looks & (np.abs(mean - 0.5) > half), axis=1)
    assert np.mean(ever_wrong) <= alpha
    assert np.mean(fixed_wrong) > 3 * alpha
    # at the last look alone the fixed interval is fine: peeking is what breaks it
    assert np.mean(np.abs(mean[:, -1] - 0.5) > half[:, -1]) < 2 * alpha


def test_covers_a_true_difference_at_every_time():
    truth_rate, x = 0.7, np.random.default_rng(6).choice([0.0, 0.5, 1.0], size=(200, 300), p=[0.2, 0.2, 0.6])
    sequences = [confidence_sequence(values, grid_size=200) for values in x]
    missed = [np.any((cs.lower > truth_rate) | (cs.upper < truth_rate)) for cs in sequences]
    assert np.mean(missed) <= 0.05


def test_decisions():
    assert decide([0.4, 0.52], [0.9, 0.7], delta=0.05).verdict == "finetune_better"
    assert decide(0.2, 0.45, delta=0.05).verdict == "base_better"
    same = decide([0.3, 0.47], [0.7, 0.52], delta=0.05)
    assert same.verdict == "equivalent" and same.may_stop and "±0.05" in same.message
    going = decide([0.3, 0.46], [0.7, 0.58], delta=0.05)
    assert going.verdict == "keep_going" and not going.may_stop and going.n == 2
    assert going.more_items and f"about {going.more_items} more items" in going.message
    # no difference to find and no equivalence margin: no end in sight
    stuck = decide(0.4, 0.6, delta=0.0, n=100)
    assert stuck.more_items is None and stuck.message.endswith("no end in sight at the current effect.")
    assert decide(0.4, 0.6, delta=0.05).message == "Keep going."  # scalars without n: no count to give


def test_more_items_is_roughly_what_the_campaign_then_needs():
    """Follow the advice: at about n + more items the sequence decides (within a factor of two)."""
    rng = np.random.default_rng(7)
    outcomes = []
    while len(outcomes) < 20:
        x = rng.choice([0.0, 0.5, 1.0], size=1500, p=[0.3, 0.2, 0.5])  # true win rate 0.6
        cs = confidence_sequence(x, grid_size=200)
        advice = decide(cs.lower[:100], cs.upper[:100], delta=0.02, estimate=cs.mean[99])
        if advice.verdict == "keep_going":
            decided = np.append(
                np.flatnonzero(cs.lower > 0.5), len(x)
            )  # (undecided at 1,500: counts as 1,500)
            outcomes.append((100 + advice.more_items) / (decided[0] + 1))
    assert 0.5 < np.median(outcomes) < 2


@pytest.mark.parametrize(
    "values,alpha,message",
    [
        ([0.5, 1.5], 0.05, r"must lie in \[0, 1\]"),
        ([0.5, np.nan], 0.05, "missing or infinite"),
        ([[0.5]], 0.05, "flat list"),
        ([0.5], 0.0, "alpha must be between 0 and 1"),
    ],
)
def test_bad_values_are_one_line(values, alpha, message):
    with pytest.raises(StatsInputError, match=message) as error:
        confidence_sequence(values, alpha=alpha)
    assert "\n" not in str(error.value) and isinstance(error.value, AnnotationError)


def test_bad_decisions_are_one_line():
    with pytest.raises(StatsInputError, match="delta"):
        decide(0.4, 0.6, delta=0.5)
    with pytest.raises(StatsInputError, match="no values yet"):
        decide([], [], delta=0.05)
    assert len(confidence_sequence([]).lower) == 0


def ppi_campaigns(n_campaigns: int, n_judged: int, n_pool: int, seed: int, **judge):
    """Each campaign's first `n_judged` items go to humans in order; the judge alone sees the other
    `n_pool`."""
    c = judged_campaigns(n_campaigns=n_campaigns, n_items=n_judged + n_pool, seed=seed, **judge)
    return c.human[:, :n_judged], c.judge[:, :n_judged], c.judge[:, n_judged:], c.true_win_rate


def test_ppi_sequence_with_a_biased_judge_rarely_misses_at_any_look():
    """2,000 campaigns, a judge that prefers the longer output and the first position, a look after every
    item: the share of campaigns whose sequence ever excludes the true win rate is at most alpha."""
    alpha = 0.05
    y, yhat, pool, truth = ppi_campaigns(2000, 200, 1000, seed=41, advantage=0.2)
    assert abs(np.mean(yhat) - truth) > 0.04  # the judge alone is biased
    missed, proxy_used = [], []
    for labels, proxy, unjudged in zip(y, yhat, pool):
        cs = ppi_confidence_sequence(labels, proxy, unjudged, alpha=alpha, grid_size=100)
        missed.append(np.any((cs.lower > truth) | (cs.upper < truth)))
        proxy_used.append(cs.lam.max() > 0)
        assert cs.lam[0] == 0 and cs.lam.max() <= 1
    assert np.mean(missed) <= alpha
    assert np.mean(proxy_used) > 0.9  # the proxy does enter: this is not the human-only sequence
    assert np.all(cs.lower <= cs.upper) and np.all(np.diff(cs.lower) >= 0)


def test_ppi_sequence_lam_is_predictable():
    """Changing item i changes no lam before or at i: each weight sees only the items before it."""
    rng = np.random.default_rng(3)
    y, pool = rng.random(60), rng.random(200)
    yhat = np.clip(y + rng.normal(0, 0.1, 60), 0, 1)  # a proxy that tracks, so lam moves
    base = ppi_confidence_sequence(y, yhat, pool, grid_size=50)
    changed = y.copy()
    changed[30] = 1 - changed[30]
    moved = ppi_confidence_sequence(changed, yhat, pool, grid_size=50)
    assert np.array_equal(base.lam[:31], moved.lam[:31]) and not np.array_equal(base.lam[31:], moved.lam[31:])


def stopping_times(sequences) -> np.ndarray:
    """Items until each sequence first says 'fine-tune better' (inf: never)."""
    out = []
    for cs in sequences:
        decided = np.flatnonzero(cs.lower > 0.5)
        out.append(decided[0] + 1 if len(decided) else np.inf)
    return np.array(out)


def test_a_good_proxy_decides_sooner_than_the_humans_alone():
    y, yhat, pool, truth = ppi_campaigns(60, 800, 4000, seed=43, advantage=0.3, judge_skill=4.0)
    assert truth > 0.55
    human = stopping_times(confidence_sequence(labels, grid_size=200) for labels in y)
    ppi = stopping_times(
        ppi_confidence_sequence(labels, proxy, unjudged, grid_size=200)
        for labels, proxy, unjudged in zip(y, yhat, pool)
    )
    assert np.median(ppi) < 0.9 * np.median(human)


def test_a_noise_proxy_costs_little():
    """A judge that tracks nothing: lam stays near 0 and the sequence stays close to the human-only one."""
    y, yhat, pool, _ = ppi_campaigns(40, 400, 2000, seed=44, advantage=0.3, judge_skill=0.0, length_bias=0.0)
    widths = []
    for labels, proxy, unjudged in zip(y, yhat, pool):
        ppi = ppi_confidence_sequence(labels, proxy, unjudged, grid_size=200)
        human = confidence_sequence(labels, grid_size=200)
        widths.append((ppi.upper[-1] - ppi.lower[-1]) / (human.upper[-1] - human.lower[-1]))
        assert np.median(ppi.lam[50:]) < 0.2
    assert np.median(widths) < 1.1


def test_proxy_mean_bounds_cover_and_are_tight():
    """The pool's interval covers the proxy's population mean (checked over 500 pools) and stays within a
    small factor of the CLT interval at the same level (about 1.6x for 500 items, the exact interval's price;
    1.3x for 2,000)."""
    rng = np.random.default_rng(8)
    alpha, truth, covered, ratio = 0.01, 0.3, [], []
    for _ in range(500):
        pool = rng.beta(3, 7, size=500)  # mean 0.3
        mean, low, high = proxy_mean_bounds(pool, alpha)
        covered.append(low <= truth <= high)
        ratio.append((high - low) / (2 * sps.norm.ppf(1 - alpha / 2) * pool.std(ddof=1) / math.sqrt(500)))
        assert low <= mean <= high
    assert np.mean(covered) >= 1 - alpha
    assert np.median(ratio) < 1.8


@pytest.mark.parametrize(
    "y,yhat,pool,message",
    [
        ([0.5, 1.0], [0.5], [0.2, 0.3], "one proxy value per judged item"),
        ([0.5], [1.5], [0.2, 0.3], r"yhat must lie in \[0, 1\]"),
        ([0.5], [0.5], [0.2], "at least 2 unjudged items"),
        ([0.5], [0.5], [0.2, np.nan], "yhat_unlabelled must be a flat list of finite numbers"),
        ([2.0], [0.5], [0.2, 0.3], r"must lie in \[0, 1\]"),
    ],
)
def test_ppi_sequence_bad_input_is_one_line(y, yhat, pool, message):
    with pytest.raises(StatsInputError, match=message) as error:
        ppi_confidence_sequence(y, yhat, pool)
    assert "\n" not in str(error.value)
