"""Which criteria moved: per criterion, the mean score difference between two systems on the judgments that
scored both, with an item-clustered bootstrap interval and a paired t interval. Pure function over the scores
frame (docs/frames.md), for the results page and the report.
"""

from __future__ import annotations

import pandas as pd
from scipy import stats as sps

from annotations.stats.bootstrap import bootstrap_totals
from annotations.stats.intervals import percentile_interval


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

    Columns: criterion, mean_system, mean_opponent, mean_diff, ci_low, ci_high, t_low, t_high, t_p, n, n_items,
    reason."""
    columns = [
        "criterion",
        "mean_system",
        "mean_opponent",
        "mean_diff",
        "ci_low",
        "ci_high",
        "t_low",
        "t_high",
    ]
    columns += ["t_p", "n", "n_items", "reason"]
    if scores.empty:
        return pd.DataFrame(columns=columns)
    wide = scores[scores["system"].astype(str).isin([system, opponent])].pivot_table(
        index=["judgment_id", "item_id", "criterion"], columns="system", values="score", aggfunc="mean"
    )
    rows = []
    for criterion, part in wide.groupby(level="criterion", sort=True):
        if system not in part or opponent not in part:
            continue
        part = part.dropna(subset=[system, opponent])
        diff = (part[system] - part[opponent]).to_numpy(dtype=float)
        row = dict.fromkeys(columns)
        row.update(criterion=criterion, n=len(diff), n_items=0)
        if len(diff) == 0:
            row["reason"] = "no judgment scored both systems"
            rows.append(row)
            continue
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
            row["reason"] = "every item has the same difference: the t interval is degenerate"
        if n_boot > 0 and len(per_item) >= 2:
            totals = bootstrap_totals(per_item[["sum", "n"]].to_numpy(), n_boot, seed)
            row["ci_low"], row["ci_high"] = percentile_interval(totals[:, 0] / totals[:, 1], confidence)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
