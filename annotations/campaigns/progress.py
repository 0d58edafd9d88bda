"""How far a campaign is, for the researcher's Campaigns page: how many items have their k judgments, what
each annotator has judged, skipped and holds now, and how long the rest will take at the pace so far.

Only the regular pairs count toward k (gold items and flipped repeats are extra, as in the assignment's
k-limit rule). The time left is `annotations.campaigns.time_left.estimate` over the campaign's judgments in
the order they came, one judgment a step: the mean time between judgments (pauses included, since they happen
again) and its spread give an estimate with a range; None until two judgments are in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from annotations import store
from annotations.campaigns.queries import campaign_config
from annotations.campaigns.time_left import LogPoint, TimeLeft, estimate


@dataclass(frozen=True)
class CampaignProgress:
    """One campaign's progress: `items_at_k` of `n_items` items have their k judgments; `judgments_done` of
    `judgments_needed` regular judgments are in; `annotators` has one row per annotator (annotator_id, judged,
    skipped, in_progress, last_judged_at); `time_left` is None until two judgments are in, or when done."""

    n_items: int
    k: int
    items_at_k: int
    judgments_done: int
    judgments_needed: int
    annotators: pd.DataFrame
    time_left: TimeLeft | None

    @property
    def complete(self) -> bool:
        return self.n_items > 0 and self.items_at_k == self.n_items


def campaign_progress(
    con: duckdb.DuckDBPyConnection, campaign_id: str, now: datetime | None = None
) -> CampaignProgress:
    """The progress of one campaign, read from its items and assignments."""
    now = now or store.utcnow()
    k = campaign_config(con, campaign_id).k
    cur = store.read(con)
    n_items, items_at_k, done = cur.execute(
        """
        WITH per_item AS (
            SELECT i.item_id, count(a.assignment_id) AS judged
            FROM items i LEFT JOIN assignments a
              ON a.campaign_id = i.campaign_id AND a.item_id = i.item_id AND a.status = 'submitted'
             AND NOT a.is_gold AND NOT a.is_repeat
            WHERE i.campaign_id = ? AND NOT i.is_gold
              -- a campaign switched to "humans where the judge is unsure" needs only its drawn items
              AND i.item_id NOT IN (SELECT item_id FROM active_draws WHERE campaign_id = ? AND NOT drawn)
            GROUP BY i.item_id
        )
        -- sum() of a bigint is a numeric on PostgreSQL: cast back to the integer it is
        SELECT count(*), count(*) FILTER (WHERE judged >= ?),
               CAST(coalesce(sum(least(judged, ?)), 0) AS BIGINT)
        FROM per_item
        """,
        [campaign_id, campaign_id, k, k],
    ).fetchone()
    annotators = cur.execute(
        """
        SELECT annotator_id,
               count(*) FILTER (WHERE status = 'submitted') AS judged,
               count(*) FILTER (WHERE status = 'skipped') AS skipped,
               count(*) FILTER (WHERE status = 'open' AND lease_expires_at > ?) AS in_progress,
               max(submitted_at) FILTER (WHERE status = 'submitted') AS last_judged_at
        FROM assignments WHERE campaign_id = ?
        GROUP BY annotator_id ORDER BY judged DESC, annotator_id
        """,
        [now, campaign_id],
    ).df()
    times = cur.execute(
        "SELECT CAST(extract(epoch FROM submitted_at) AS DOUBLE PRECISION) FROM assignments "
        "WHERE campaign_id = ? AND status = 'submitted' AND NOT is_gold AND NOT is_repeat "
        "ORDER BY submitted_at",
        [campaign_id],
    ).fetchall()
    needed = int(n_items) * k
    points = [LogPoint(step=number, time=float(t)) for number, (t,) in enumerate(times, 1)]
    now_s = now.replace(tzinfo=UTC).timestamp()  # the store's naive UTC, as extract(epoch) reads it
    left = estimate(points, needed, now=now_s) if int(done) < needed else None
    return CampaignProgress(
        n_items=int(n_items),
        k=k,
        items_at_k=int(items_at_k),
        judgments_done=int(done),
        judgments_needed=needed,
        annotators=annotators,
        time_left=left,
    )
