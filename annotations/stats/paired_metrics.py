"""The automatic metrics of two systems on the same items: paired per-item values and the mean paired
difference with a percentile bootstrap interval over items, for the metric table of the results page and the
report. Pure functions over the metrics frame (docs/frames.md).
"""

from __future__ import annotations

import pandas as pd

from annotations.stats.criteria import collapsed_note
from annotations.stats.intervals import degenerate
from ft_core.resampling import paired_differences


def metric_differences(
    metrics: pd.DataFrame,
    system: str,
    opponent: str,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    pairs: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Per automatic metric, over the items that have both systems: mean of each system, the mean paired
    difference with a percentile bootstrap interval over items (Koehn 2004, "Statistical significance tests
    for machine translation evaluation"), and the share of items where `system` scores higher.

    `pairs`: metric_pairs(metrics, system, opponent) when the caller has it already.
    Columns: metric, mean_opponent, mean_system, delta, ci_low, ci_high, share_system_higher, n_items, reason
    (why the interval is empty: a bootstrap that collapsed to one point is said in words, not printed)."""
    columns = [
        "metric",
        "mean_opponent",
        "mean_system",
        "delta",
        "ci_low",
        "ci_high",
        "share_system_higher",
        "n_items",
        "reason",
    ]
    mine, theirs = metric_pairs(metrics, system, opponent) if pairs is None else pairs
    names = sorted(mine.columns)
    # the run's comparison (ft_core.scoring) calls the same paired_difference: same data and seed, same
    # interval; every metric gets its own bootstrap, the ones on the same items in one pass over the weights
    differences = paired_differences(
        [(theirs[metric].to_numpy(float), mine[metric].to_numpy(float)) for metric in names],
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
    )
    rows = []
    for metric, difference in zip(names, differences):
        row = dict.fromkeys(columns)
        row.update(metric=metric, n_items=difference.n)
        if difference.n:
            both = mine[metric].notna() & theirs[metric].notna()
            diff = mine[metric][both].to_numpy(float) - theirs[metric][both].to_numpy(float)
            row.update(
                mean_opponent=difference.base, mean_system=difference.finetuned, delta=difference.delta
            )
            row["share_system_higher"] = float((diff > 0).mean())
            if degenerate(difference.ci_low, difference.ci_high):
                row["reason"] = collapsed_note(diff)
            else:
                row["ci_low"], row["ci_high"] = difference.ci_low, difference.ci_high
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def metric_pairs(metrics: pd.DataFrame, system: str, opponent: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two (item_id x metric) frames with the same index and columns: `system`'s and `opponent`'s values."""
    if metrics.empty:
        return pd.DataFrame(), pd.DataFrame()
    system_col = metrics["system"]
    pair = metrics[(system_col == system) | (system_col == opponent)]
    keys = ["item_id", "metric", "system"]
    if pair.duplicated(keys).any():
        pair = pair.groupby(keys, as_index=False)["value"].mean()
    wide = pair.set_index(keys)["value"].unstack(["system", "metric"])
    if system not in wide.columns.get_level_values(0) or opponent not in wide.columns.get_level_values(0):
        return pd.DataFrame(), pd.DataFrame()
    mine, theirs = wide[system], wide[opponent]
    names = sorted(set(mine.columns) | set(theirs.columns))
    return mine.reindex(columns=names), theirs.reindex(columns=names)


def metric_deltas(metrics: pd.DataFrame, system: str, opponent: str) -> pd.DataFrame:
    """(item_id x metric) frame of metric(system) - metric(opponent)."""
    mine, theirs = metric_pairs(metrics, system, opponent)
    return mine - theirs
