"""Prediction-powered win rates: the human verdict on fewer human judgments, for the results page and the
planner.

Humans judged `n` items; a proxy (a judge's probability that the fine-tune wins, or an automatic score
difference) exists for those items and for `N` items nobody judged. PPI++ (Angelopoulos, Duchi & Zrnic 2023,
"PPI++: Efficient Prediction-Powered Inference", eq. 4 and Example 6.1; PPI: Angelopoulos et al., Science
2023) estimates the human mean as

    theta(lam) = mean(y - lam * yhat) + lam * mean(yhat_unlabelled)

which is unbiased for every fixed `lam`: the proxy's errors are measured on the judged items and subtracted.
The power-tuning weight `lam` is estimated to minimise the variance and clipped to [0, 1]; `lam = 0` is the
human-only mean, so a proxy that does not track the humans costs (asymptotically) nothing.

The interval is the CLT one. By default it takes the small-sample care of the classical t interval (variances
with n - 1, Student's t with n - 1 degrees of freedom; the human-only interval beside it gets the same),
because with the 30 to 100 human-judged items of a typical campaign the plain normal interval covers about
93.5% instead of 95%; with `small_sample=False` the estimate, lam and interval are exactly `ppi-python`'s
(`ppi_mean_pointestimate` / `ppi_mean_ci` with `lam=None`, `classical_mean_ci`), which
`tests/annotations/stats/test_ppi.py` pins. The estimate and lam are the same either way.

The unit is the item: `y` holds one value per judged item (its human labels averaged, tie = 1/2), so items
judged by several annotators (k-overlap) are not counted as independent judgments.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import special

from annotations.errors import AnnotationError


class StatsInputError(AnnotationError):
    """The arrays handed to a statistic are not what it needs (lengths, missing values, range, too few)."""


@dataclass(frozen=True)
class PPIResult:
    """A prediction-powered mean beside the human-only one, at the same confidence."""

    estimate: float  # PPI++ estimate of the human mean (the win rate of the fine-tune, tie = 1/2)
    ci_low: float
    ci_high: float
    lam: float  # power-tuning weight in [0, 1]; 0 = the proxy is ignored
    effective_n: float  # human-judged items a human-only interval would need for the same width
    n_labelled: int
    n_unlabelled: int
    human_estimate: float  # mean of y
    human_ci_low: float
    human_ci_high: float
    confidence: float = 0.95
    small_sample: bool = True  # t quantile and n - 1 variances (False: ppi-python's normal interval)
    proxy_correlation: float | None = None  # Pearson r of y and yhat on the judged items (None: a constant)
    method: str = "PPI++ (Angelopoulos, Duchi & Zrnic 2023), power-tuned lambda clipped to [0, 1]"

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    @property
    def human_half_width(self) -> float:
        return (self.human_ci_high - self.human_ci_low) / 2

    def to_dict(self) -> dict:
        return asdict(self)


def _vector(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise StatsInputError(f"{name} must be a flat list of numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise StatsInputError(f"{name} has {int(np.sum(~np.isfinite(array)))} missing or infinite values")
    return array


def check_inputs(y, yhat, yhat_unlabelled, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three arrays as floats, or a one-line StatsInputError saying what is wrong."""
    if not 0 < confidence < 1:
        raise StatsInputError(f"confidence must be between 0 and 1, got {confidence}")
    y, yhat = _vector(y, "y (human labels)"), _vector(yhat, "yhat (proxy on the judged items)")
    yhat_unlabelled = _vector(yhat_unlabelled, "yhat_unlabelled (proxy on the other items)")
    if len(y) != len(yhat):
        raise StatsInputError(
            f"y has {len(y)} values but yhat has {len(yhat)}: one proxy value per judged item"
        )
    if len(y) < 2:
        raise StatsInputError(f"at least 2 human-judged items are needed, got {len(y)}")
    if y.min() < 0 or y.max() > 1:
        raise StatsInputError(
            f"human labels must lie in [0, 1] (tie = 0.5), got values in [{y.min()}, {y.max()}]"
        )
    return y, yhat, yhat_unlabelled


def power_tuning_weight(y: np.ndarray, yhat: np.ndarray, yhat_unlabelled: np.ndarray) -> float:
    """The variance-minimising lam = cov(y, yhat) / ((1 + n/N) var(yhat over all items)), clipped to [0, 1]
    (PPI++, Example 6.1; the same moments as ppi-python's `_calc_lam_glm`); 0 without unlabelled items or when
    the proxy is constant."""
    n, big_n = len(y), len(yhat_unlabelled)
    if big_n == 0:
        return 0.0
    covariance = np.mean((y - y.mean()) * (yhat - yhat.mean()))
    variance = np.var(np.concatenate([yhat, yhat_unlabelled]), ddof=1)
    if variance <= 0:
        return 0.0
    return float(np.clip(covariance / ((1 + n / big_n) * variance), 0.0, 1.0))


def ppi_mean(y, yhat, yhat_unlabelled, confidence: float = 0.95, *, small_sample: bool = True) -> PPIResult:
    """PPI++ estimate and interval of the human mean from `y` (human labels in [0, 1], one per judged item),
    `yhat` (the proxy on those items) and `yhat_unlabelled` (the proxy on the items no human judged).

    `small_sample=False` gives ppi-python's normal interval exactly; the default widens both intervals as the
    t interval does. Reference: Angelopoulos, Duchi & Zrnic (2023), "PPI++: Efficient Prediction-Powered
    Inference"; Angelopoulos et al. (2023), "Prediction-powered inference", Science 382.
    """
    y, yhat, yhat_unlabelled = check_inputs(y, yhat, yhat_unlabelled, confidence)
    n, big_n = len(y), len(yhat_unlabelled)
    ddof = 1 if small_sample else 0
    tail = 1 - (1 - confidence) / 2
    z = float(special.stdtrit(n - 1, tail) if small_sample else special.ndtri(tail))  # t / normal quantile

    human_estimate = float(y.mean())
    human_se = float(y.std(ddof=ddof) / math.sqrt(n))

    lam = power_tuning_weight(y, yhat, yhat_unlabelled)
    rectifier = y - lam * yhat
    if big_n:
        estimate = float(lam * yhat_unlabelled.mean() + rectifier.mean())
        imputed_variance = (lam * yhat_unlabelled).var(ddof=ddof) if big_n > ddof else 0.0
        variance = imputed_variance / big_n + rectifier.var(ddof=ddof) / n
    else:
        estimate, variance = human_estimate, human_se**2
    se = math.sqrt(variance)
    effective_n = n * human_se**2 / variance if variance > 0 else float(n)
    return PPIResult(
        estimate=estimate,
        ci_low=estimate - z * se,
        ci_high=estimate + z * se,
        lam=lam,
        effective_n=float(effective_n),
        n_labelled=n,
        n_unlabelled=big_n,
        human_estimate=human_estimate,
        human_ci_low=human_estimate - z * human_se,
        human_ci_high=human_estimate + z * human_se,
        confidence=confidence,
        small_sample=small_sample,
        proxy_correlation=_correlation(y, yhat),
    )


def _correlation(y: np.ndarray, yhat: np.ndarray) -> float | None:
    if y.std() == 0 or yhat.std() == 0:
        return None
    return float(np.corrcoef(y, yhat)[0, 1])


LAMBDA_WARNING = 0.1  # below this the proxy is hardly used: say why
TRACKING = 0.2  # a proxy correlated less than this with the human labels "does not track" them


def describe(result: PPIResult, proxy: str = "the proxy") -> str:
    """A plain sentence for the results page: what the proxy was worth, or a warning when lam is near 0."""
    share = f"{result.confidence:.0%}"
    if result.n_unlabelled == 0:
        return (
            f"Every item was judged by humans, so {proxy} adds nothing: the {share} interval is the "
            "human-only one."
        )
    if result.lam < LAMBDA_WARNING and (result.proxy_correlation or 0) < TRACKING:
        return (
            f"Warning: {proxy} does not track the human judgments (lambda = {result.lam:.2f}, correlation "
            f"{result.proxy_correlation or 0:.2f}), so it adds almost nothing; the interval is about the "
            "human-only one."
        )
    if result.lam < LAMBDA_WARNING:
        return (
            f"{proxy.capitalize()} tracks the human judgments (correlation {result.proxy_correlation:.2f}) "
            f"but only {result.n_unlabelled} of {result.n_labelled + result.n_unlabelled} items lack one, so "
            f"it adds little (lambda = {result.lam:.2f}): the interval is about the human-only one."
        )
    return (
        f"With {proxy} on all {result.n_labelled + result.n_unlabelled} items, the {result.n_labelled} "
        "human-judged "
        f"items are worth about {result.effective_n:.0f} judged by humans alone: the {share} interval is "
        f"{result.half_width / result.human_half_width:.0%} as wide as the human-only one (lambda = "
        f"{result.lam:.2f})."
    )


@dataclass(frozen=True)
class PPIPlan:
    """How many human-judged items a target half-width needs, with and without the proxy."""

    target_half_width: float
    items_with_proxy: int | None  # None: not reachable within `total_items` items
    items_human_only: int
    total_items: int  # items the proxy covers (judged or not)
    confidence: float = 0.95
    method: str = "normal approximation with the current variances and lambda re-tuned for each n"

    def to_dict(self) -> dict:
        return asdict(self)


def human_items_for_half_width(
    y,
    yhat,
    yhat_unlabelled,
    target_half_width: float,
    confidence: float = 0.95,
    total_items: int | None = None,
) -> PPIPlan:
    """Human-judged items needed for a `target_half_width`, with the proxy on `total_items` items (default:
    those there are now) and without it, from the variances of the current data (Angelopoulos, Duchi &
    Zrnic 2023, eq. 4: the PPI++ variance at lam tuned for each n)."""
    y, yhat, yhat_unlabelled = check_inputs(y, yhat, yhat_unlabelled, confidence)
    if not 0 < target_half_width < 1:
        raise StatsInputError(f"target half-width must be between 0 and 1, got {target_half_width}")
    total = len(y) + len(yhat_unlabelled) if total_items is None else int(total_items)
    if total < len(y):
        raise StatsInputError(f"total_items ({total}) is below the {len(y)} items humans already judged")
    z = float(special.ndtri(1 - (1 - confidence) / 2))
    var_y = y.var(ddof=1)
    human_only = max(2, math.ceil((z * math.sqrt(var_y) / target_half_width) ** 2))
    covariance = np.cov(y, yhat)[0, 1]
    var_f = np.var(np.concatenate([yhat, yhat_unlabelled]), ddof=1)
    n = np.arange(2, total)  # judged; at least one item left for the proxy alone
    lam = np.clip(covariance / ((1 + n / (total - n)) * var_f), 0, 1) if var_f > 0 else np.zeros(len(n))
    variance = (var_y - 2 * lam * covariance + lam**2 * var_f) / n + lam**2 * var_f / (total - n)
    variance = np.maximum(variance, 0.0)  # a near-perfect proxy: the sample moments can dip below 0
    reached = np.flatnonzero(z * np.sqrt(variance) <= target_half_width)
    with_proxy = int(n[reached[0]]) if len(reached) else None
    if with_proxy is None and human_only <= total:
        with_proxy = human_only  # lam = 0 is always allowed
    return PPIPlan(target_half_width, with_proxy, human_only, total, confidence)
