"""Intervals honest at the edges (issue 18, item 2): the win rate's item interval (Wilson score with the
item as the unit) against statsmodels, a bootstrap that collapses to one point said in words instead of
printed (win rate, criterion and metric differences, alpha), and the raw agreement share against a count of
every pair."""

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from annotations.stats import agreement, criteria, paired_metrics, preference


def judgments(winners_per_item: list[list[str]]) -> pd.DataFrame:
    rows = []
    for i, winners in enumerate(winners_per_item):
        for k, w in enumerate(winners):
            left = "base" if (i + k) % 2 else "finetuned"
            rows.append(
                {
                    "item_id": f"i{i}",
                    "annotator_id": f"a{k}",
                    "system_a": "base",
                    "system_b": "finetuned",
                    "shown_left": left,
                    "shown_right": "finetuned" if left == "base" else "base",
                    "winner": w,
                }
            )
    return pd.DataFrame(rows)


def test_unanimous_items_get_a_wilson_interval_over_items_not_a_point():
    won = preference.win_rate(judgments([["finetuned", "finetuned"]] * 10), n_boot=500)
    low, high = proportion_confint(10, 10, alpha=0.05, method="wilson")  # statsmodels, n = 10 items
    assert won.win_rate == 1.0 and won.n_items_used == 10
    assert (won.item_low, won.item_high) == pytest.approx((low, high))
    assert won.item_high - won.item_low > 0.25  # 72%–100%, never 100%–100%
    assert won.half_width == pytest.approx((high - low) / 2)
    # the bootstrap collapsed: no interval printed, the reason in words
    assert won.boot_low is None and won.boot_high is None
    assert won.boot_note.startswith("all 10 items agree") and "cannot give an interval" in won.boot_note


@pytest.mark.parametrize("policy", preference.TIE_POLICIES)
def test_item_interval_is_wilson_of_the_item_mean_share(policy):
    items = [
        ["finetuned", "base", "tie"],
        ["finetuned", "finetuned"],
        ["base", "both_bad", "base"],
        ["finetuned", "tie"],
        ["tie", "tie"],
        ["finetuned", "finetuned", "base"],
    ]
    won = preference.win_rate(judgments(items), tie_policy=policy, n_boot=200)
    shares = []
    for winners in items:  # each item's share under the policy, computed by hand
        w = winners.count("finetuned")
        lost = winners.count("base")
        t = len(winners) - w - lost
        if policy == "drop":
            if w + lost:
                shares.append(w / (w + lost))
        elif policy == "half":
            shares.append((w + t / 2) / len(winners))
        else:
            shares.append(w / len(winners))
    share = float(np.mean(shares))
    low, high = proportion_confint(share * len(shares), len(shares), alpha=0.05, method="wilson")
    assert won.item_share == pytest.approx(share) and won.n_items_used == len(shares)
    assert (won.item_low, won.item_high) == pytest.approx((low, high))
    assert won.boot_note is None and won.boot_low < won.boot_high


def test_every_item_split_evenly_is_said_too():
    even = preference.win_rate(judgments([["finetuned", "base"]] * 8), n_boot=300)
    assert even.win_rate == 0.5 and even.boot_low is None
    assert "all 8 items agree (each gives 50%)" in even.boot_note
    assert even.item_low < 0.5 < even.item_high


def scores_frame(diffs: list[float]) -> pd.DataFrame:
    rows = []
    for i, d in enumerate(diffs):
        rows += [
            {
                "judgment_id": f"j{i}",
                "item_id": f"i{i}",
                "annotator_id": "a",
                "criterion": "quality",
                "system": s,
                "score": v,
            }
            for s, v in (("base", 2.0), ("finetuned", 2.0 + d))
        ]
    return pd.DataFrame(rows)


def test_criterion_difference_the_same_on_every_item_has_no_printed_interval():
    row = criteria.criterion_differences(scores_frame([3.0] * 10), "finetuned", "base", n_boot=300).iloc[0]
    assert row["mean_diff"] == 3.0 and row["ci_low"] is None and row["ci_high"] is None
    assert row["reason"].startswith("all 10 items give the same difference (+3.00)")
    varied = criteria.criterion_differences(
        scores_frame([3.0, 1.0, 2.0, 0.0] * 3), "finetuned", "base", n_boot=300
    )
    assert varied.iloc[0]["ci_low"] < varied.iloc[0]["ci_high"] and varied.iloc[0]["reason"] is None


def test_metric_difference_the_same_on_every_item_has_no_printed_interval():
    rows = [
        {"item_id": f"i{i}", "system": s, "metric": m, "value": v}
        for i in range(6)
        for s, base in (("base", 10.0), ("finetuned", 12.0))
        for m, v in (("flat", base), ("moving", base + i * (s == "finetuned")))
    ]
    table = paired_metrics.metric_differences(pd.DataFrame(rows), "finetuned", "base", n_boot=300).set_index(
        "metric"
    )
    assert table.loc["flat", "delta"] == 2.0 and pd.isna(table.loc["flat", "ci_low"])
    assert table.loc["flat", "reason"].startswith("all 6 items give the same difference (+2.00)")
    assert table.loc["moving", "ci_low"] < table.loc["moving", "ci_high"] and pd.isna(
        table.loc["moving", "reason"]
    )


def test_alpha_whose_bootstrap_collapses_has_no_printed_interval():
    ratings = pd.DataFrame(
        [{"item_id": f"i{i}", "annotator_id": a, "value": i % 3} for i in range(12) for a in ("a", "b")]
    )
    result = agreement.krippendorff_alpha(ratings, "nominal", n_boot=300)
    assert result.alpha == 1.0 and result.ci_low is None and result.ci_high is None
    assert "every bootstrap resample gives alpha = 1.00" in result.reason


def test_raw_agreement_counts_every_pair_of_judgments_on_an_item():
    rng = np.random.default_rng(3)
    rows = [
        {"item_id": f"i{i}", "annotator_id": f"a{k}", "value": str(rng.choice(["x", "y", "tie"]))}
        for i in range(30)
        for k in range(int(rng.integers(1, 5)))
    ]
    ratings = pd.DataFrame(rows)
    raw = agreement.raw_agreement(ratings)
    agree = total = 0
    for _, part in ratings.groupby("item_id"):  # every pair, one by one
        for x, y in combinations(part["value"], 2):
            agree, total = agree + (x == y), total + 1
    assert raw.n_pairs == total and raw.share == pytest.approx(agree / total)
    assert raw.n_items == int((ratings.groupby("item_id").size() >= 2).sum())
    alone = agreement.raw_agreement(ratings.assign(item_id=[f"u{i}" for i in range(len(ratings))]))
    assert alone.share is None and alone.n_pairs == 0
