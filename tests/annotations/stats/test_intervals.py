"""Wilson and percentile intervals against statsmodels."""

import pytest
from statsmodels.stats.proportion import proportion_confint

from annotations.stats import intervals


@pytest.mark.parametrize("successes,n", [(7, 10), (0, 12), (12, 12), (55, 100), (13.5, 20)])
def test_wilson_interval_matches_statsmodels(successes, n):
    low, high = intervals.wilson_interval(successes, n)
    sm_low, sm_high = proportion_confint(successes, n, method="wilson")
    assert (low, high) == pytest.approx((sm_low, sm_high))
