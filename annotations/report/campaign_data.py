"""One campaign's frames read from the store for the statistics, the report and the results page, and the
results page's cache key (`data_version`)."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from annotations import store
from annotations.errors import AnnotationError


@dataclass
class CampaignData:
    """Everything the statistics and the report need about one campaign."""

    campaign_id: str
    name: str
    judgments: pd.DataFrame
    scores: pd.DataFrame
    metrics: pd.DataFrame
    run_dir: str | None = None
    design: dict | None = None  # the public record of the side/order design (campaigns.design_record)
    adjudications: pd.DataFrame | None = None  # the latest adjudicated label per item (adjudications_frame)


def load_campaign(con, campaign_id: str) -> CampaignData:
    """The frames of one campaign from the store (annotations.judging.judgments / annotations.campaigns)."""
    from annotations import campaigns
    from annotations.judging import adjudication, judgments

    listing = campaigns.list_campaigns(con)
    row = listing[listing["campaign_id"] == campaign_id]
    if row.empty:
        known = ", ".join(listing["campaign_id"].astype(str)) or "none"
        raise AnnotationError(f"campaign {campaign_id!r} not found; campaigns are: {known}")
    run_dir = row.iloc[0].get("run_dir")
    # the three queries run at once, each on its own cursor (read_frame takes one per call); DuckDB and the
    # Arrow conversion release the GIL, so a cold results page waits for the slowest query, not the sum
    readers = (judgments.judgments_frame, judgments.scores_frame, campaigns.metrics_frame)
    with ThreadPoolExecutor(max_workers=len(readers)) as pool:
        futures = [pool.submit(reader, con, campaign_id) for reader in readers]
        judgment_rows, score_rows, metric_rows = (f.result() for f in futures)
    return CampaignData(
        campaign_id=campaign_id,
        name=str(row.iloc[0]["name"]),
        judgments=judgment_rows,
        scores=score_rows,
        metrics=metric_rows,
        run_dir=None
        if run_dir is None or (isinstance(run_dir, float) and math.isnan(run_dir))
        else str(run_dir),
        design=campaigns.design_record(con, campaign_id),
        adjudications=adjudication.adjudications_frame(con, campaign_id),
    )


def data_version(con, campaign_id: str) -> str:
    """Changes whenever a judgment of the campaign is written or edited (judgments are append-only
    versions), and when automatic scores arrive after its creation (the reference-free scores of an
    imported file are computed in the background): the cache key of the results page."""
    count, latest, n_metrics = (
        store.read(con)
        .execute(
            "SELECT count(*), max(submitted_at), "
            "(SELECT count(*) FROM metrics WHERE campaign_id = ?) FROM judgments WHERE campaign_id = ?",
            [campaign_id, campaign_id],
        )
        .fetchone()
    )
    return f"{count}:{latest}:{n_metrics}"
