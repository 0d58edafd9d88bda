"""The one resampling engine of the repository: every bootstrap over items, in ft_core (the run's comparison,
`ft_core.significance`) and in annotations (win rate, Bradley-Terry, criterion and metric differences,
Krippendorff's alpha, metric-human correlations), draws its resamples here, so the same data and seed give the
same resamples and the same arithmetic wherever they are computed. numpy only: annotations imports it.

Judgments and outputs on the same item are not independent, so every bootstrap resamples items (Efron &
Tibshirani 1993, "An Introduction to the Bootstrap", ch. 6; Field & Welsh 2007, "Bootstrapping clustered
data"). A statistic hands in one row of per-item totals per item and gets back the column totals of each
resample. When the rows take few distinct values (win/loss/tie counts, scores), drawing G items is the same as
a multinomial draw of how often each distinct row occurs, which costs nothing per item; otherwise the
resamples are explicit item weights (integer draws counted with `bincount`, several times faster than a
multinomial over G equal cells: bench/bootstrap_weights.py), shared and cached, which keeps 1,000 resamples of
100,000 judgments in milliseconds.

`paired_difference` is the one paired comparison of two systems on the same items (the run's comparison in
`ft_core.scoring` and the metric table of the results page both call it): the difference of a statistic,
finetuned - base, with its percentile interval over item resamples (Koehn 2004, "Statistical significance
tests for machine translation evaluation"; Efron & Tibshirani 1993, ch. 13).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PATTERN_LIMIT = 2000  # above this many distinct per-item rows, resample with explicit item weights
DRAWS_PER_CALL = 2**22  # item weights are drawn about this many numbers per call (see _item_weights)


_ITEM_WEIGHTS_LOCK = threading.Lock()


def item_weights(n_items: int, n_boot: int, seed: int) -> np.ndarray:
    """`_item_weights`, computed once per key even when the analysis stages ask from several threads at
    once (an lru_cache alone let two stages compute the same 200 MB side by side); `cache_clear()` empties
    the cache."""
    with _ITEM_WEIGHTS_LOCK:
        return _item_weights(n_items, n_boot, seed)


@functools.lru_cache(maxsize=2)
def _item_weights(n_items: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_items) float64 whole numbers: how often each item is drawn in each bootstrap resample (each
    row is one draw of n_items items with replacement). Cached, so every statistic of an analysis shares the
    resamples (float64, as `resample_totals` multiplies them: converting on each call would cost more than the
    product of a single column).

    Row b counts the b-th call of `rng.integers(0, n_items, n_items)` on `default_rng(seed)`. The draws are
    made a block of rows per call and counted with one `bincount` per block: numpy's bounded integers are
    one continuous stream (a block of rows holds the numbers of as many calls, in order; checked by
    tests/annotations/stats/test_bootstrap.py against that loop), and a loop of n_boot small calls, each
    releasing and taking back the GIL, waits several milliseconds per call whenever another thread of the
    app is busy in Python (the results page computes its stages on two threads beside the page's own).
    Callers use `item_weights`, which computes each key once."""
    rng = np.random.default_rng(seed)
    weights = np.empty((n_boot, n_items))
    dtype = np.int32 if n_items <= 2**31 else np.int64  # the same numbers as int64 draws, in half the memory
    # rows per call: about DRAWS_PER_CALL draws (80 MB for the moment). Each call hands the GIL over a few
    # times, and each hand-over waits up to Python's switch interval (5 ms) while another thread runs Python;
    # large blocks keep the weights fast beside a busy thread (bench/bootstrap_weights.py,
    # docs/benchmarks.md).
    block = max(1, DRAWS_PER_CALL // max(n_items, 1))
    for start in range(0, n_boot, block):
        rows = min(block, n_boot - start)
        draws = rng.integers(0, n_items, (rows, n_items), dtype=dtype)
        offsets = (draws + (np.arange(rows, dtype=np.intp) * n_items)[:, None]).ravel()
        weights[start : start + rows] = np.bincount(offsets, minlength=rows * n_items).reshape(rows, n_items)
    weights.flags.writeable = False
    return weights


item_weights.cache_clear = _item_weights.cache_clear


# Means of up to 12 integer ratings (halves, thirds, ... twelfths) are whole multiples of 1 / lcm(1, ..., 12).
RATIONAL_DENOMINATOR = 27720


def resample_totals(weights: np.ndarray, values: np.ndarray, n_draws: int) -> np.ndarray:
    """totals[b, j] = sum_i weights[b, i] * values[i, j]: the column totals of per-item rows `values` (G, k)
    in each resample, where `weights` (B, G) holds how often each item is drawn (whole numbers; each row sums
    to at most `n_draws`).

    Computed exactly, so each column's totals have the same bits whether it is resampled alone or beside any
    other columns, whatever the BLAS, its threads or its blocking: a matrix product sums in an order that
    depends on the shape of the whole batch, and a rounding error there can turn two exactly tied resampled
    means into a strict order (a concordant pair in a Kendall tau). Each column is written as whole numbers on
    a grid of its own (`_fixed_point`) small enough that every partial sum of the product is a whole number
    below 2^53, which float64 holds exactly in any order; whole and rational columns (counts, scores, means of
    up to 12 ratings) lose nothing, any other column is rounded to 2^-(52 - log2 n_draws) of its largest value
    (about 1e-11 with 30,000 items: finer than the float32 product this replaced)."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    grid, scale = _fixed_point(values, n_draws)
    return (np.asarray(weights, dtype=np.float64) @ grid) / scale


def _fixed_point(values: np.ndarray, n_draws: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column, whole numbers `grid` and a `scale` with grid / scale = values, whose sums over n_draws
    draws stay exact in float64: whole columns as they are (scale 1), multiples of 1/RATIONAL_DENOMINATOR
    on that denominator (exact), anything else on the finest power-of-two grid that fits. Columns holding
    NaN or infinity are passed through (their totals are not finite anyway)."""
    bits = 52 - int(np.ceil(np.log2(max(n_draws, 2))))  # |grid value| <= 2^bits: sums stay below 2^52
    budget = 2.0**bits
    finite = np.isfinite(values).all(axis=0)
    safe = values if finite.all() else np.where(finite, values, 0.0)
    top = np.abs(safe).max(axis=0) if len(values) else np.zeros(values.shape[1])
    whole = finite & (top <= budget) & _columns_where(safe, lambda v: v == np.round(v))
    rational = finite & ~whole & (top * RATIONAL_DENOMINATOR <= budget)
    rational &= _columns_where(
        safe, lambda v: np.round(v * RATIONAL_DENOMINATOR) / RATIONAL_DENOMINATOR == v, among=rational
    )
    _, exponent = np.frexp(np.where(top > 0, top, 1.0))  # top < 2^exponent
    power_of_two = np.ldexp(1.0, np.minimum(bits - exponent, 1000))
    scale = np.select([~finite | whole, rational], [1.0, float(RATIONAL_DENOMINATOR)], power_of_two)
    grid = safe * scale
    np.round(grid, out=grid)
    if not finite.all():
        grid = np.where(finite, grid, values)
    return grid, scale


def _columns_where(
    values: np.ndarray, holds: Callable[[np.ndarray], np.ndarray], among: np.ndarray | None = None
) -> np.ndarray:
    """Per column, whether `holds` is true of every value, checked on the columns `among` (all by default) and
    first on a few rows, so a column that fails early (a continuous one) costs almost nothing."""
    candidates = np.ones(values.shape[1], dtype=bool) if among is None else among.copy()
    for rows in (slice(0, 64), slice(None)):
        columns = np.flatnonzero(candidates)
        if len(columns) == 0:
            break
        candidates[columns] = holds(values[rows][:, columns]).all(axis=0)
    return candidates


def weights_totals(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Column totals of per-item rows `values` (G, k) in each of n_boot item-bootstrap resamples (the shared,
    cached item weights), shape (n_boot, k); each column's totals are the same alone or in any batch."""
    values = np.asarray(values, dtype=float)
    return resample_totals(item_weights(len(values), n_boot, seed), values, n_draws=len(values))


def bootstrap_totals(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Item bootstrap of per-item rows `values` (G, c): the column totals of each of n_boot resamples of G
    items drawn with replacement, shape (n_boot, c).

    When the rows take few distinct values, the resamples are a multinomial draw over the distinct rows
    (`pattern_totals`); otherwise explicit item weights are used (`weights_totals`, shared and cached)."""
    return bootstrap_each([values], n_boot, seed)[0]


def bootstrap_each(statistics: list[np.ndarray], n_boot: int, seed: int) -> list[np.ndarray]:
    """`bootstrap_totals` of each of several statistics' per-item rows, each exactly what it gets alone; those
    resampled with explicit item weights and the same number of items share one pass over the weights."""
    out: list[np.ndarray | None] = [None] * len(statistics)
    batches: dict[int, BootstrapBatch] = {}
    queued = []
    for i, values in enumerate(statistics):
        values = np.asarray(values, dtype=float)
        values = values[:, None] if values.ndim == 1 else values
        G = len(values)
        if G == 0:
            out[i] = np.full((n_boot, values.shape[1]), np.nan)
            continue
        distinct = _few_distinct_rows(values)
        if distinct is not None:
            out[i] = pattern_totals(distinct.rows, distinct.counts, n_boot, seed)
            continue
        batch = batches.setdefault(G, BootstrapBatch(G, n_boot, seed))
        queued.append((i, batch.add(values, lambda totals: totals)))
    for batch in batches.values():
        batch.run()
    for i, job in queued:
        out[i] = job.samples
    return out


def _few_distinct_rows(values: np.ndarray) -> DistinctRows | None:
    """The distinct rows of `values` when there are at most PATTERN_LIMIT of them (then the multinomial draw
    over them is the item bootstrap), else None; a first column with many distinct values says so early."""
    G = len(values)
    if G > PATTERN_LIMIT and len(np.unique(values[:, 0])) > PATTERN_LIMIT:
        return None
    distinct = distinct_rows(values)
    return distinct if len(distinct.rows) <= PATTERN_LIMIT else None


@dataclass
class DistinctRows:
    """The distinct rows of a 2-D array in sorted (lexicographic) order, how often each occurs, and which
    distinct row each input row is."""

    rows: np.ndarray
    counts: np.ndarray
    inverse: np.ndarray


def distinct_rows(values: np.ndarray) -> DistinctRows:
    """The distinct rows of `values` (n, c). Rows of counts and half counts (ties) are encoded as one integer
    each, which makes this a sort of n integers; other rows are compared column by column."""
    values = np.asarray(values)
    if len(values) == 0:
        return DistinctRows(values[:0], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    doubled = values * 2
    if np.all(doubled == np.round(doubled)) and doubled.min() >= 0:
        ints = doubled.astype(np.int64)
        base = int(ints.max()) + 1
        if base ** values.shape[1] < 2**62:  # else the key would overflow int64 and merge distinct rows
            keys = (ints * base ** np.arange(values.shape[1])[::-1]).sum(axis=1)
            _, first, inverse, counts = np.unique(
                keys, return_index=True, return_inverse=True, return_counts=True
            )
            return DistinctRows(values[first], counts, inverse)
    rows, inverse, counts = np.unique(values, axis=0, return_inverse=True, return_counts=True)
    return DistinctRows(rows, counts, inverse.ravel())


def pattern_totals(patterns: np.ndarray, freq: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Item bootstrap totals when G items take P distinct rows `patterns` with frequencies `freq`: drawing G
    items with replacement is a multinomial draw of how often each pattern occurs."""
    G = int(freq.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(G, freq / G, size=n_boot)
    return resample_totals(draws, patterns, n_draws=G)


@dataclass
class BatchJob:
    """One statistic of a `BootstrapBatch`: where its per-item columns sit, how its resample totals become the
    statistic (`finish`), and, after `run`, the statistic in every resample."""

    positions: list[int]
    finish: Callable[[np.ndarray], np.ndarray]
    samples: np.ndarray | None = None


class BootstrapBatch:
    """Per-item columns of many statistics resampled together: one pass over the shared item weights for
    all of them, each identical column once. A statistic gets the same samples as `weights_totals` gives it
    alone."""

    def __init__(self, n_items: int, n_boot: int, seed: int):
        self.n_items, self.n_boot, self.seed = n_items, n_boot, seed
        self.columns: list[np.ndarray] = []
        self.index: dict[bytes, int] = {}
        self.jobs: list[BatchJob] = []

    def add(self, per_item: np.ndarray, finish: Callable[[np.ndarray], np.ndarray]) -> BatchJob:
        """Queue a statistic: `per_item` (n_items, c) rows, `finish` maps resample totals (n_boot, c) to the
        statistic in each resample."""
        positions = []
        for column in np.asarray(per_item, dtype=float).reshape(self.n_items, -1).T:
            key = column.tobytes()
            if key not in self.index:  # e.g. the three summary-level methods agree with two systems
                self.index[key] = len(self.columns)
                self.columns.append(column)
            positions.append(self.index[key])
        job = BatchJob(positions, finish)
        self.jobs.append(job)
        return job

    def run(self) -> None:
        """Resample every queued statistic (nothing when n_boot <= 0: the samples stay None)."""
        if not self.jobs or self.n_boot <= 0:
            return
        totals = weights_totals(np.column_stack(self.columns), self.n_boot, self.seed)
        for job in self.jobs:
            job.samples = job.finish(totals[:, job.positions])


def percentile_interval(samples: np.ndarray, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval (Efron & Tibshirani 1993, ch. 13) of the finite `samples`; (None, None)
    with fewer than two."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples)]
    if len(samples) < 2:
        return None, None
    tail = (1 - confidence) / 2
    low, high = np.quantile(samples, [tail, 1 - tail])
    return float(low), float(high)


Statistic = Callable[[np.ndarray], float]


@dataclass
class PairedDifference:
    """finetuned - base of a statistic over the same items, and its bootstrap over items.

    `deltas` holds the difference in each resample (empty without resampling); `ci_low`/`ci_high` are their
    percentile interval, None with fewer than two items or no resamples."""

    base: float
    finetuned: float
    delta: float
    ci_low: float | None
    ci_high: float | None
    n: int
    deltas: np.ndarray


def paired_difference(
    base: np.ndarray,
    finetuned: np.ndarray,
    statistic: Statistic | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDifference:
    """The paired difference finetuned - base over items with its percentile bootstrap interval (Koehn 2004).

    base, finetuned: per-item values, shape (n,), compared by their mean (the difference is the mean of the
    per-item differences); or (n, k) per-item sufficient statistics with `statistic`, a function of the column
    sums of a resample (corpus BLEU; the systems may have different k). Rows are the same items in the same
    order; rows with a NaN in either system are dropped (items without a reference)."""
    return paired_differences([(base, finetuned)], statistic, n_boot, confidence, seed)[0]


def paired_differences(
    pairs: list[tuple[np.ndarray, np.ndarray]],
    statistic: Statistic | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[PairedDifference]:
    """`paired_difference` of each (base, finetuned) pair, each exactly what it gets alone; the pairs on the
    same number of items share one pass over the item weights (`bootstrap_each`)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    prepared = [_paired_rows(base, finetuned, statistic) for base, finetuned in pairs]
    resampled = [i for i, (a, _) in enumerate(prepared) if len(a) >= 2] if n_boot > 0 else []
    per_item = [_per_item_rows(*prepared[i], statistic) for i in resampled]
    totals = dict(zip(resampled, bootstrap_each(per_item, n_boot, seed)))
    results = []
    for i, (a, b) in enumerate(prepared):
        n = len(a)
        if n == 0:
            nan = float("nan")
            results.append(PairedDifference(nan, nan, nan, None, None, 0, np.empty(0)))
            continue
        if statistic is None:
            diff = b[:, 0] - a[:, 0]
            observed_a, observed_b, delta = float(a.mean()), float(b.mean()), float(diff.mean())
            deltas = totals[i][:, 0] / n if i in totals else np.empty(0)
        else:
            observed_a, observed_b = float(statistic(a.sum(axis=0))), float(statistic(b.sum(axis=0)))
            delta = observed_b - observed_a
            width = a.shape[1]
            deltas = (
                np.array([statistic(t[width:]) - statistic(t[:width]) for t in totals[i]])
                if i in totals
                else np.empty(0)
            )
        low, high = percentile_interval(deltas, confidence)
        results.append(PairedDifference(observed_a, observed_b, delta, low, high, n, deltas))
    return results


def _paired_rows(
    base: np.ndarray, finetuned: np.ndarray, statistic: Statistic | None
) -> tuple[np.ndarray, np.ndarray]:
    """Both systems as 2-D rows, the same items, NaN rows dropped; a one-line error when they do not pair."""
    a, b = np.asarray(base, dtype=float), np.asarray(finetuned, dtype=float)
    a, b = (a[:, None] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
    if len(a) != len(b) or (statistic is None and a.shape != b.shape):
        raise ValueError(f"base has shape {a.shape} but finetuned has {b.shape}: pair the same items")
    if statistic is None and a.shape[1] != 1:
        raise ValueError("several columns per item need a `statistic` of their sums")
    keep = ~(np.isnan(a).any(axis=1) | np.isnan(b).any(axis=1))
    return a[keep], b[keep]


def _per_item_rows(a: np.ndarray, b: np.ndarray, statistic: Statistic | None) -> np.ndarray:
    """What is resampled: the per-item differences for a mean, both systems' statistics side by side else."""
    return b[:, 0] - a[:, 0] if statistic is None else np.hstack([a, b])
