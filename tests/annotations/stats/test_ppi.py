"""PPI++ against ppi-python's numbers, and its validity in simulated campaigns with a biased judge: coverage,
never wider than human-only when the proxy is noise, narrower when it tracks."""

import numpy as np
import pytest
from helpers.judged_campaigns import judged_campaigns
from scipy import stats as sps

from annotations.errors import AnnotationError
from annotations.stats.power import items_for_half_width
from annotations.stats.ppi import (
    LAMBDA_WARNING,
    StatsInputError,
    describe,
    human_items_for_half_width,
    ppi_mean,
)


def reference_cases():
    """The arrays the reference numbers below were computed on (same code in both environments)."""
    rng = np.random.default_rng(2023)
    # a judge probability that tracks ties-included human labels
    q = rng.normal(0, 1, 650)
    y_all = np.clip(np.round(2 / (1 + np.exp(-2 * q + rng.normal(0, 1, 650)))) / 2, 0, 1)
    yhat_all = 1 / (1 + np.exp(-q + 0.3))
    yield "tracking", y_all[:50], yhat_all[:50], yhat_all[50:]
    # a noise proxy (lambda near 0)
    y = rng.integers(0, 3, 40) / 2
    yield "noise", y, rng.random(40), rng.random(400)
    # a proxy on a smaller scale than the labels (lambda clipped to 1)
    y = rng.integers(0, 2, 30).astype(float)
    yield (
        "small_scale",
        y,
        0.5 + 0.1 * (y - 0.5) + rng.normal(0, 0.01, 30),
        0.5 + 0.1 * (rng.integers(0, 2, 90) - 0.5),
    )
    # few items, as many unlabelled as labelled
    y = np.array([1, 0.5, 1, 0, 1, 1, 0.5, 0])
    yield "few", y, np.clip(y + rng.normal(0, 0.3, 8), 0, 1), rng.random(8)
    # a proxy that runs the wrong way (lambda clipped to 0)
    y = rng.integers(0, 3, 25) / 2
    yield "against", y, 1 - y + rng.normal(0, 0.2, 25), rng.random(100)


# ppi-python 0.2.3 (numpy 2.4.6), in a separate venv (`python3 -m venv /tmp/ppi && /tmp/ppi/bin/pip install
# ppi-python numpy`), on the arrays of `reference_cases()`:
#     from ppi_py import ppi_mean_ci, ppi_mean_pointestimate, classical_mean_ci
#     est = ppi_mean_pointestimate(y, yhat, yu, lam=None)
#     lo, hi = ppi_mean_ci(y, yhat, yu, alpha=0.05, lam=None)  # lam=None: `alternative` is dropped, two-sided
#     clo, chi = classical_mean_ci(y, alpha=0.05)
# (estimate, ci_low, ci_high, human ci_low, human ci_high):
PPI_PYTHON = {
    "tracking": (0.5237044077603157, 0.44887734780701166, 0.5985314677136196, 0.3974427648231833, 0.6225572351768167),  # noqa: E501
    "noise": (0.5556094537322276, 0.42674939736334216, 0.684469510101113, 0.4060786965724155, 0.6689213034275845),  # noqa: E501
    "small_scale": (0.4835135312494147, 0.3216378456900685, 0.6453892168087609, 0.32108058562828434, 0.6789194143717157),  # noqa: E501
    "few": (0.4601738585493488, 0.2546061961126522, 0.6657415209860453, 0.33771731369459396, 0.9122826863054061),  # noqa: E501
    "against": (0.58, 0.4075231693604752, 0.7524768306395246, 0.4075231693604752, 0.7524768306395246),
}  # fmt: skip


@pytest.mark.parametrize("name,y,yhat,yhat_unlabelled", list(reference_cases()), ids=list(PPI_PYTHON))
def test_matches_ppi_python(name, y, yhat, yhat_unlabelled):
    estimate, low, high, human_low, human_high = PPI_PYTHON[name]
    r = ppi_mean(y, yhat, yhat_unlabelled, small_sample=False)
    assert r.estimate == pytest.approx(estimate, abs=1e-12)
    assert (r.ci_low, r.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert (r.human_ci_low, r.human_ci_high) == pytest.approx((human_low, human_high), abs=1e-12)
    # lam read back from ppi-python's estimate: estimate = mean(y) + lam * (mean(yu) - mean(yhat))
    lam = (estimate - y.mean()) / (yhat_unlabelled.mean() - yhat.mean())
    assert r.lam == pytest.approx(lam, abs=1e-9)
    # the default differs only by the t interval's small-sample care: same estimate and lam, wider by a factor
    d = ppi_mean(y, yhat, yhat_unlabelled)
    assert d.estimate == r.estimate and d.lam == r.lam
    n = len(y)
    factor = sps.t.ppf(0.975, n - 1) / sps.norm.ppf(0.975) * np.sqrt(n / (n - 1))
    assert d.human_half_width == pytest.approx(r.human_half_width * factor, rel=1e-12)
    assert r.half_width * factor * 0.98 < d.half_width <= r.half_width * factor * (1 + 1e-12)


def test_lam_is_clipped_to_zero_and_one():
    lam = {name: ppi_mean(y, yh, yu).lam for name, y, yh, yu in reference_cases()}
    assert lam["small_scale"] == 1.0 and lam["against"] == 0.0
    assert 0 < lam["noise"] < 1 and 0 < lam["few"] < 1
    _, y, yhat, yu = [case for case in reference_cases() if case[0] == "against"][0]
    against = ppi_mean(y, yhat, yu)  # lam = 0: exactly the human-only interval
    assert against.estimate == pytest.approx(y.mean()) and against.effective_n == pytest.approx(len(y))
    assert (against.ci_low, against.ci_high) == (against.human_ci_low, against.human_ci_high)


def test_effective_n_is_the_human_sample_with_the_same_variance():
    _, y, yhat, yu = next(reference_cases())
    r = ppi_mean(y, yhat, yu)
    # a human-only interval on effective_n items with the same spread of labels is as wide as the PPI one
    human_sd = np.std(y, ddof=1)
    assert r.effective_n > len(y)
    assert human_sd / np.sqrt(r.effective_n) == pytest.approx(r.half_width / sps.t.ppf(0.975, len(y) - 1))


def test_no_unlabelled_items_is_the_human_only_interval():
    y = np.array([1, 0, 0.5, 1, 1])
    r = ppi_mean(y, y, [])
    assert (
        r.lam == 0 and r.effective_n == len(y) and (r.ci_low, r.ci_high) == (r.human_ci_low, r.human_ci_high)
    )


@pytest.mark.parametrize(
    "y,yhat,yu,message",
    [
        ([1, 0, 1], [0.5, 0.5], [0.2], "y has 3 values but yhat has 2"),
        ([1], [0.5], [0.2, 0.3], "at least 2 human-judged items"),
        ([1, np.nan], [0.5, 0.5], [0.2], "missing or infinite"),
        ([1, 0], [0.5, np.inf], [0.2], "missing or infinite"),
        ([1, 0], [0.5, 0.4], [0.2, None], "missing or infinite"),
        ([1, 2], [0.5, 0.5], [0.2], r"must lie in \[0, 1\]"),
        ([1, -0.5], [0.5, 0.5], [0.2], r"must lie in \[0, 1\]"),
        ([[1, 0]], [[0.5, 0.5]], [0.2], "flat list"),
    ],
)
def test_bad_input_is_one_line(y, yhat, yu, message):
    with pytest.raises(StatsInputError, match=message) as error:
        ppi_mean(y, yhat, yu)
    assert "\n" not in str(error.value) and isinstance(error.value, AnnotationError)


def test_bad_confidence():
    with pytest.raises(StatsInputError, match="confidence"):
        ppi_mean([1, 0], [1, 0], [1], confidence=95)


def campaign_intervals(n_labelled, **simulation):
    c = judged_campaigns(**simulation)
    results = [ppi_mean(h[:n_labelled], j[:n_labelled], j[n_labelled:]) for h, j in zip(c.human, c.judge)]
    return c.true_win_rate, results


def test_covers_the_true_win_rate_with_a_biased_judge():
    """1,000 campaigns of 1,000 items, 100 judged by humans; the judge prefers the longer output and the first
    position, so its own win rate is far off, yet the PPI interval covers the humans' win rate."""
    truth, results = campaign_intervals(100, n_campaigns=1000, n_items=1000, seed=21)
    judge = judged_campaigns(n_campaigns=1000, n_items=1000, seed=21).judge
    judge_half_width = 1.96 * judge.std(axis=1) / np.sqrt(judge.shape[1])
    # the judge alone is biased: its own interval on all 1,000 items almost never covers the humans' win rate
    assert np.mean(np.abs(judge.mean(axis=1) - truth) <= judge_half_width) < 0.05
    coverage = np.mean([r.ci_low <= truth <= r.ci_high for r in results])
    human_coverage = np.mean([r.human_ci_low <= truth <= r.human_ci_high for r in results])
    assert coverage >= 0.93 and human_coverage >= 0.93
    # and the judge was worth something: narrower on average, effective n above the 100 humans
    assert np.mean([r.half_width / r.human_half_width for r in results]) < 0.9
    assert np.median([r.effective_n for r in results]) > 120


def test_never_meaningfully_wider_when_the_proxy_is_noise():
    truth, results = campaign_intervals(
        100, n_campaigns=300, n_items=1000, judge_skill=0.0, length_bias=0.8, seed=22
    )
    ratios = np.array([r.half_width / r.human_half_width for r in results])
    lams = np.array([r.lam for r in results])
    assert np.median(lams) < 0.05 and np.mean(lams) < 0.1  # lam -> 0
    assert ratios.mean() < 1.005 and ratios.max() < 1.03
    assert np.mean([r.ci_low <= truth <= r.ci_high for r in results]) >= 0.92


def test_narrower_the_better_the_proxy_tracks():
    widths = []
    for skill in (0.5, 1.5, 4.0):
        _, results = campaign_intervals(60, n_campaigns=200, n_items=600, judge_skill=skill, seed=23)
        widths.append(np.mean([r.half_width / r.human_half_width for r in results]))
    assert widths[0] > widths[1] > widths[2] and widths[2] < 0.8


def test_plan_holds_when_the_items_are_collected():
    """Plan from a pilot of 40 human-judged items among 1,000, then judge that many and look at the
    interval."""
    c = judged_campaigns(n_campaigns=1, n_items=1000, seed=24)
    human, judge = c.human[0], c.judge[0]
    plan = human_items_for_half_width(human[:40], judge[:40], judge[40:], target_half_width=0.04)
    assert plan.total_items == 1000 and plan.items_with_proxy < plan.items_human_only
    # the human-only count is the inverted normal interval (power.items_for_half_width)
    assert plan.items_human_only == items_for_half_width(0.04, np.std(human[:40], ddof=1))
    # collect the planned items in fresh campaigns of the same process: the half-widths land near the target
    fresh = judged_campaigns(n_campaigns=40, n_items=1000, seed=25)
    n = plan.items_with_proxy
    achieved = [ppi_mean(h[:n], j[:n], j[n:]).half_width for h, j in zip(fresh.human, fresh.judge)]
    assert np.mean(achieved) == pytest.approx(0.04, rel=0.25)
    m = plan.items_human_only
    human_only = [ppi_mean(h[:m], j[:m], j[m:]).human_half_width for h, j in zip(fresh.human, fresh.judge)]
    assert np.mean(human_only) == pytest.approx(0.04, rel=0.25)


def test_plan_without_a_useful_proxy_is_the_human_only_plan():
    c = judged_campaigns(n_campaigns=1, n_items=2000, judge_skill=0.0, seed=26)
    plan = human_items_for_half_width(c.human[0][:200], c.judge[0][:200], c.judge[0][200:], 0.05)
    assert plan.items_with_proxy == pytest.approx(plan.items_human_only, rel=0.05)
    unreachable = human_items_for_half_width(c.human[0][:20], c.judge[0][:20], c.judge[0][20:40], 0.01)
    assert unreachable.items_with_proxy is None and unreachable.items_human_only > 40
    with pytest.raises(StatsInputError, match="target half-width"):
        human_items_for_half_width([1, 0], [1, 0], [1], 0)


def test_plain_sentence_and_the_warning():
    c = judged_campaigns(n_campaigns=1, n_items=600, seed=27)
    tracking = ppi_mean(c.human[0][:100], c.judge[0][:100], c.judge[0][100:])
    sentence = describe(tracking, "the judge")
    assert f"worth about {tracking.effective_n:.0f}" in sentence and "Warning" not in sentence
    noise = judged_campaigns(n_campaigns=1, n_items=600, judge_skill=0.0, seed=28)
    useless = ppi_mean(noise.human[0][:100], noise.judge[0][:100], noise.judge[0][100:])
    assert useless.lam < LAMBDA_WARNING and describe(useless).startswith("Warning")
    assert "adds nothing" in describe(ppi_mean([1, 0, 1], [1, 0, 1], []))


def test_the_planner_with_a_perfect_proxy_needs_few_human_items_and_warns_nothing():
    import warnings

    from annotations.stats.ppi import human_items_for_half_width

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sample variance at lam = 1 can dip below 0: no sqrt of it
        plan = human_items_for_half_width(y, y.copy(), rng.integers(0, 2, 400).astype(float), 0.05, 0.95)
    assert plan.items_with_proxy is not None and plan.items_with_proxy < 10 < plan.items_human_only
