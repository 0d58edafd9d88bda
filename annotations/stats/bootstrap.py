"""The one bootstrap engine of the statistics: every interval over items (win rate, Bradley-Terry, criterion and
metric differences, Krippendorff's alpha, metric-human correlations) resamples through it, so they all share the
same resamples for a given seed and the same arithmetic.

Judgments on the same item are not independent, so every bootstrap resamples items (Efron & Tibshirani 1993,
"An Introduction to the Bootstrap", ch. 6; Field & Welsh 2007, "Bootstrapping clustered data"). A statistic
hands in one row of per-item totals per item and gets back the column totals of each resample. When the rows
take few distinct values (win/loss/tie counts, scores), drawing G items is the same as a multinomial draw of how
often each distinct row occurs, which costs nothing per item; otherwise the resamples are explicit item weights,
shared and cached, which keeps 1,000 resamples of 100,000 judgments in milliseconds.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

PATTERN_LIMIT = 2000  # above this many distinct per-item rows, resample with explicit item weights


@functools.lru_cache(maxsize=2)
def item_weights(n_items: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_items) float32: how often each item is drawn in each bootstrap resample (each row is one
    draw of n_items items with replacement). Cached, so every statistic of an analysis shares the resamples."""
    rng = np.random.default_rng(seed)
    weights = np.empty((n_boot, n_items), dtype=np.float32)
    for b in range(n_boot):
        weights[b] = np.bincount(rng.integers(0, n_items, n_items), minlength=n_items)
    weights.flags.writeable = False
    return weights


def weights_totals(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Column totals of per-item rows `values` (G, k) in each item-bootstrap resample, (n_boot, k), using the
    shared cached item weights (so one statistic gives the same interval alone or in a batch)."""
    values = np.asarray(values, dtype=float)
    centre = values.mean(axis=0)  # centred: the weights are float32
    weights = item_weights(len(values), n_boot, seed)
    return (weights @ (values - centre).astype(np.float32)).astype(float) + len(values) * centre


def bootstrap_totals(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Item bootstrap of per-item rows `values` (G, c): the column totals of each of n_boot resamples of G items
    drawn with replacement, shape (n_boot, c).

    When the rows take few distinct values, the resamples are a multinomial draw over the distinct rows
    (`pattern_totals`); otherwise explicit item weights are used (`weights_totals`, shared and cached)."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    G = len(values)
    if G == 0:
        return np.full((n_boot, values.shape[1]), np.nan)
    fine_grained = G > PATTERN_LIMIT and len(np.unique(values[:, 0])) > PATTERN_LIMIT
    if not fine_grained:
        patterns, freq = distinct_rows(values)
        if len(patterns) <= PATTERN_LIMIT:
            return pattern_totals(patterns, freq, n_boot, seed)
    return weights_totals(values, n_boot, seed)


def distinct_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a 2-D array in sorted order and how often each occurs."""
    doubled = values * 2  # counts and half counts (ties) are integers once doubled
    if np.all(doubled == np.round(doubled)) and doubled.min() >= 0:
        ints = doubled.astype(np.int64)
        base = int(ints.max()) + 1
        if base ** values.shape[1] < 2**62:
            keys = (ints * base ** np.arange(values.shape[1])[::-1]).sum(axis=1)
            _, first, freq = np.unique(keys, return_index=True, return_counts=True)
            return values[first], freq
    counts = pd.DataFrame(values).value_counts(sort=False).sort_index()
    return np.array(counts.index.tolist(), dtype=float).reshape(
        len(counts), values.shape[1]
    ), counts.to_numpy()


def pattern_totals(patterns: np.ndarray, freq: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Item bootstrap totals when G items take P distinct rows `patterns` with frequencies `freq`: drawing G
    items with replacement is a multinomial draw of how often each pattern occurs."""
    G = int(freq.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(G, freq / G, size=n_boot).astype(float)
    return draws @ patterns
