"""Per-criterion score differences against scipy's paired t test on a synthetic campaign."""

import pytest
from helpers.synthetic import make_campaign
from scipy import stats as sps

from annotations.stats import criteria


def test_criterion_differences_match_a_paired_t_interval_on_item_means():
    c = make_campaign(n_items=120, criteria=("fluency",), seed=5)
    out = criteria.criterion_differences(c.scores, "finetuned", "base", n_boot=500).set_index("criterion")
    wide = c.scores.pivot_table(
        index=["judgment_id", "item_id"], columns="system", values="score"
    ).reset_index()
    wide["diff"] = wide["finetuned"] - wide["base"]
    item_means = wide.groupby("item_id")["diff"].mean()
    t = sps.ttest_rel(
        wide.groupby("item_id")["finetuned"].mean(), wide.groupby("item_id")["base"].mean()
    )  # same as a one-sample t on item mean differences
    row = out.loc["fluency"]
    assert row["mean_diff"] == pytest.approx(wide["diff"].mean())
    assert (row["t_low"], row["t_high"]) == pytest.approx(tuple(t.confidence_interval()))
    assert row["t_p"] == pytest.approx(t.pvalue)
    assert row["n"] == len(wide) and row["n_items"] == len(item_means)
    assert 0 < row["ci_low"] < row["mean_diff"] < row["ci_high"]  # finetuned is better by construction
