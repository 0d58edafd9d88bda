"""Do the automatic metrics agree with the humans? For the researcher asking whether ROUGE moving means anything
for their task: correlation of each metric with each human score at the summary, system and pooled level
(Kendall tau-b, Spearman, Pearson; bootstrap intervals resampling items), and, for pairwise campaigns, the
correlation of each metric's per-item delta with the human preference and the metric's pairwise accuracy
against the human majority.

Levels follow the meta-evaluation literature (Deutsch, Dror & Roth 2021, "A Statistical Analysis of
Summarization Evaluation Metrics using Resampling Methods", TACL): summary-level correlates across systems
within each item and averages; system-level correlates the per-system means; pooled correlates all
(item, system) pairs at once. Every bootstrap resamples items, the unit that was sampled.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy import stats as sps

from annotations.errors import AnnotationError
from annotations.stats import bootstrap_totals, item_weights, percentile_interval, wilson_interval

LEVELS = ("summary", "system", "pooled")
METHODS = ("kendall", "spearman", "pearson")
# Pooled rank correlations: the exact bootstrap recomputes the coefficient on each resample while that stays
# cheap; above these sizes the bootstrap uses the coefficient's linear approximation (its exact gradient in the
# item weights; Davison & Hinkley 1997, "Bootstrap Methods and their Application", section 2.7.4), whose error
# shrinks as 1/n, exactly where the exact bootstrap becomes expensive.
EXACT_KENDALL_MAX_ROWS = 1600
EXACT_SPEARMAN_MAX_ROWS = 2000


@dataclass
class CorrelationResult:
    """One correlation with its bootstrap interval; `reason` explains a None coefficient."""

    metric: str
    human: str
    level: str
    method: str
    coefficient: float | None
    ci_low: float | None
    ci_high: float | None
    n: int  # summary: items used; system: systems; pooled / per-item: rows
    n_skipped: int = 0  # summary: items whose coefficient is undefined (constant scores), skipped, not zeroed
    n_items: int = 0
    reason: str | None = None
    ci_method: str = "percentile bootstrap resampling items"
    n_boot: int = 0
    seed: int = 0
    confidence: float = 0.95

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- coefficients, row-wise


def rowwise_correlation(x: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """Correlation of x[r] with y[r] for every row r of two (R, S) arrays, ignoring NaN pairs; NaN where
    undefined (fewer than two pairs or a constant row). Kendall is tau-b (Kendall 1945, ties adjusted)."""
    mask = ~(np.isnan(x) | np.isnan(y))
    x = np.where(mask, x, np.nan)
    y = np.where(mask, y, np.nan)
    if method == "kendall":
        sx = np.nan_to_num(np.sign(x[:, :, None] - x[:, None, :]))
        sy = np.nan_to_num(np.sign(y[:, :, None] - y[:, None, :]))
        concordance = (sx * sy).sum(axis=(1, 2)) / 2
        untied_x = (sx * sx).sum(axis=(1, 2)) / 2
        untied_y = (sy * sy).sum(axis=(1, 2)) / 2
        denom = np.sqrt(untied_x * untied_y)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, concordance / np.where(denom > 0, denom, 1), np.nan)
    if method == "spearman":
        x = sps.rankdata(x, axis=1, nan_policy="omit")
        y = sps.rankdata(y, axis=1, nan_policy="omit")
    elif method != "pearson":
        raise AnnotationError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        constant = ((np.nanmax(x, axis=1) - np.nanmin(x, axis=1)) == 0) | (
            (np.nanmax(y, axis=1) - np.nanmin(y, axis=1)) == 0
        )
        dx = x - np.nanmean(x, axis=1, keepdims=True)
        dy = y - np.nanmean(y, axis=1, keepdims=True)
        sxy, sxx, syy = np.nansum(dx * dy, axis=1), np.nansum(dx * dx, axis=1), np.nansum(dy * dy, axis=1)
        r = sxy / np.sqrt(sxx * syy)
    return np.where((n >= 2) & ~constant & np.isfinite(r), np.clip(r, -1, 1), np.nan)


def _coefficient(x: np.ndarray, y: np.ndarray, method: str) -> float:
    """The coefficient of two 1-D arrays by scipy (tau-b for Kendall); NaN where undefined."""
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    if method == "kendall":
        return float(sps.kendalltau(x, y).statistic)
    if method == "spearman":
        return float(sps.spearmanr(x, y).statistic)
    return float(sps.pearsonr(x, y).statistic)


# --------------------------------------------------------------------------- pooled bootstrap engines


def _group_weights(groups: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, G): how many times each of the G groups is drawn in each item bootstrap resample."""
    return item_weights(int(groups.max()) + 1, n_boot, seed).astype(float)


def _pearson_from_totals(t: np.ndarray) -> np.ndarray:
    """Pearson from resample totals of (1, x, y, xx, yy, xy) per row."""
    n, sx, sy, sxx, syy, sxy = t.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sxy - sx * sy / n) / np.sqrt((sxx - sx * sx / n) * (syy - sy * sy / n))


def _weighted_midranks(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Midranks of each row's value in every weighted resample: (B, N)."""
    uniq, inverse = np.unique(values, return_inverse=True)
    onehot = sparse.csr_matrix(
        (np.ones(len(values)), (np.arange(len(values)), inverse)), shape=(len(values), len(uniq))
    )
    counts = np.asarray((onehot.T @ w.T).T)
    ranks = np.cumsum(counts, axis=1) - (counts - 1) / 2
    return ranks[:, inverse]


def _pooled_exact(x, y, groups, method, n_boot, seed) -> np.ndarray:
    if method == "pearson":
        # centred first: the totals may be float32 for large campaigns
        x, y = x - x.mean(), y - y.mean()
        rows = np.column_stack([np.ones_like(x), x, y, x * x, y * y, x * y])
        per_group = np.zeros((int(groups.max()) + 1, 6))
        np.add.at(per_group, groups, rows)
        return _pearson_from_totals(bootstrap_totals(per_group, n_boot, seed))
    gw = _group_weights(groups, n_boot, seed)
    if method == "spearman":
        return _spearman_weighted(gw[:, groups], x, y)
    # Kendall tau-b with frequency weights: sums over pairs of distinct rows of w_i w_j sign(dx) sign(dy);
    # copies of one row tie on both, so they add nothing, as tau-b requires. Aggregated to item pairs.
    order = np.argsort(groups, kind="stable")
    x, y, groups = x[order], y[order], groups[order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])

    def by_item(m: np.ndarray) -> np.ndarray:
        return np.add.reduceat(np.add.reduceat(m, starts, axis=0), starts, axis=1)

    sx, sy = np.sign(x[:, None] - x[None, :]), np.sign(y[:, None] - y[None, :])
    a, tx, ty = by_item(sx * sy), by_item(np.abs(sx)), by_item(np.abs(sy))

    def quadratic(m: np.ndarray) -> np.ndarray:
        return ((gw @ m) * gw).sum(axis=1)

    with np.errstate(invalid="ignore", divide="ignore"):
        return quadratic(a) / np.sqrt(quadratic(tx) * quadratic(ty))


def _spearman_weighted(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman of every weighted resample: Pearson of the resample's own midranks."""
    rx, ry = _weighted_midranks(x, w), _weighted_midranks(y, w)
    W = w.sum(axis=1, keepdims=True)
    m = (W + 1) / 2
    cxy = (w * (rx - m) * (ry - m)).sum(axis=1)
    cxx = (w * (rx - m) ** 2).sum(axis=1)
    cyy = (w * (ry - m) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cxy / np.sqrt(cxx * cyy)


def _block_sums(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row i: sum of weights over rows with a larger value, and over rows with an equal value."""
    uniq, inverse = np.unique(values, return_inverse=True)
    per_value = np.bincount(inverse, weights=weights, minlength=len(uniq))
    above = per_value[::-1].cumsum()[::-1] - per_value  # strictly larger values
    return above[inverse], per_value[inverse]


def _spearman_gradient(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Spearman's rho and its exact gradient in the row weights at w = 1 (midranks, ties allowed)."""
    n = len(x)
    rx, ry = sps.rankdata(x), sps.rankdata(y)
    m = (n + 1) / 2
    cxy, cxx, cyy = (rx * ry).sum() - n * m * m, (rx * rx).sum() - n * m * m, (ry * ry).sum() - n * m * m
    # d rank_i / d w_k = [x_k < x_i] + 1/2 [x_k = x_i]
    above_ry, tie_ry = _block_sums(x, ry)
    above_rx_y, tie_rx_y = _block_sums(y, rx)
    above_rx, tie_rx = _block_sums(x, rx)
    above_ry_y, tie_ry_y = _block_sums(y, ry)
    d_mm = m * m + n * m  # d(W m^2)/dw with m = (W + 1)/2
    d_cxy = rx * ry + above_ry + tie_ry / 2 + above_rx_y + tie_rx_y / 2 - d_mm
    d_cxx = rx * rx + 2 * above_rx + tie_rx - d_mm
    d_cyy = ry * ry + 2 * above_ry_y + tie_ry_y - d_mm
    rho = cxy / np.sqrt(cxx * cyy)
    return float(rho), rho * (d_cxy / cxy - d_cxx / (2 * cxx) - d_cyy / (2 * cyy))


def _kendall_pair_sums(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """h_i = sum_j sign(x_i - x_j) sign(y_i - y_j) for every row, in O(N L log N) where L is the number of
    distinct values of the coarser variable (human scores have few); dense blocks otherwise."""
    if len(np.unique(x)) < len(np.unique(y)):
        x, y = y, x
    levels = np.unique(y)
    h = np.zeros(len(x))
    if len(levels) <= 400:
        for level in levels:
            xs = np.sort(x[y == level])
            below = np.searchsorted(xs, x, side="left")
            above = len(xs) - np.searchsorted(xs, x, side="right")
            h += np.sign(y - level) * (below - above)
        return h
    for start in range(0, len(x), 2048):
        block = slice(start, start + 2048)
        h[block] = (np.sign(x[block, None] - x[None, :]) * np.sign(y[block, None] - y[None, :])).sum(axis=1)
    return h


def _kendall_gradient(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Kendall's tau-b and its exact gradient in the row weights at w = 1."""
    n = len(x)
    h = _kendall_pair_sums(x, y)
    _, tie_x = _block_sums(x, np.ones(n))
    _, tie_y = _block_sums(y, np.ones(n))
    s, tx, ty = h.sum() / 2, (n * n - (tie_x).sum()) / 2, (n * n - (tie_y).sum()) / 2
    tau = s / np.sqrt(tx * ty)
    return float(tau), tau * (h / s - (n - tie_x) / (2 * tx) - (n - tie_y) / (2 * ty))


def pooled_bootstrap(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, method: str, n_boot: int, seed: int
) -> tuple[np.ndarray, str]:
    """Bootstrap replicates of the pooled coefficient, resampling groups (items); and how they were made."""
    n_groups = int(groups.max()) + 1
    exact = (
        method == "pearson"
        or (method == "spearman" and len(x) <= EXACT_SPEARMAN_MAX_ROWS)
        or (method == "kendall" and len(x) <= EXACT_KENDALL_MAX_ROWS)
    )
    if exact:
        return _pooled_exact(x, y, groups, method, n_boot, seed), "percentile bootstrap resampling items"
    coefficient, gradient = (_kendall_gradient if method == "kendall" else _spearman_gradient)(x, y)
    per_group = np.bincount(groups, weights=gradient, minlength=n_groups)
    boot = coefficient + bootstrap_totals(per_group, n_boot, seed)[:, 0] - per_group.sum()
    return boot, "percentile bootstrap resampling items (linearised statistic)"


# --------------------------------------------------------------------------- public API


def _prepare(df: pd.DataFrame, metric: str, human: str, group: str, system: str) -> pd.DataFrame:
    missing = [c for c in (metric, human, group, system) if c not in df.columns]
    if missing:
        raise AnnotationError(
            f"metric_human_correlation: column(s) {missing} not found; columns are: {', '.join(map(str, df.columns))}"
        )
    data = df[[group, system, metric, human]].dropna()
    return data.groupby([group, system], as_index=False, sort=True)[[metric, human]].mean()


def metric_human_correlation(
    df: pd.DataFrame,
    metric: str,
    human: str,
    level: str,
    method: str,
    group: str = "item_id",
    system: str = "system",
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> CorrelationResult:
    """Correlation of column `metric` with column `human` at `level` by `method`.

    `df` has one row per (group, system) — several rows are averaged (e.g. several annotators' scores).
    Summary-level items whose coefficient is undefined (constant scores) are skipped and counted in n_skipped."""
    if level not in LEVELS:
        raise AnnotationError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    if method not in METHODS:
        raise AnnotationError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    data = _prepare(df, metric, human, group, system)
    result = CorrelationResult(metric, human, level, method, None, None, None, 0, n_boot=n_boot, seed=seed)
    result.confidence = confidence
    result.n_items = int(data[group].nunique())
    if data.empty:
        result.reason = "no (item, system) pair has both a metric value and a human score"
        return result
    if level == "pooled":
        return _pooled(data, metric, human, group, method, result)
    x = data.pivot(index=group, columns=system, values=metric)
    y = data.pivot(index=group, columns=system, values=human).reindex_like(x)
    if level == "summary":
        per_item = rowwise_correlation(x.to_numpy(float), y.to_numpy(float), method)
        defined = per_item[~np.isnan(per_item)]
        result.n, result.n_skipped = len(defined), int(np.isnan(per_item).sum())
        if len(defined) == 0:
            result.reason = (
                f"the coefficient is undefined in every item ({result.n_skipped}): "
                "scores are constant within each item, or fewer than two systems per item"
            )
            return result
        result.coefficient = float(defined.mean())
        if n_boot > 0 and len(defined) >= 2:
            totals = bootstrap_totals(defined, n_boot, seed)[:, 0]
            result.ci_low, result.ci_high = percentile_interval(totals / len(defined), confidence)
        return result
    # system level: correlate per-system means (over the items each system has)
    result.n = x.shape[1]
    if x.shape[1] < 3:
        result.reason = f"system-level correlation needs at least 3 systems; this campaign has {x.shape[1]}"
        return result
    xs, ys = x.to_numpy(float), y.to_numpy(float)
    result.coefficient = _coefficient(np.nanmean(xs, axis=0), np.nanmean(ys, axis=0), method)
    if np.isnan(result.coefficient):
        result.coefficient = None
        result.reason = "the per-system means are constant: the coefficient is undefined"
        return result
    if n_boot > 0:
        S = xs.shape[1]
        per_item = np.column_stack([np.nan_to_num(xs), np.nan_to_num(ys), ~np.isnan(xs), ~np.isnan(ys)])
        t = bootstrap_totals(per_item, n_boot, seed)
        with np.errstate(invalid="ignore", divide="ignore"):
            mx, my = t[:, :S] / t[:, 2 * S : 3 * S], t[:, S : 2 * S] / t[:, 3 * S :]
        result.ci_low, result.ci_high = percentile_interval(rowwise_correlation(mx, my, method), confidence)
    return result


def _pooled(data, metric, human, group, method, result: CorrelationResult) -> CorrelationResult:
    x, y = data[metric].to_numpy(float), data[human].to_numpy(float)
    result.n = len(x)
    coefficient = _coefficient(x, y, method)
    if np.isnan(coefficient):
        result.reason = (
            "the metric or the human score is constant over all rows: the coefficient is undefined"
        )
        return result
    result.coefficient = coefficient
    if result.n_boot > 0 and result.n_items >= 2:
        groups = pd.factorize(data[group])[0]
        boot, result.ci_method = pooled_bootstrap(x, y, groups, method, result.n_boot, result.seed)
        result.ci_low, result.ci_high = percentile_interval(boot, result.confidence)
    return result


def correlation_table(
    df: pd.DataFrame,
    metrics: list[str],
    humans: list[str],
    levels: tuple[str, ...] = LEVELS,
    methods: tuple[str, ...] = METHODS,
    group: str = "item_id",
    system: str = "system",
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Every metric x human score x level x method, one row each (CorrelationResult fields as columns)."""
    rows = [
        metric_human_correlation(df, m, h, level, method, group, system, n_boot, seed).to_dict()
        for m in metrics
        for h in humans
        for level in levels
        for method in methods
    ]
    return pd.DataFrame(rows, columns=list(CorrelationResult.__dataclass_fields__))


# --------------------------------------------------------------------------- pairwise campaigns


def item_preferences(judgments: pd.DataFrame, system: str, opponent: str) -> pd.Series:
    """Per item: mean human preference for `system` over `opponent` (+1 win, -1 loss, 0 tie or both bad)."""
    winner = judgments["winner"].astype(str)
    score = (winner == system).astype(float) - (winner == opponent).astype(float)
    return score.groupby(judgments["item_id"]).mean().rename("preference")


def metric_deltas(metrics: pd.DataFrame, system: str, opponent: str) -> pd.DataFrame:
    """(item_id x metric) frame of metric(system) - metric(opponent)."""
    wide = metrics.pivot_table(index=["item_id", "metric"], columns="system", values="value", aggfunc="mean")
    if system not in wide or opponent not in wide:
        return pd.DataFrame()
    return (wide[system] - wide[opponent]).unstack("metric")


def preference_correlation(
    judgments: pd.DataFrame,
    metrics: pd.DataFrame,
    metric: str,
    system: str,
    opponent: str,
    method: str = "kendall",
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> CorrelationResult:
    """Correlation across items of the metric's delta (system - opponent) with the mean human preference."""
    deltas = metric_deltas(metrics, system, opponent)
    frame = pd.DataFrame({"preference": item_preferences(judgments, system, opponent)})
    frame["delta"] = deltas[metric] if metric in deltas else np.nan
    frame = frame.dropna().reset_index().assign(system="delta")
    out = metric_human_correlation(
        frame, "delta", "preference", "pooled", method, "item_id", "system", n_boot, seed, confidence
    )
    out.metric, out.human, out.level = metric, "preference", "per-item delta"
    return out


@dataclass
class PairwiseAccuracy:
    """How often the metric's delta points the same way as the human majority (ties on either side excluded)."""

    metric: str
    accuracy: float | None
    ci_low: float | None  # Wilson (items are independent here: one majority per item)
    ci_high: float | None
    n: int  # items with a human majority and a nonzero metric delta
    n_human_ties: int
    n_metric_ties: int
    reason: str | None = None
    method: str = "share of items where sign(metric delta) = sign(human majority); Wilson interval"

    def to_dict(self) -> dict:
        return asdict(self)


def pairwise_accuracy(
    judgments: pd.DataFrame,
    metrics: pd.DataFrame,
    metric: str,
    system: str,
    opponent: str,
    confidence: float = 0.95,
) -> PairwiseAccuracy:
    """Pairwise accuracy of a metric against the human majority (Kocmi et al. 2021, "To Ship or Not to Ship")."""
    deltas = metric_deltas(metrics, system, opponent)
    pref = item_preferences(judgments, system, opponent)
    delta = (deltas[metric] if metric in deltas else pd.Series(dtype=float)).reindex(pref.index)
    known = delta.notna()
    human_ties = int(((pref == 0) & known).sum())
    metric_ties = int(((delta == 0) & (pref != 0)).sum())
    used = known & (pref != 0) & (delta != 0)
    n = int(used.sum())
    if n == 0:
        return PairwiseAccuracy(metric, None, None, None, 0, human_ties, metric_ties, "no item has both a human "
                                "majority and a nonzero metric difference")  # fmt: skip
    agree = int((np.sign(pref[used]) == np.sign(delta[used])).sum())
    low, high = wilson_interval(agree, n, confidence)
    return PairwiseAccuracy(metric, agree / n, low, high, n, human_ties, metric_ties)
