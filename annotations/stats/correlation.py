"""Do the automatic metrics agree with the humans? For the researcher asking whether ROUGE moving means
anything for their task: correlation of each metric with each human score at the summary, system and pooled
level (Kendall tau-b, Spearman, Pearson; bootstrap intervals resampling items), and, for pairwise campaigns,
the correlation of each metric's per-item delta with the human preference and the metric's pairwise accuracy
against the human majority.

Levels follow the meta-evaluation literature (Deutsch, Dror & Roth 2021, "A Statistical Analysis of
Summarization Evaluation Metrics using Resampling Methods", TACL): summary-level correlates across systems
within each item and averages; system-level correlates the per-system means; pooled correlates all
(item, system) pairs at once. Every bootstrap resamples items, the unit that was sampled.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy import stats as sps

from annotations.errors import AnnotationError
from annotations.stats.frames import require_columns
from annotations.stats.intervals import percentile_interval, wilson_interval
from annotations.stats.paired_metrics import metric_deltas
from ft_core.resampling import BatchJob, BootstrapBatch, item_weights, resample_totals

LEVELS = ("summary", "system", "pooled")
METHODS = ("kendall", "spearman", "pearson")
# Pooled rank correlations: the exact bootstrap recomputes the coefficient on each resample while that stays
# cheap; above these sizes the bootstrap uses the coefficient's linear approximation (its exact gradient in
# the item weights; Davison & Hinkley 1997, "Bootstrap Methods and their Application", section 2.7.4), whose
# error shrinks as 1/n, exactly where the exact bootstrap becomes expensive.
EXACT_KENDALL_MAX_ROWS = 600
EXACT_SPEARMAN_MAX_ROWS = 1000


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
    if method not in METHODS:
        raise AnnotationError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if x.shape[1] == 2:  # two points: every coefficient is the sign agreement of the two differences
        with np.errstate(invalid="ignore"):
            product = np.sign(x[:, 1] - x[:, 0]) * np.sign(y[:, 1] - y[:, 0])
        return np.where(mask.all(axis=1) & (product != 0), product, np.nan)
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
    return float(np.corrcoef(x, y)[0, 1])


# --------------------------------------------------------------------------- pooled bootstrap engines


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


def _kendall_weighted(gw: np.ndarray, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Kendall tau-b of every resample with item weights gw (B, G). Frequency weights: sums over pairs of
    distinct rows of w_i w_j sign(dx) sign(dy); copies of one row tie on both, so add nothing, as tau-b
    needs."""
    order = np.argsort(groups, kind="stable")
    x, y, groups = x[order], y[order], groups[order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    present = groups[starts]
    sx, sy = np.sign(x[:, None] - x[None, :]), np.sign(y[:, None] - y[None, :])
    w = gw[:, present]
    n_draws = len(gw[0])

    def quadratic(pairs: np.ndarray) -> np.ndarray:
        by_item = np.add.reduceat(np.add.reduceat(pairs, starts, axis=0), starts, axis=1)
        return (resample_totals(w, by_item, n_draws) * w).sum(axis=1)

    with np.errstate(invalid="ignore", divide="ignore"):
        return quadratic(sx * sy) / np.sqrt(quadratic(np.abs(sx)) * quadratic(np.abs(sy)))


class _Column:
    """One column's sort information (distinct values, midranks, ties), computed once and shared by every
    coefficient that uses the column."""

    def __init__(self, values: np.ndarray):
        self.values = values
        uniq, self.inverse, self.counts = np.unique(values, return_inverse=True, return_counts=True)
        self.n_unique = len(uniq)
        self.cum = np.cumsum(self.counts)
        self.ranks = (self.cum - (self.counts - 1) / 2)[self.inverse]  # midranks, 1-based
        self.ties = self.counts[self.inverse].astype(float)  # rows sharing the value, the row itself included

    def block_sums(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row: sum of `weights` over rows with a larger value, and over rows with an equal value."""
        per_value = np.bincount(self.inverse, weights=weights, minlength=self.n_unique)
        above = per_value[::-1].cumsum()[::-1] - per_value
        return above[self.inverse], per_value[self.inverse]


def _spearman_gradient(x: _Column, y: _Column) -> tuple[float, np.ndarray]:
    """Spearman's rho and its exact gradient in the row weights at w = 1 (midranks, ties allowed)."""
    n = len(x.values)
    rx, ry = x.ranks, y.ranks
    m = (n + 1) / 2
    cxy, cxx, cyy = (rx * ry).sum() - n * m * m, (rx * rx).sum() - n * m * m, (ry * ry).sum() - n * m * m
    # d rank_i / d w_k = [x_k < x_i] + 1/2 [x_k = x_i]
    above_ry, tie_ry = x.block_sums(ry)
    above_rx_y, tie_rx_y = y.block_sums(rx)
    above_rx, tie_rx = x.block_sums(rx)
    above_ry_y, tie_ry_y = y.block_sums(ry)
    d_mm = m * m + n * m  # d(W m^2)/dw with m = (W + 1)/2
    d_cxy = rx * ry + above_ry + tie_ry / 2 + above_rx_y + tie_rx_y / 2 - d_mm
    d_cxx = rx * rx + 2 * above_rx + tie_rx - d_mm
    d_cyy = ry * ry + 2 * above_ry_y + tie_ry_y - d_mm
    rho = cxy / np.sqrt(cxx * cyy)
    return float(rho), rho * (d_cxy / cxy - d_cxx / (2 * cxx) - d_cyy / (2 * cyy))


def _kendall_pair_sums(x: _Column, y: _Column) -> np.ndarray:
    """h_i = sum_j sign(x_i - x_j) sign(y_i - y_j) for every row in O(N log N + N L): walk the levels of
    the coarser variable upwards, keeping the finer values of the lower levels sorted, and count by binary
    search."""
    if x.n_unique < y.n_unique:
        x, y = y, x
    n = len(x.values)
    xv = x.values
    start = (x.cum - x.counts)[x.inverse]  # rows with a smaller x, over all levels
    end = x.cum[x.inverse]  # n - end: rows with a larger x
    order = np.lexsort((xv, y.inverse))  # by level, then by x
    bounds = np.searchsorted(y.inverse[order], np.arange(y.n_unique + 1))
    lower = np.empty(0)  # sorted x of every row on a lower level
    h = np.empty(n)
    for level in range(y.n_unique):
        rows = order[bounds[level] : bounds[level + 1]]
        xs = xv[rows]  # sorted
        lt_below = np.searchsorted(lower, xs, side="left")
        lt_above = len(lower) - np.searchsorted(lower, xs, side="right")
        eq_below = np.searchsorted(xs, xs, side="left")
        eq_above = len(xs) - np.searchsorted(xs, xs, side="right")
        gt_below = start[rows] - lt_below - eq_below
        gt_above = (n - end[rows]) - lt_above - eq_above
        h[rows] = (lt_below - lt_above) - (gt_below - gt_above)
        lower = np.insert(lower, np.searchsorted(lower, xs), xs)
    return h


def _kendall_gradient(x: _Column, y: _Column) -> tuple[float, np.ndarray]:
    """Kendall's tau-b and its exact gradient in the row weights at w = 1."""
    n = len(x.values)
    h = _kendall_pair_sums(x, y)
    s, tx, ty = h.sum() / 2, (n * n - x.ties.sum()) / 2, (n * n - y.ties.sum()) / 2
    tau = s / np.sqrt(tx * ty)
    return float(tau), tau * (h / s - (n - x.ties) / (2 * tx) - (n - y.ties) / (2 * ty))


# --------------------------------------------------------------------------- the engine


@dataclass
class _Prepared:
    """The (item, system) table as arrays: one row per pair, items sorted, and (G, S) matrices per column."""

    groups: np.ndarray  # item index of each row
    n_groups: int
    n_systems: int
    flat: dict[str, np.ndarray]
    matrix: dict[str, np.ndarray]
    columns: dict[str, _Column] = field(default_factory=dict)

    def column(self, name: str, keep: np.ndarray) -> _Column:
        """Sort information of a column restricted to rows `keep` (cached when every row is kept)."""
        if not keep.all():
            return _Column(self.flat[name][keep])
        if name not in self.columns:
            self.columns[name] = _Column(self.flat[name])
        return self.columns[name]


def _prepare(df: pd.DataFrame, columns: list[str], group: str, system: str) -> _Prepared:
    require_columns(df, [*columns, group, system], "metric_human_correlation")
    data = df[[group, system, *columns]]
    if data.duplicated([group, system]).any():
        data = data.groupby([group, system], as_index=False, sort=True)[columns].mean()
    else:
        data = data.sort_values([group, system], kind="stable")
    groups, group_names = pd.factorize(data[group], sort=True)
    systems, system_names = pd.factorize(data[system], sort=True)
    G, S = len(group_names), len(system_names)
    flat, matrix = {}, {}
    for column in columns:
        values = pd.to_numeric(data[column], errors="coerce").to_numpy(float)
        flat[column] = values
        m = np.full((G, S), np.nan)
        m[groups, systems] = values
        matrix[column] = m
    return _Prepared(groups, G, S, flat, matrix)


def _summary(prep, x, y, result, batch) -> BatchJob | None:
    per_item = rowwise_correlation(prep.matrix[x], prep.matrix[y], result.method)
    defined = ~np.isnan(per_item)
    result.n, result.n_skipped = int(defined.sum()), int(result.n_items - defined.sum())
    if result.n == 0:
        result.reason = (
            f"the coefficient is undefined in every item ({result.n_skipped}): "
            "scores are constant within each item, or fewer than two systems per item"
        )
        return None
    result.coefficient = float(per_item[defined].mean())
    if result.n < 2:
        return None
    return batch.add(
        np.column_stack([np.where(defined, per_item, 0.0), defined]), lambda t: t[:, 0] / t[:, 1]
    )


def _system(prep, x, y, result, batch) -> BatchJob | None:
    xs, ys = prep.matrix[x], prep.matrix[y]
    both = ~(np.isnan(xs) | np.isnan(ys))
    present = both.any(axis=0)
    result.n = int(present.sum())
    if result.n < 3:
        result.reason = f"system-level correlation needs at least 3 systems; this campaign has {result.n}"
        return None
    xs, ys, both = xs[:, present], ys[:, present], both[:, present]
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = (
            np.nansum(np.where(both, xs, 0), 0) / both.sum(0),
            np.nansum(np.where(both, ys, 0), 0) / both.sum(0),
        )
    coefficient = _coefficient(mx, my, result.method)
    if np.isnan(coefficient):
        result.reason = "the per-system means are constant: the coefficient is undefined"
        return None
    result.coefficient = coefficient
    S, method = result.n, result.method

    def finish(t: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return rowwise_correlation(t[:, :S] / t[:, 2 * S :], t[:, S : 2 * S] / t[:, 2 * S :], method)

    return batch.add(np.column_stack([np.where(both, xs, 0), np.where(both, ys, 0), both]), finish)


def _pooled(prep, x, y, result, batch) -> BatchJob | None:
    keep = ~(np.isnan(prep.flat[x]) | np.isnan(prep.flat[y]))
    xv, yv, groups = prep.flat[x][keep], prep.flat[y][keep], prep.groups[keep]
    result.n = len(xv)
    method = result.method
    small = len(xv) <= (EXACT_KENDALL_MAX_ROWS if method == "kendall" else EXACT_SPEARMAN_MAX_ROWS)
    if len(xv) < 2 or np.ptp(xv) == 0 or np.ptp(yv) == 0:
        result.reason = (
            "the metric or the human score is constant over all rows: the coefficient is undefined"
        )
        return None
    gradient = None
    if method == "pearson" or small:
        result.coefficient = _coefficient(xv, yv, method)
    else:  # large: the exact coefficient and its gradient in the item weights, from shared sort information
        result.coefficient, gradient = (_kendall_gradient if method == "kendall" else _spearman_gradient)(
            prep.column(x, keep), prep.column(y, keep)
        )
    if result.n_boot <= 0 or result.n_items < 2:
        return None
    G = prep.n_groups
    if method == "pearson":
        xc, yc = xv - xv.mean(), yv - yv.mean()
        rows = np.column_stack([np.ones_like(xc), xc, yc, xc * xc, yc * yc, xc * yc])
        per_item = np.column_stack([np.bincount(groups, weights=c, minlength=G) for c in rows.T])
        return batch.add(per_item, _pearson_from_totals)
    if small:  # recompute the coefficient on every resample
        gw = item_weights(G, result.n_boot, result.seed)
        boot = (
            _kendall_weighted(gw, xv, yv, groups)
            if method == "kendall"
            else _spearman_weighted(gw[:, groups], xv, yv)
        )
        result.ci_low, result.ci_high = percentile_interval(boot, result.confidence)
        return None
    per_item = np.bincount(groups, weights=gradient, minlength=G)
    result.ci_method = "percentile bootstrap resampling items (linearised statistic)"
    return batch.add(per_item, lambda t, c=result.coefficient, s=per_item.sum(): c + t[:, 0] - s)


def _correlate(
    df: pd.DataFrame,
    pairs: list[tuple[str, str]],
    levels: tuple[str, ...],
    methods: tuple[str, ...],
    group: str,
    system: str,
    n_boot: int,
    seed: int,
    confidence: float,
) -> list[CorrelationResult]:
    for level in levels:
        if level not in LEVELS:
            raise AnnotationError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    for method in methods:
        if method not in METHODS:
            raise AnnotationError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    columns = list(dict.fromkeys(c for pair in pairs for c in pair))
    prep = _prepare(df, columns, group, system)
    batch = BootstrapBatch(prep.n_groups, n_boot, seed)
    results, queued = [], []
    for x, y in pairs:
        both = ~(np.isnan(prep.flat[x]) | np.isnan(prep.flat[y]))
        n_items = int(len(np.unique(prep.groups[both])))
        for level in levels:
            for method in methods:
                result = CorrelationResult(
                    x,
                    y,
                    level,
                    method,
                    None,
                    None,
                    None,
                    0,
                    n_items=n_items,
                    n_boot=n_boot,
                    seed=seed,
                    confidence=confidence,
                )
                results.append(result)
                if not both.any():
                    result.reason = "no (item, system) pair has both a metric value and a human score"
                    continue
                job = {"summary": _summary, "system": _system, "pooled": _pooled}[level](
                    prep, x, y, result, batch
                )
                if job is not None:
                    queued.append((result, job))
    batch.run()
    for result, job in queued:
        if job.samples is not None:
            result.ci_low, result.ci_high = percentile_interval(job.samples, result.confidence)
    return results


# --------------------------------------------------------------------------- public API


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

    `df` has one row per (group, system); several rows are averaged (e.g. several annotators' scores).
    Summary-level items whose coefficient is undefined (constant scores) are skipped and counted in n_skipped.
    Pooled Kendall/Spearman on large campaigns bootstrap the linearised coefficient (see `ci_method`)."""
    return _correlate(df, [(metric, human)], (level,), (method,), group, system, n_boot, seed, confidence)[0]


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
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Every metric x human score x level x method, one row each (CorrelationResult fields as columns); the
    same numbers as calling metric_human_correlation for each, computed together."""
    pairs = [(m, h) for m in metrics for h in humans]
    results = _correlate(df, pairs, levels, methods, group, system, n_boot, seed, confidence)
    return pd.DataFrame([r.to_dict() for r in results], columns=list(CorrelationResult.__dataclass_fields__))


# --------------------------------------------------------------------------- pairwise campaigns


def metric_human_points(
    scores: pd.DataFrame, metrics: pd.DataFrame, metric: str, criterion: str, judgment_ids=None
) -> pd.DataFrame:
    """The points behind a metric-human correlation: one row per (item, system) with the mean human score
    on `criterion` over the judgments `judgment_ids` (all when None) and the metric's value (for a scatter
    plot)."""
    chosen = scores[scores["criterion"] == criterion]
    if judgment_ids is not None:
        chosen = chosen[pd.Index(pd.unique(np.asarray(judgment_ids))).get_indexer(chosen["judgment_id"]) >= 0]
    human = chosen.groupby(["item_id", "system"], as_index=False)["score"].mean()
    return human.merge(metrics[metrics["metric"] == metric], on=["item_id", "system"])


def points_from_means(means: pd.DataFrame, metric: str, criterion: str) -> pd.DataFrame:
    """The rows of `metric_human_points` taken from the (item_id, system) means `analyze` already built
    (`CampaignAnalysis.human_metric_means`: "metric:<m>" and "human:<criterion>" columns): item_id, system,
    score, metric, value, without grouping the scores again. Empty when either column is missing."""
    columns = ["item_id", "system", "score", "metric", "value"]
    m, h = f"metric:{metric}", f"human:{criterion}"
    if means.empty or m not in means or h not in means:
        return pd.DataFrame(columns=columns)
    points = means[["item_id", "system", h, m]].dropna(subset=[h, m])
    return pd.DataFrame(
        {
            "item_id": points["item_id"].to_numpy(),
            "system": points["system"].to_numpy(),
            "score": points[h].to_numpy(),
            "metric": metric,
            "value": points[m].to_numpy(),
        },
        columns=columns,
    )


def item_preferences(judgments: pd.DataFrame, system: str, opponent: str) -> pd.Series:
    """Per item: mean human preference for `system` over `opponent` (+1 win, -1 loss, 0 tie or both bad)."""
    winner = judgments["winner"].astype(str)
    score = (winner == system).astype(float) - (winner == opponent).astype(float)
    return score.groupby(judgments["item_id"]).mean().rename("preference")


def preference_correlations(
    judgments: pd.DataFrame,
    metrics: pd.DataFrame,
    metric_names: list[str],
    system: str,
    opponent: str,
    methods: tuple[str, ...] = METHODS,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    deltas: pd.DataFrame | None = None,
) -> list[CorrelationResult]:
    """For each metric and method: correlation across items of the metric's delta (system - opponent) with
    the mean human preference for system (+1 win, -1 loss, 0 tie), with an item bootstrap interval.
    `deltas`: metric_deltas(metrics, system, opponent) when the caller has it already."""
    deltas = metric_deltas(metrics, system, opponent) if deltas is None else deltas
    frame = pd.DataFrame({"preference": item_preferences(judgments, system, opponent)})
    for m in metric_names:
        frame[f"delta:{m}"] = deltas[m].reindex(frame.index) if m in deltas else np.nan
    frame = frame.rename_axis("item_id").reset_index().assign(system="delta")
    pairs = [(f"delta:{m}", "preference") for m in metric_names]
    results = _correlate(frame, pairs, ("pooled",), methods, "item_id", "system", n_boot, seed, confidence)
    for r in results:
        r.metric, r.level = r.metric.removeprefix("delta:"), "per-item delta"
    return results


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
    """Correlation across items of one metric's delta (system - opponent) with the mean human preference."""
    return preference_correlations(
        judgments, metrics, [metric], system, opponent, (method,), n_boot, seed, confidence
    )[0]


@dataclass
class PairwiseAccuracy:
    """How often the metric's delta points the same way as the human majority (ties on either side
    excluded)."""

    metric: str
    accuracy: float | None
    ci_low: float | None  # Wilson (items are independent here: one majority per item)
    ci_high: float | None
    n: int  # items with a human majority and a nonzero metric delta
    n_human_ties: int
    n_metric_ties: int
    reason: str | None = None
    method: str = "share of items where sign(metric delta) = sign(human majority); Wilson interval"
    confidence: float = 0.95  # coverage of [ci_low, ci_high]

    def to_dict(self) -> dict:
        return asdict(self)


def pairwise_accuracies(
    judgments: pd.DataFrame,
    metrics: pd.DataFrame,
    metric_names: list[str],
    system: str,
    opponent: str,
    confidence: float = 0.95,
    deltas: pd.DataFrame | None = None,
) -> list[PairwiseAccuracy]:
    """Pairwise accuracy of each metric against the human majority per item (Kocmi et al. 2021, "To Ship or
    Not to Ship: An Extensive Evaluation of Automatic Metrics for Machine Translation")."""
    deltas = metric_deltas(metrics, system, opponent) if deltas is None else deltas
    pref = item_preferences(judgments, system, opponent)
    out = []
    for metric in metric_names:
        delta = (deltas[metric] if metric in deltas else pd.Series(dtype=float)).reindex(pref.index)
        known = delta.notna()
        human_ties = int(((pref == 0) & known).sum())
        metric_ties = int(((delta == 0) & (pref != 0)).sum())
        used = known & (pref != 0) & (delta != 0)
        n = int(used.sum())
        if n == 0:
            reason = "no item has both a human majority and a nonzero metric difference"
            out.append(
                PairwiseAccuracy(
                    metric, None, None, None, 0, human_ties, metric_ties, reason, confidence=confidence
                )
            )
            continue
        agree = int((np.sign(pref[used]) == np.sign(delta[used])).sum())
        low, high = wilson_interval(agree, n, confidence)
        out.append(
            PairwiseAccuracy(metric, agree / n, low, high, n, human_ties, metric_ties, confidence=confidence)
        )
    return out


def pairwise_accuracy(
    judgments: pd.DataFrame,
    metrics: pd.DataFrame,
    metric: str,
    system: str,
    opponent: str,
    confidence: float = 0.95,
) -> PairwiseAccuracy:
    """Pairwise accuracy of one metric against the human majority (ties on either side excluded)."""
    return pairwise_accuracies(judgments, metrics, [metric], system, opponent, confidence)[0]
