"""The faithfulness scores beside the human fidelity score (annotations/stats/faithfulness.py) and on the
results page (tests/app/test_results_fidelity.py): the rows are the correlation table's own, only the
faithfulness scores (against the source), each with its better direction."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from annotations.stats.correlation import correlation_table, metric_human_correlation
from annotations.stats.faithfulness import FAITHFULNESS_SCORES, fidelity_table


def _means(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for item in range(30):
        for system in ("base", "finetuned", "other"):
            fidelity = rng.integers(1, 6)
            rows.append(
                {
                    "item_id": f"i{item}",
                    "system": system,
                    "human:fidelity": float(fidelity),
                    "human:fluency": float(rng.integers(1, 6)),
                    "metric:novel_2gram": float(1 - fidelity / 5 + rng.normal(0, 0.2)),  # lower is better
                    "metric:likelihood": float(fidelity + rng.normal(0, 1)),
                    "metric:rouge2": float(rng.random()),
                }
            )
    return pd.DataFrame(rows)


def test_fidelity_rows_come_from_the_correlation_table_faithfulness_first():
    means = _means()
    metrics = ["metric:rouge2", "metric:novel_2gram", "metric:likelihood"]
    table = correlation_table(
        means,
        metrics,
        ["human:fidelity", "human:fluency"],
        ["summary", "system"],
        ["spearman", "kendall"],
        n_boot=50,
    )
    table["metric"] = table["metric"].str.removeprefix("metric:")
    table["human"] = table["human"].str.removeprefix("human:")
    shown = fidelity_table(table)
    # only the scores that compare the output with its source: rouge2 (against the reference) is not one
    assert list(shown["metric"]) == ["likelihood"] * 2 + ["novel_2gram"] * 2
    assert list(shown["better"]) == ["higher", "higher", "lower", "lower"]
    assert "rouge2" in set(table["metric"])  # it was in the correlation table the rows come from
    # each coefficient is the summary-level one of metric_human_correlation, itself checked against scipy
    for row in shown.itertuples():
        alone = metric_human_correlation(
            means, f"metric:{row.metric}", "human:fidelity", "summary", row.method, n_boot=50
        )
        assert row.coefficient == alone.coefficient
    group = means[means.item_id == "i0"]
    assert np.isfinite(scipy_stats.spearmanr(group["metric:likelihood"], group["human:fidelity"]).statistic)
    novel = shown[(shown.metric == "novel_2gram") & (shown.method == "spearman")].coefficient.iloc[0]
    assert (
        novel < 0 < shown[(shown.metric == "likelihood") & (shown.method == "spearman")].coefficient.iloc[0]
    )
    assert set(FAITHFULNESS_SCORES) >= {"likelihood", "bertscore_src_precision", "unsupported_numbers"}
    assert fidelity_table(table[table.human != "fidelity"]).empty
