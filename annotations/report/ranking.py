"""The ranking of a campaign over three or more systems, read from the store: the regular judgments (gold
items and flipped repeats left out, as in the verdict) handed to `annotations.stats.ranking.rank_systems`.
For the results page's ranking block."""

from __future__ import annotations

import duckdb

from annotations.campaigns import campaign_config
from annotations.judging.judgments import judgments_frame
from annotations.stats.ranking import Ranking, rank_systems


def campaign_ranking(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Ranking | None:
    """The campaign's ranking; None for a campaign of two systems (its verdict says it all). AnnotationError
    (from rank_systems) when there is nothing to rank yet."""
    if not campaign_config(con, campaign_id).multi_system:
        return None
    frame = judgments_frame(con, campaign_id)
    regular = frame[~frame["is_gold"].astype(bool) & ~frame["is_repeat"].astype(bool)]
    return rank_systems(regular, n_boot=n_boot, seed=seed, confidence=confidence)
