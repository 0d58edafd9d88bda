"""What the results page offers to choose from, read without loading a campaign's frames: its annotators,
criteria, metrics, judged items and run folder (a few small queries), and one item's judgments, scores and
metrics for the example browser. The page draws its filters and its verdict from these and the analysis, so a
restarted app that finds the analysis on disk (annotations/report/results_cache.py) never reads 100,000
judgments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
import pandas as pd

from annotations import store


@dataclass
class CampaignFacets:
    """The choices of a campaign's results page."""

    annotators: list[str]  # everyone who judged, sorted
    criteria: list[str]  # scored criteria, sorted
    metrics: list[str]  # automatic metrics, sorted
    items: list[str]  # judged items, in the order they were first judged
    n_judgments: int  # judged assignments (latest versions)
    run_dir: str | None


def campaign_facets(con: duckdb.DuckDBPyConnection, campaign_id: str) -> CampaignFacets:
    """Annotators, criteria, metrics, judged items and the run folder of one campaign."""
    cur = store.read(con)
    annotators = [
        r[0]
        for r in cur.execute(
            "SELECT DISTINCT annotator_id FROM judgments WHERE campaign_id = ? ORDER BY 1", [campaign_id]
        ).fetchall()
    ]
    criteria = [
        r[0]
        for r in cur.execute(
            "SELECT DISTINCT s.criterion FROM judgment_scores s JOIN judgments j ON j.judgment_id = "
            "s.judgment_id WHERE j.campaign_id = ? ORDER BY 1",
            [campaign_id],
        ).fetchall()
    ]
    metrics = [
        r[0]
        for r in cur.execute(
            "SELECT DISTINCT metric FROM metrics WHERE campaign_id = ? ORDER BY 1", [campaign_id]
        ).fetchall()
    ]
    items = [
        r[0]
        for r in cur.execute(
            "SELECT item_id FROM judgments WHERE campaign_id = ? GROUP BY item_id ORDER BY "
            "min(submitted_at), item_id",
            [campaign_id],
        ).fetchall()
    ]
    (n_judgments,) = cur.execute(
        "SELECT count(DISTINCT assignment_id) FROM judgments WHERE campaign_id = ?", [campaign_id]
    ).fetchone()
    row = cur.execute("SELECT run_dir FROM campaigns WHERE campaign_id = ?", [campaign_id]).fetchone()
    run_dir = row[0] if row else None
    if isinstance(run_dir, float) and math.isnan(run_dir):
        run_dir = None
    return CampaignFacets(
        annotators=[str(a) for a in annotators],
        criteria=[str(c) for c in criteria],
        metrics=[str(m) for m in metrics],
        items=[str(i) for i in items],
        n_judgments=int(n_judgments),
        run_dir=str(run_dir) if run_dir else None,
    )


@dataclass
class ItemFrames:
    """One item of a campaign: its row, outputs, judgments (latest versions), scores and metrics."""

    item: pd.DataFrame
    outputs: pd.DataFrame
    judgments: pd.DataFrame
    scores: pd.DataFrame
    metrics: pd.DataFrame


def item_frames(con: duckdb.DuckDBPyConnection, campaign_id: str, item_id: str) -> ItemFrames:
    """Everything the example browser shows about one item."""
    from annotations import campaigns
    from annotations.judging import judgments

    only = [item_id]
    return ItemFrames(
        item=campaigns.items_frame(con, campaign_id, item_ids=only),
        outputs=campaigns.outputs_frame(con, campaign_id, item_ids=only),
        judgments=judgments.judgments_frame(con, campaign_id, item_ids=only),
        scores=judgments.scores_frame(con, campaign_id, item_ids=only),
        metrics=campaigns.metrics_frame(con, campaign_id, item_ids=only),
    )
