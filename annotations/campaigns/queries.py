"""A stored campaign read back: its config, its design, its status, and the frames (items, outputs, metrics,
the list of campaigns) that the assignment, the statistics and the results page read."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from annotations import store
from annotations.campaigns.config import CampaignConfig, Criterion
from annotations.campaigns.language import forget_open_languages
from annotations.errors import CampaignError
from annotations.judging.design import Design
from annotations.store import read_frame


@dataclass
class Campaign:
    """A stored campaign: its id plus the config it was created with."""

    campaign_id: str
    config: CampaignConfig
    status: str
    n_items: int
    texts_truncated: int = 0  # texts the import cut to config.max_text_chars
    # the public name of the side and order design (annotations.judging.design); the secret stays in the store
    design_id: str = ""

    @property
    def criteria(self) -> list[Criterion]:
        return self.config.criteria


def get_campaign(con: duckdb.DuckDBPyConnection, campaign_id: str) -> Campaign:
    """The stored campaign; CampaignError if there is none with this id."""
    row = (
        store.read(con)
        .execute(
            "SELECT config, status, (SELECT count(*) FROM items i WHERE i.campaign_id = c.campaign_id), "
            "texts_truncated, design_id FROM campaigns c WHERE campaign_id = ?",
            [campaign_id],
        )
        .fetchone()
    )
    if row is None:
        raise CampaignError(f"no campaign with id '{campaign_id}'")
    return Campaign(
        campaign_id, CampaignConfig.from_json(row[0]), row[1], int(row[2]), int(row[3] or 0), row[4] or ""
    )


# campaign id -> (config, when it was read). Only `set_stopping_rule` changes a stored config; it updates this
# process's copy, and another app process on the same store (PostgreSQL) sees the change within
# CONFIG_FRESH_S, or at once where it asks for `fresh=True` (closing a campaign by itself does).
_CONFIGS: dict[str, tuple[CampaignConfig, float]] = {}
CONFIG_FRESH_S = 5.0


def campaign_config(
    con: duckdb.DuckDBPyConnection, campaign_id: str, *, fresh: bool = False
) -> CampaignConfig:
    """The config of a campaign, cached in the process for CONFIG_FRESH_S seconds; `fresh`: read the store
    now (a decision that must not rest on another process's older copy)."""
    cached = None if fresh else _CONFIGS.get(campaign_id)
    if cached is not None and time.monotonic() - cached[1] < CONFIG_FRESH_S:
        return cached[0]
    row = (
        store.read(con)
        .execute("SELECT config FROM campaigns WHERE campaign_id = ?", [campaign_id])
        .fetchone()
    )
    if row is None:
        raise CampaignError(f"no campaign with id '{campaign_id}'")
    config = CampaignConfig.from_json(row[0])
    _CONFIGS[campaign_id] = (config, time.monotonic())
    return config


_DESIGNS: dict[str, Design] = {}


def campaign_design(con: duckdb.DuckDBPyConnection, campaign_id: str) -> Design:
    """The randomization design of a campaign, secret included: for the server's own use (assignment), never
    for a page. Cached in the process like the config (neither changes once the campaign exists)."""
    design = _DESIGNS.get(campaign_id)
    if design is None:
        config = campaign_config(con, campaign_id)
        (secret,) = (
            store.read(con)
            .execute("SELECT design_secret FROM campaigns WHERE campaign_id = ?", [campaign_id])
            .fetchone()
        )
        design = _DESIGNS[campaign_id] = Design(
            secret, tuple(config.side_block_sizes), config.side_max_imbalance
        )
    return design


def design_record(con: duckdb.DuckDBPyConnection, campaign_id: str) -> dict[str, Any]:
    """The public description of a campaign's design, for the export and the researcher: its id (a commitment
    to the secret), the side blocks and the order rule; never the secret itself."""
    config = campaign_config(con, campaign_id)
    try:
        (public_id,) = (
            store.read(con)
            .execute("SELECT design_id FROM campaigns WHERE campaign_id = ?", [campaign_id])
            .fetchone()
        )
    except store.UnknownNameError:  # a store opened read-only that predates migration 002
        public_id = None
    return {
        "design_id": public_id,
        "sides": "random permuted blocks per annotator (annotations.judging.design), "
        "stored per assignment as shown_left",
        "side_block_sizes": list(config.side_block_sizes),
        "side_max_imbalance": config.side_max_imbalance,
        "item_order": "per annotator: md5(HMAC(secret, annotator) || item_id)",
        "max_items_in_progress": config.max_items_in_progress,
    }


def set_status(
    con: duckdb.DuckDBPyConnection, campaign_id: str, status: str, reason: str | None = None
) -> None:
    """Open ('active') or close ('closed') a campaign to annotators; `reason` is shown beside the status
    (None: a researcher's own click)."""
    if status not in ("active", "closed"):
        raise CampaignError(f"status must be 'active' or 'closed', got '{status}'")
    store.write(
        con,
        lambda cur: cur.execute(
            "UPDATE campaigns SET status = ?, status_reason = ?, status_changed_at = ? WHERE campaign_id = ?",
            [status, reason, store.utcnow(), campaign_id],
        ),
    )
    forget_open_languages(con)


@dataclass(frozen=True)
class CampaignStatus:
    status: str  # active | closed
    reason: str | None  # why it was last closed or reopened, when not by a researcher's click
    changed_at: Any  # when (naive UTC), None before migration 012 or if never changed


def campaign_status(con: duckdb.DuckDBPyConnection, campaign_id: str) -> CampaignStatus:
    """A campaign's status and why it is so."""
    row = (
        store.read(con)
        .execute(
            "SELECT status, status_reason, status_changed_at FROM campaigns WHERE campaign_id = ?",
            [campaign_id],
        )
        .fetchone()
    )
    if row is None:
        raise CampaignError(f"no campaign with id '{campaign_id}'")
    return CampaignStatus(*row)


def set_stopping_rule(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    *,
    equivalence_margin: float | None = None,
    close_when_decided: bool | None = None,
) -> CampaignConfig:
    """Change the campaign's equivalence margin or its close-when-decided option (the two settings of the
    anytime-valid stop; the config checks them); returns the new config. Changing the margin after looking
    at the results is changing the question: the page says so."""
    config = get_campaign(con, campaign_id).config
    changes: dict[str, Any] = {}
    if equivalence_margin is not None:
        changes["equivalence_margin"] = equivalence_margin
    if close_when_decided is not None:
        changes["close_when_decided"] = close_when_decided
    config = dataclasses.replace(config, **changes)  # checks the new values
    store.write(
        con,
        lambda cur: cur.execute(
            "UPDATE campaigns SET config = ? WHERE campaign_id = ?", [config.to_json(), campaign_id]
        ),
    )
    _CONFIGS[campaign_id] = (config, time.monotonic())
    return config


def list_campaigns(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """campaign_id, name, system_a, system_b, created_at, k, n_items, run_dir (+ status, source_file,
    n_judgments, texts_truncated and the max_text_chars they were cut to, design_id, language,
    status_reason).."""
    return (
        store.read(con)
        .execute(
            """
        SELECT c.campaign_id, c.name, c.system_a, c.system_b, c.created_at, c.k,
               (SELECT count(*) FROM items i WHERE i.campaign_id = c.campaign_id AND NOT i.is_gold)
                   AS n_items,
               c.run_dir, c.status, c.source_file,
               (SELECT count(*) FROM assignments a
                 WHERE a.campaign_id = c.campaign_id AND a.status = 'submitted') AS n_judgments,
               coalesce(c.texts_truncated, 0) AS texts_truncated, c.max_text_chars, c.design_id, c.language,
               c.status_reason
        FROM campaigns c ORDER BY c.created_at DESC, c.campaign_id
        """
        )
        .df()
    )


def items_frame(
    con: duckdb.DuckDBPyConnection, campaign_id: str, item_ids: list[str] | None = None
) -> pd.DataFrame:
    """item_id, source, references (list[str]), is_gold, metadata (dict) (+ prompt, gold_winner,
    selection_reason); only the items `item_ids` names when given (the results page's example browser reads
    one item at a time)."""
    only = "" if item_ids is None else f" AND item_id IN ({store.in_list(item_ids)})"
    frame = (
        store.read(con)
        .execute(
            'SELECT item_id, source, reference_texts AS "references", is_gold, metadata, prompt, '
            "gold_winner, "
            f"selection_reason FROM items WHERE campaign_id = ?{only} ORDER BY position, item_id",
            [campaign_id, *(item_ids or [])],
        )
        .df()
    )
    frame["references"] = frame["references"].map(lambda r: [] if r is None else list(r))
    frame["metadata"] = frame["metadata"].map(lambda m: json.loads(m) if m else {})
    frame["is_gold"] = frame["is_gold"].astype(bool)
    return frame


def outputs_frame(
    con: duckdb.DuckDBPyConnection, campaign_id: str, item_ids: list[str] | None = None
) -> pd.DataFrame:
    """item_id, system, output (+ decoding, seed, n_words); only the items `item_ids` names when given."""
    only = "" if item_ids is None else f" AND o.item_id IN ({store.in_list(item_ids)})"
    return (
        store.read(con)
        .execute(
            "SELECT o.item_id, o.system, o.output, o.decoding, o.seed, o.n_words FROM outputs o JOIN items i "
            f"USING (campaign_id, item_id) WHERE o.campaign_id = ?{only} "
            "ORDER BY i.position, o.item_id, o.system",
            [campaign_id, *(item_ids or [])],
        )
        .df()
    )


def metrics_frame(
    con: duckdb.DuckDBPyConnection, campaign_id: str, item_ids: list[str] | None = None
) -> pd.DataFrame:
    """item_id, system, metric, value: the automatic metrics of the campaign's outputs (of `item_ids` if
    given)."""
    only = "" if item_ids is None else f" AND item_id IN ({store.in_list(item_ids)})"
    return read_frame(
        con,
        f"SELECT item_id, system, metric, value FROM metrics WHERE campaign_id = ?{only} "
        "ORDER BY item_id, system, metric",
        [campaign_id, *(item_ids or [])],
    )
