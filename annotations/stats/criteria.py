"""Which criteria moved: per criterion, the mean score difference between two systems on the judgments that
scored both, with an item-clustered bootstrap interval and a paired t interval. Pure function over the scores
frame (docs/frames.md), for the results page and the report.
"""

from __future__ import annotations

import pandas as pd
from scipy import stats as sps

from annotations.stats.intervals import degenerate, percentile_interval
from ft_core.resampling import bootstrap_totals

COLUMNS = [
    "criterion",
    "mean_system",
    "mean_opponent",
    "mean_diff",
    "ci_low",
    "ci_high",
    "t_low",
    "t_high",
    "t_p",
    "n",
    "n_items",
    "reason",
]


def criterion_differences(
    scores: pd.DataFrame,
    system: str,
    opponent: str,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per criterion: mean of (score of `system` - score of `opponent`) over judgments that scored both, with
    an item-clustered bootstrap interval and a paired t interval on per-item mean differences (Student 1908).

    Columns: criterion, mean_system, mean_opponent, mean_diff, ci_low, ci_high, t_low, t_high, t_p, n,
    n_items, reason."""
    if scores.empty:
        return pd.DataFrame(columns=COLUMNS)
    wide = scores[scores["system"].astype(str).isin([system, opponent])].pivot_table(
        index=["judgment_id", "item_id", "criterion"], columns="system", values="score", aggfunc="mean"
    )
    rows = [
        _criterion_row(
            criterion, part.dropna(subset=[system, opponent]), system, opponent, n_boot, seed, confidence
        )
        for criterion, part in wide.groupby(level="criterion", sort=True)
        if system in part and opponent in part
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _criterion_row(
    criterion: str, part: pd.DataFrame, system: str, opponent: str, n_boot: int, seed: int, confidence: float
) -> dict:
    """One row of `criterion_differences`: `part` holds the judgments that scored both systems on it."""
    diff = (part[system] - part[opponent]).to_numpy(dtype=float)
    row = dict.fromkeys(COLUMNS)
    row.update(criterion=criterion, n=len(diff), n_items=0)
    if len(diff) == 0:
        row["reason"] = "no judgment scored both systems"
        return row
    items = part.index.get_level_values("item_id")
    row.update(
        mean_system=float(part[system].mean()),
        mean_opponent=float(part[opponent].mean()),
        mean_diff=diff.mean(),
    )
    per_item = pd.DataFrame({"item": items, "sum": diff, "n": 1.0}).groupby("item").sum()
    row["n_items"] = len(per_item)
    item_means = (per_item["sum"] / per_item["n"]).to_numpy()
    if len(item_means) >= 2 and item_means.std() > 0:
        t = sps.ttest_1samp(item_means, 0.0)
        row["t_low"], row["t_high"] = (float(x) for x in t.confidence_interval(confidence))
        row["t_p"] = float(t.pvalue)
    elif len(item_means) < 2:
        row["reason"] = "fewer than two items: no interval"
    else:
        row["reason"] = "every item has the same difference: no t interval"
    if n_boot > 0 and len(per_item) >= 2:
        totals = bootstrap_totals(per_item[["sum", "n"]].to_numpy(), n_boot, seed)
        low, high = percentile_interval(totals[:, 0] / totals[:, 1], confidence)
        if degenerate(low, high):  # printed, "3.00 to 3.00" would claim a certainty the items do not hold
            row["reason"] = collapsed_note(item_means)
        else:
            row["ci_low"], row["ci_high"] = low, high
    return row


def collapsed_note(item_means) -> str:
    """Why an item bootstrap of these per-item differences gives no interval, in words."""
    if len(set(item_means)) == 1:
        return (
            f"all {len(item_means)} items give the same difference ({item_means[0]:+.2f}); the bootstrap "
            "cannot give an interval from so few distinct values"
        )
    return (
        f"the {len(item_means)} items take too few distinct values; the bootstrap cannot give an interval "
        "from them"
    )
