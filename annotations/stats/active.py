"""Humans where they matter: choose which items humans judge by the judge's uncertainty, and keep the win rate
unbiased with inverse-probability weights (active inference, Zrnic & Candès 2024, "Active Statistical
Inference", ICML; section 3 for the mean, with PPI++'s power tuning). For the assignment (which items to offer
annotators first) and the results page (the estimate that goes with that choice).

Each item i is sent to humans with probability pi_i, decided before its human label is seen, bounded away from
0 and proportional to how unsure the judge is; the estimate

    theta = mean_i [ lam * yhat_i + (y_i - lam * yhat_i) * xi_i / pi_i ]      (xi_i = 1 if humans judged item
    i)

is unbiased for every fixed lam whatever the pi_i (the inverse weights undo the preference), and its variance
is smallest when pi_i follows the judge's expected error (Zrnic & Candès 2024, Theorem 1 and eq. 5).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import special

from annotations.stats.ppi import PPIResult, StatsInputError

MIN_SHARE = 0.2  # every item keeps at least this share of the uniform probability: no item is unreachable


def judge_uncertainty(probability) -> np.ndarray:
    """How unsure a judge is about each item: sqrt(p (1 - p)), the expected error of a calibrated probability
    (largest at p = 1/2), used as the sampling weight (Zrnic & Candès 2024, eq. 5)."""
    p = np.clip(np.asarray(probability, dtype=float), 0, 1)
    return np.sqrt(p * (1 - p))


def sampling_probabilities(uncertainty, budget: float, min_share: float = MIN_SHARE) -> np.ndarray:
    """Probabilities pi_i of sending each item to humans, summing to `budget` (expected human-judged
    items), proportional to `uncertainty` and mixed with the uniform budget / N so that pi_i >= min_share *
    budget / N; capped at 1 (the excess goes to the other items)."""
    u = np.asarray(uncertainty, dtype=float)
    n = len(u)
    if u.ndim != 1 or n == 0 or not np.all(np.isfinite(u)) or u.min() < 0:
        raise StatsInputError("uncertainty must be a non-empty flat list of finite numbers >= 0")
    if not 0 < budget <= n:
        raise StatsInputError(f"budget must be between 0 and the {n} items, got {budget}")
    if not 0 < min_share <= 1:
        raise StatsInputError(f"min_share must be in (0, 1], got {min_share}")
    weights = u / u.sum() if u.sum() > 0 else np.full(n, 1 / n)
    weights = (1 - min_share) * weights + min_share / n
    pi = np.zeros(n)
    capped = np.zeros(n, dtype=bool)
    for _ in range(n):  # water-filling: items that would pass 1 are set to 1, the rest rescaled
        free = budget - capped.sum()
        pi[~capped] = weights[~capped] / weights[~capped].sum() * free
        over = ~capped & (pi > 1)
        if not over.any():
            break
        capped |= over
        pi[capped] = 1.0
    return pi


def active_mean(y, yhat, judged, probabilities, confidence: float = 0.95) -> PPIResult:
    """Inverse-probability-weighted PPI++ mean over all N items: `y` the human label of each item (ignored
    where `judged` is False), `yhat` the proxy on every item, `probabilities` the pi_i the items were drawn
    with.

    The human-only figures beside it are the same estimator with lam = 0 (Horvitz-Thompson), so both use the
    same human judgments. Reference: Zrnic & Candès (2024), "Active Statistical Inference", with the power
    tuning of Angelopoulos, Duchi & Zrnic (2023).
    """
    if not 0 < confidence < 1:
        raise StatsInputError(f"confidence must be between 0 and 1, got {confidence}")
    yhat = np.asarray(yhat, dtype=float)
    judged = np.asarray(judged, dtype=bool)
    pi = np.asarray(probabilities, dtype=float)
    y = np.where(judged, np.asarray(y, dtype=float), 0.0)
    n_items = len(yhat)
    if not (len(y) == len(judged) == len(pi) == n_items):
        raise StatsInputError(
            f"y, yhat, judged and probabilities must have one value per item, got lengths "
            f"{len(y)}, {n_items}, {len(judged)}, {len(pi)}"
        )
    if not (np.all(np.isfinite(yhat)) and np.all(np.isfinite(y))):
        raise StatsInputError("yhat and the judged items' y must be finite numbers")
    if np.any(judged & ((y < 0) | (y > 1))):
        raise StatsInputError("human labels must lie in [0, 1] (tie = 0.5)")
    if np.any((pi <= 0) | (pi > 1)):
        raise StatsInputError(
            "every sampling probability must be in (0, 1]: an item humans could never judge biases the "
            "estimate"
        )
    if judged.sum() < 2:
        raise StatsInputError(f"at least 2 human-judged items are needed, got {int(judged.sum())}")

    weight = judged / pi
    rectifier = y * weight  # A: the human part
    proxy_part = yhat * (1 - weight)  # B: what lam multiplies
    variance_b = proxy_part.var(ddof=1)
    lam = 0.0
    if variance_b > 0:
        covariance = np.cov(rectifier, proxy_part)[0, 1]
        lam = float(np.clip(-covariance / variance_b, 0.0, 1.0))
    terms = rectifier + lam * proxy_part
    z = float(special.stdtrit(judged.sum() - 1, 1 - (1 - confidence) / 2))
    estimate, se = float(terms.mean()), float(terms.std(ddof=1) / math.sqrt(n_items))
    human_estimate, human_se = float(rectifier.mean()), float(rectifier.std(ddof=1) / math.sqrt(n_items))
    n_judged = int(judged.sum())
    return PPIResult(
        estimate=estimate,
        ci_low=estimate - z * se,
        ci_high=estimate + z * se,
        lam=lam,
        effective_n=n_judged * human_se**2 / se**2 if se > 0 else float(n_judged),
        n_labelled=n_judged,
        n_unlabelled=n_items - n_judged,
        human_estimate=human_estimate,
        human_ci_low=human_estimate - z * human_se,
        human_ci_high=human_estimate + z * human_se,
        confidence=confidence,
        method="active PPI++ with inverse-probability weights (Zrnic & Candès 2024), lambda clipped to [0, "
        "1]",
    )


def active_win_rate(
    labels: pd.DataFrame, draws: pd.DataFrame, system: str, confidence: float = 0.95
) -> PPIResult:
    """The win rate of `system` in a campaign whose human items were drawn by the judge's uncertainty:
    `active_mean` over every drawn-among item, with the judge's probability as the proxy.

    `labels`: item_id, label (the item's human label for `system`, as certainty.item_labels gives);
    `draws`: item_id, system_b, judge_p_system_b (None: no verdict, taken as 1/2), probability (pi_i), drawn
    (xi_i), started (annotations.campaigns.active_selection.active_draws_frame).

    While the campaign runs, some drawn items are not judged yet. Which ones depends on the annotators' own
    orders (a keyed hash), never on labels or pi, and items started before the switch come first; so within
    each of the two groups (started, drawn later) the judged items are a uniform share m / d of the drawn
    ones, and pi_i * m / d is the probability that item i is human-judged now, which keeps the inverse
    weights unbiased (Horvitz & Thompson 1952, with the two groups as strata)."""
    draws = draws.set_index(draws["item_id"].astype(str))
    p = draws["judge_p_system_b"].astype(float).fillna(0.5).to_numpy()
    yhat = p if system == str(draws["system_b"].iloc[0]) else 1 - p
    y = labels.set_index(labels["item_id"].astype(str))["label"].reindex(draws.index)
    drawn = draws["drawn"].astype(bool).to_numpy()
    judged = drawn & y.notna().to_numpy()
    pi = draws["probability"].astype(float).to_numpy().copy()
    started = draws["started"].astype(bool).to_numpy()
    for when, group in (("before", started), ("after", ~started)):
        d, m = int((drawn & group).sum()), int((judged & group).sum())
        if d and not m:
            raise StatsInputError(
                f"no item drawn {when} the switch to 'humans where the judge is unsure' is judged yet: the "
                "weighted estimate needs some of each"
            )
        if d:
            pi[group] *= m / d
    return active_mean(y.fillna(0.0).to_numpy(), yhat, judged, pi, confidence)
