"""Is the fine-tuned system really better? Paired bootstrap over items, share of wins, and spread over seeds.

Pure functions over arrays and DataFrames, for `ft_core.scoring` (and anyone holding per-example scores):

- `paired_bootstrap`: resample items with replacement, the same items for both systems, and recompute the
  corpus statistic of each (Koehn, 2004, "Statistical Significance Tests for Machine Translation Evaluation").
  The interval is the percentile interval of the resampled deltas (Efron & Tibshirani, 1993, ch. 13). Both
  come from `ft_core.resampling.paired_difference`, the one paired comparison and resampling engine of the
  repository, which the results page's metric table calls too: same data and seed, same interval.
- `bootstrap_p_value`, the two-sided p-value: with d_b = stat_b(finetuned) - stat_b(base) on resample b,
  B resamples and d the observed delta, p = (1 + #{b : |d_b - mean(d)| >= |d|}) / (B + 1). Centring the
  resampled deltas on their mean simulates the null "no difference" (the shifted null of Berg-Kirkpatrick et
  al., 2012, "An Empirical Investigation of Statistical Significance in NLP", section 2); the +1 is the
  correction of Davison & Hinkley (1997, eq. 4.11), so that p is never 0.

  sacreBLEU's paired bootstrap (`sacrebleu/significance.py`, `_paired_bs_test` with `_compute_p_value`,
  replicating Moses' `bootstrap-hypothesis-difference-significance.pl`) computes another number from the same
  kind of resamples: it takes the *absolute* resampled differences |d_b|, centres those on their mean, and
  counts p = (1 + #{b : |d_b| - mean(|d|) > |d|}) / (B + 1). Folding the differences before centring
  (mean(|d|) is at least |mean(d)|) and counting one tail only, it gives p-values 2-3 times smaller than ours
  on the same resamples wherever p is between about 0.01 and 0.5 (both reach the floor 1 / (B + 1) for very
  clear differences); tests/ft_core/test_significance.py runs both on the same resamples. Ours is the
  two-sided test its name promises: without a difference, p < 0.05 in about 5% of experiments (tested too).
- Corpus statistics that are not means (BLEU) are resampled through their per-item sufficient statistics: the
  statistic receives the column sums of the resampled rows.
- `share_higher`: the share of items where the fine-tuned output scores higher, lower, or the same.
- `seed_summary`: mean and sample standard deviation (ddof=1) of a corpus figure across sampling seeds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ft_core.resampling import Statistic, paired_difference


@dataclass
class BootstrapResult:
    """Observed corpus figures and the bootstrap distribution of their difference (finetuned - base)."""

    base: float
    finetuned: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    n_boot: int
    confidence: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def resampled_deltas(
    base: np.ndarray, finetuned: np.ndarray, statistic: Statistic | None, n_boot: int, seed: int
) -> np.ndarray:
    """finetuned - base of `statistic` (None: the mean) on each of `n_boot` paired resamples of the rows (the
    same rows for both), as `paired_bootstrap` draws them.

    base, finetuned: one row per item (NaN rows are dropped); `statistic` gets the column sums of a
    resample."""
    return paired_difference(base, finetuned, statistic, n_boot, seed=seed).deltas


def bootstrap_p_value(deltas: np.ndarray, observed: float) -> float:
    """Two-sided p-value of an observed delta from its resampled deltas, centred on their mean (see above)."""
    extreme = np.abs(deltas - deltas.mean()) >= abs(observed) - 1e-12
    return (1 + int(extreme.sum())) / (len(deltas) + 1)


def paired_bootstrap(
    base: np.ndarray,
    finetuned: np.ndarray,
    statistic: Statistic | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Paired bootstrap of finetuned - base over items (Koehn, 2004; p-value: `bootstrap_p_value`).

    base, finetuned: per-item values, shape (n,) for a mean metric, or (n, k) sufficient statistics together
    with `statistic`, a function of the column sums of a resample (e.g. corpus BLEU; the two systems may have
    different k, e.g. statistics of several seeds side by side). Rows must be the same items in the same
    order. Rows with a NaN in either system are dropped (items without a reference).
    """
    difference = paired_difference(base, finetuned, statistic, n_boot, confidence, seed)
    nan = float("nan")
    resampled = difference.ci_low is not None  # not with one item: every resample would be the observed delta
    return BootstrapResult(
        difference.base,
        difference.finetuned,
        difference.delta,
        difference.ci_low if resampled else nan,
        difference.ci_high if resampled else nan,
        bootstrap_p_value(difference.deltas, difference.delta) if resampled else nan,
        difference.n,
        int(n_boot),
        float(confidence),
    )


def share_higher(base: np.ndarray, finetuned: np.ndarray, tolerance: float = 1e-12) -> dict[str, float]:
    """Shares of items where finetuned scores higher, lower, or ties (within `tolerance`); NaN pairs
    dropped."""
    a, b = np.asarray(base, dtype=float), np.asarray(finetuned, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    diff = b[keep] - a[keep]
    if len(diff) == 0:
        return {"share_finetuned_higher": np.nan, "share_finetuned_lower": np.nan, "share_tied": np.nan}
    return {
        "share_finetuned_higher": float(np.mean(diff > tolerance)),
        "share_finetuned_lower": float(np.mean(diff < -tolerance)),
        "share_tied": float(np.mean(np.abs(diff) <= tolerance)),
    }


def seed_summary(
    corpus_values: pd.DataFrame, by: tuple[str, ...] = ("system", "metric"), value: str = "value"
) -> pd.DataFrame:
    """Mean and sample sd (ddof=1; NaN for one seed) of corpus figures across seeds, one row per group.

    corpus_values: one row per (system, seed, metric) or any finer grouping named in `by`, with a `seed`
    column.
    """
    grouped = corpus_values.groupby(list(by), sort=False)
    out = grouped[value].agg(mean="mean", sd=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else np.nan)
    out["n_seeds"] = grouped["seed"].nunique()
    return out.reset_index()


def format_mean_sd(mean: float, sd: float, digits: int = 4) -> str:
    """'0.3120 ± 0.0040', or just the mean when there is one seed."""
    if sd is None or np.isnan(sd):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"
