"""Choosing a campaign's items: all of them, a random sample, or the "critical" ones where the automatic
metrics disagree most (`metric_disagreement`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from annotations.campaigns.config import CampaignConfig
from annotations.errors import CampaignError
from annotations.plurals import plural
from ft_core import runfolder

# Metrics that say how good an output is; lengths and token counts are not quality and stay out of "critical".
QUALITY_METRICS = (
    "rouge1",
    "rouge2",
    "rougeL",
    "rougeLsum",
    "sentence_bleu",
    "sentence_sacrebleu",
    "sentence_chrf",
    "meteor",
    "bertscore_f1",
)


def metric_disagreement(deltas: pd.DataFrame) -> pd.Series:
    """How much the automatic metrics disagree about one item; larger = more critical to look at by hand.

    `deltas` has one row per item and one column per metric holding metric(system_b) - metric(system_a). Each
    column is standardized (divided by its standard deviation across items, so metrics on different scales
    weigh the same); the score is the spread max - min of the standardized deltas: high when one metric says B
    is much better and another says it is worse. With a single metric it is |standardized delta|: the items
    where the two systems differ most. This follows the "metric disagreement" sampling used to pick items for
    human checks in meta-evaluation studies (e.g. Deutsch et al., 2022, "Re-Examining System-Level
    Correlations of Automatic Summarization Evaluation Metrics").
    """
    scale = deltas.std(ddof=0).replace(0.0, np.nan)
    standardized = (deltas / scale).fillna(0.0)
    if standardized.shape[1] == 1:
        return standardized.iloc[:, 0].abs()
    return standardized.max(axis=1) - standardized.min(axis=1)


def select_items(item_ids: list[str], metrics: pd.DataFrame, config: CampaignConfig) -> dict[str, str]:
    """item_id -> selection reason, in the order chosen."""
    if config.selection == "all":
        return {i: "all" for i in item_ids}
    n = min(int(config.n_items or len(item_ids)), len(item_ids))
    if config.selection == "random":
        rng = np.random.default_rng(config.sample_seed)
        return {item_ids[i]: "random" for i in sorted(rng.choice(len(item_ids), size=n, replace=False))}
    if metrics.empty:
        raise CampaignError(
            "critical selection needs automatic metrics (scores/per_example.parquet or metric columns)"
        )
    present = set(metrics.metric)
    # per item, `bleu` is stored as sentence_bleu (ft_core.runfolder.SENTENCE_COLUMNS): either name picks it
    wanted = (
        [runfolder.per_item_metric(m) for m in config.critical_metrics or []]
        or [m for m in QUALITY_METRICS if m in present]
        or sorted(present)
    )
    unknown = [m for m in wanted if m not in present]
    if unknown:
        raise CampaignError(
            f"{plural(len(unknown), 'metric')} {unknown} not in the scores; available: "
            f"{', '.join(sorted(present))}"
        )
    wide = metrics[metrics.metric.isin(wanted)].pivot_table(
        index=["item_id", "metric"], columns="system", values="value"
    )
    if config.system_a not in wide or config.system_b not in wide:
        raise CampaignError("critical selection needs metrics for both systems")
    deltas = (
        (wide[config.system_b] - wide[config.system_a]).unstack("metric").reindex(item_ids).dropna(how="all")
    )
    score = metric_disagreement(deltas).sort_values(ascending=False, kind="stable").head(n)
    return {str(i): f"critical: disagreement {v:.3f}" for i, v in score.items()}
