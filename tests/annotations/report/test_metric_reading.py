"""The metrics tab's sentence and table (annotations/report/metric_reading.py): one Kendall row per metric,
and a sentence that says when the items are too few for any correlation to tell."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from annotations.report.metric_reading import COLUMNS, fewest_items, metric_reading


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.975, 0.99])
def test_fewest_items_is_where_a_perfect_ranking_first_beats_chance(confidence):
    """Checked against scipy's exact Kendall test: a perfect ranking of n items is significant at 1 -
    confidence from fewest_items(confidence) items on, never before."""
    for n in range(2, 9):
        p = stats.kendalltau(range(n), range(n), method="exact").pvalue
        assert p == pytest.approx(2 / math.factorial(n))
        assert (p < 1 - confidence) == (n >= fewest_items(confidence)), (n, p)
    assert fewest_items(0.95) == 5 and fewest_items(0.99) == 6


def _correlations(rows: list[tuple], n: int) -> pd.DataFrame:
    """analyze's preference correlations: each (metric, coefficient, ci_low, ci_high) by the three methods."""
    frame = [
        {
            "metric": m,
            "human": "preference",
            "level": "per-item delta",
            "method": method,
            "coefficient": c,
            "ci_low": lo,
            "ci_high": hi,
            "n": n,
            "n_skipped": 0,
            "n_items": n,
            "reason": None if c == c else "the metric or the human score is constant over all rows",
        }
        for m, c, lo, hi in rows
        for method in ("kendall", "spearman", "pearson")
    ]
    return pd.DataFrame(frame)


def test_three_items_are_too_few_whatever_the_coefficients():
    same = _correlations([("bleu", 0.4118, -1.0, 1.0), ("rougeL", 0.4118, -1.0, 1.0)], n=3)
    reading = metric_reading(same, 0.95)
    assert reading.sentence.startswith(
        "3 items are too few to tell whether any metric tracks the human preference"
    )
    assert "2/3! = 0.33" in reading.sentence and "At least 5 judged items" in reading.sentence
    assert list(reading.table.columns) == COLUMNS and list(reading.table["metric"]) == ["bleu", "rougeL"]
    assert set(reading.table["method"]) == {"Kendall's tau-b"}


def test_three_items_are_too_few_even_when_no_coefficient_can_be_computed():
    # a constant human preference on three items (which sides the random assignment showed decides it):
    # the reader still learns the items are too few, not only that no coefficient exists
    nan = float("nan")
    reading = metric_reading(_correlations([("bleu", nan, nan, nan), ("rougeL", nan, nan, nan)], n=3), 0.95)
    assert reading.sentence.startswith(
        "3 items are too few to tell whether any metric tracks the human preference"
    )
    assert "No coefficient for bleu, rougeL" in reading.sentence


def test_enough_items_name_what_tracks_what_runs_against_and_what_cannot_be_told():
    nan = float("nan")
    rows = [
        ("bleu", 0.41, 0.12, 0.63),
        ("length", -0.30, -0.52, -0.05),
        ("rougeL", 0.10, -0.15, 0.33),
        ("chrf", 0.05, -0.2, 0.3),
        ("tokens", nan, nan, nan),
    ]
    reading = metric_reading(_correlations(rows, n=40), 0.9)
    assert reading.sentence == (
        "On 40 items (Kendall's tau-b of each metric's per-item difference with the human preference): bleu "
        "(tau = 0.41, 90% CI 0.12 to 0.63) tracks the humans, length (tau = -0.30, 90% CI -0.52 to -0.05) "
        "runs against them, the 90% CIs of the 2 other metrics include 0. No coefficient for tokens: the "
        "metric or the human score is constant over all rows."
    )
    assert len(reading.table) == 5 and reading.table["coefficient"].isna().sum() == 1
    unclear = metric_reading(_correlations(rows[2:4], n=40), 0.95)
    assert unclear.sentence.endswith(
        "no metric clearly tracks the humans: every 95% CI includes 0 (highest: "
        "rougeL (tau = 0.10, 95% CI -0.15 to 0.33))."
    )
