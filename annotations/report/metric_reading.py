"""Do the automatic metrics track the humans? One sentence and one table for the results page's metrics tab.

Per metric, the table keeps one row of `analyze`'s preference correlations (the metric's per-item difference,
system minus opponent, against the human preference on the item): Kendall's tau-b, the usual segment-level
statistic for metrics against human judgments, with its bootstrap interval and n. Spearman and Pearson stay in
the full frame for whoever wants them; on few items the three coincide and say nothing more.

The sentence says first whether the items are enough for any correlation to tell: with n items, even a perfect
ranking has Kendall's exact two-sided p = 2/n! (Kendall 1938; scipy.stats.kendalltau(method="exact")), so
below the n where 2/n! falls under 1 - coverage (5 items at 95%) no coefficient can be told from chance.
Otherwise it names the metrics whose interval lies above 0 (they track the humans), below 0 (they run against
them), or says that every interval includes 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from annotations.plurals import counted
from annotations.stats.intervals import ci_label

METHOD = "kendall"
METHOD_NAME = "Kendall's tau-b"
COLUMNS = ["metric", "coefficient", "ci_low", "ci_high", "n", "method", "reason"]


@dataclass(frozen=True)
class MetricReading:
    """The sentence, and the table: one row per metric (COLUMNS), `method` in words."""

    sentence: str
    table: pd.DataFrame


def fewest_items(confidence: float) -> int:
    """The fewest items on which a rank correlation can be told from chance at this coverage: the smallest n
    with 2/n! < 1 - confidence (a perfect ranking's exact two-sided Kendall p): 5 at 95%, 6 at 99%."""
    n = 2
    while 2 / math.factorial(n) >= 1 - confidence:
        n += 1
    return n


def _tau(row) -> str:
    return f"tau = {row.coefficient:.2f}"


def _with_interval(row, ci: str) -> str:
    return f"{row.metric} ({_tau(row)}, {ci} {row.ci_low:.2f} to {row.ci_high:.2f})"


def metric_reading(preference_correlations: pd.DataFrame, confidence: float) -> MetricReading:
    """The reading of `analyze`'s preference correlations (columns metric, method, coefficient, ci_low,
    ci_high, n, reason) at the coverage they were computed with."""
    rows = preference_correlations[preference_correlations["method"] == METHOD]
    table = rows.reindex(columns=COLUMNS).assign(method=METHOD_NAME).reset_index(drop=True)
    if table.empty:
        return MetricReading("No automatic metric to compare with the human preference.", table)
    ci = ci_label(confidence)
    defined = table.dropna(subset=["coefficient"])
    undefined = table[table["coefficient"].isna()]
    no_value = (
        f" No coefficient for {', '.join(undefined['metric'])}: {undefined['reason'].iloc[0]}."
        if not undefined.empty
        else ""
    )
    n = int(table["n"].max()) if table["n"].notna().any() else 0
    needed = fewest_items(confidence)
    if 0 < n < needed:  # too few items, whether or not a coefficient could be computed on them
        sentence = (
            f"{counted(n, 'item')} {'is' if n == 1 else 'are'} too few to tell whether any metric tracks the "
            f"human preference: even a perfect agreement on {n} items could be chance (Kendall's exact p = "
            f"2/{n}! = {2 / math.factorial(n):.2g}), so the coefficients below mean nothing yet; that "
            f"Kendall, Spearman and Pearson agree on so few items is no finding either. At least {needed} "
            "judged items are needed."
        )
        return MetricReading(sentence + no_value, table)
    if defined.empty:
        return MetricReading(f"No metric has a coefficient.{no_value}", table)
    n = int(defined["n"].max())
    above = defined[defined["ci_low"] > 0].sort_values("coefficient", ascending=False)
    below = defined[defined["ci_high"] < 0].sort_values("coefficient")
    on = (
        f"On {counted(n, 'item')} ({METHOD_NAME} of each metric's per-item difference with the human "
        "preference)"
    )
    if above.empty and below.empty:
        best = defined.sort_values("coefficient", ascending=False).iloc[0]
        sentence = (
            f"{on}, no metric clearly tracks the humans: every {ci} includes 0 (highest: "
            f"{_with_interval(best, ci)})."
        )
        return MetricReading(sentence + no_value, table)
    parts = []
    if not above.empty:
        verb = "tracks" if len(above) == 1 else "track"
        parts.append(f"{'; '.join(_with_interval(r, ci) for r in above.itertuples())} {verb} the humans")
    if not below.empty:
        verb = "runs" if len(below) == 1 else "run"
        parts.append(f"{'; '.join(_with_interval(r, ci) for r in below.itertuples())} {verb} against them")
    rest = len(defined) - len(above) - len(below)
    if rest:
        parts.append(
            f"the {ci} of the other metric includes 0"
            if rest == 1
            else f"the {ci}s of the {rest} other metrics include 0"
        )
    return MetricReading(f"{on}: {', '.join(parts)}.{no_value}", table)
