"""Wilson and percentile intervals against statsmodels."""

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from annotations.stats import intervals


@pytest.mark.parametrize("successes,n", [(7, 10), (0, 12), (12, 12), (55, 100), (13.5, 20)])
def test_wilson_interval_matches_statsmodels(successes, n):
    low, high = intervals.wilson_interval(successes, n)
    sm_low, sm_high = proportion_confint(successes, n, method="wilson")
    assert (low, high) == pytest.approx((sm_low, sm_high))


@pytest.mark.parametrize(
    "confidence,label",
    [
        (0.95, "95% CI"),
        (0.9, "90% CI"),
        (0.99, "99% CI"),
        (0.975, "97.5% CI"),
        (0.8, "80% CI"),
        (0.9999999, "99.99999% CI"),
    ],
)
def test_ci_label_says_the_coverage_used(confidence, label):
    assert intervals.ci_label(confidence) == label
    assert intervals.percent_label(confidence) == label.removesuffix(" CI")


def test_percentile_interval_follows_the_confidence():
    samples = np.arange(1001, dtype=float)  # quantiles are exact on this grid
    assert intervals.percentile_interval(samples, 0.95) == pytest.approx((25, 975))
    assert intervals.percentile_interval(samples, 0.8) == pytest.approx((100, 900))
    assert intervals.percentile_interval(np.array([1.0, np.nan]), 0.95) == (None, None)
