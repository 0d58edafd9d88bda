"""Paired metric differences: means by hand, the interval against naive item resampling, and the same interval
whether a metric is resampled alone or beside the others (one pass over the item weights)."""

import numpy as np
import pandas as pd
import pytest
from helpers.synthetic import make_campaign

from annotations.stats import paired_metrics
from annotations.stats.intervals import percentile_interval
from ft_core import resampling as bootstrap


def campaign_metrics(n_items: int, seed: int) -> pd.DataFrame:
    metrics = make_campaign(n_items=n_items, seed=seed).metrics
    rng = np.random.default_rng(seed)
    extra = metrics[metrics["metric"] == "good_metric"].assign(metric="rouge1")
    extra = extra.assign(value=extra["value"] + rng.normal(0, 0.3, len(extra)))
    return pd.concat([metrics, extra.iloc[5:]], ignore_index=True)  # rouge1 misses a few outputs


@pytest.mark.parametrize("n_items", [300, 3000])  # few items: multinomial over patterns; many: item weights
def test_each_metric_gets_its_own_bootstrap_and_the_means_by_hand(n_items):
    metrics = campaign_metrics(n_items, seed=n_items)
    table = paired_metrics.metric_differences(metrics, "finetuned", "base", n_boot=400, seed=3).set_index(
        "metric"
    )
    wide = metrics.pivot_table(index="item_id", columns=["metric", "system"], values="value")
    for metric in ("good_metric", "rouge1", "useless_metric"):
        pair = wide[metric].dropna()
        diff = (pair["finetuned"] - pair["base"]).to_numpy()
        row = table.loc[metric]
        assert row["n_items"] == len(diff)
        assert row["delta"] == pytest.approx(diff.mean()) and row["mean_system"] == pytest.approx(
            pair["finetuned"].mean()
        )
        assert row["share_system_higher"] == pytest.approx((diff > 0).mean())
        alone = bootstrap.bootstrap_totals(diff, 400, 3)[:, 0] / len(diff)
        assert (row["ci_low"], row["ci_high"]) == percentile_interval(
            alone
        )  # bit-identical: batching is free


def test_interval_matches_naive_item_resampling():
    metrics = campaign_metrics(3000, seed=1)
    row = paired_metrics.metric_differences(metrics, "finetuned", "base", n_boot=2000, seed=1).set_index(
        "metric"
    )
    wide = metrics[metrics["metric"] == "good_metric"].pivot(
        index="item_id", columns="system", values="value"
    )
    diff = (wide["finetuned"] - wide["base"]).to_numpy()
    rng = np.random.default_rng(0)
    naive = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(2000)]
    low, high = np.quantile(naive, [0.025, 0.975])
    spread = high - low
    assert row.loc["good_metric", "ci_low"] == pytest.approx(low, abs=0.05 * spread)
    assert row.loc["good_metric", "ci_high"] == pytest.approx(high, abs=0.05 * spread)
