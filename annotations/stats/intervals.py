"""Intervals from bootstrap samples and for proportions, and the words that label them, for every statistic
and for the report and the results page (a label must say the coverage that was actually used)."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from ft_core.resampling import percentile_interval  # noqa: F401  (the engine's, used by the statistics)

CONFIDENCES = (0.8, 0.9, 0.95, 0.975, 0.99)  # the coverages the results page offers; 0.95 is the default


def degenerate(low: float | None, high: float | None) -> bool:
    """Whether a bootstrap interval collapsed to a point (every resample gave the same value, up to rounding):
    such an interval claims a certainty the data do not hold, so callers say why instead of printing it."""
    if low is None or high is None:
        return False
    return abs(high - low) <= 1e-12 * max(1.0, abs(low), abs(high))


def half_width(low: float | None, high: float | None) -> float | None:
    """Half the width of an interval; None when either end is."""
    if low is None or high is None:
        return None
    return (high - low) / 2


def wilson_interval(
    successes: float, n: float, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion (Wilson 1927; Agresti & Coull 1998). Works with half counts."""
    if n <= 0:
        return None, None
    z = sps.norm.ppf(1 - (1 - confidence) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def percent_label(confidence: float) -> str:
    """A coverage as people write it: 0.95 -> "95%", 0.9 -> "90%", 0.975 -> "97.5%"."""
    return f"{round(100 * confidence, 6):.10g}%"


def ci_label(confidence: float) -> str:
    """The name of an interval of this coverage, for the report and the results page: 0.95 -> "95% CI". Every
    result carries the `confidence` it was computed with; label it with that, never with a constant."""
    return f"{percent_label(confidence)} CI"
