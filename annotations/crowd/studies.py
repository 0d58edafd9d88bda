"""Opening a campaign as a crowd study, and finding the study a link names.

The link's secret (`key=`) is made here and returned once; the store keeps only its SHA-256, as for
invitations and session cookies, so neither the store nor a backup holds a working link. Opening a study also
limits the campaign to listed judges (annotations/campaigns/judges.py): the researcher who opened it, any
account already listed, and each participant as they arrive, so no other account is served its pairs.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from annotations import store
from annotations.accounts.sessions import token_hash
from annotations.campaigns.config import SPECIAL_WINNERS
from annotations.crowd.config import StudyConfig, StudyConfigError, TrainingItem
from annotations.crowd.links import Arrival, CrowdLinkError, parse_arrival


@dataclass(frozen=True)
class Study:
    """A stored study: which campaign, for which platform, with which settings."""

    study_id: str
    campaign_id: str
    platform: str
    config: StudyConfig
    status: str
    created_at: datetime


@dataclass(frozen=True)
class OpenedStudy:
    """A study just opened: its id and the link's secret (shown once; only its hash is kept)."""

    study_id: str
    secret: str


def _resolved_training(cur: duckdb.DuckDBPyConnection, campaign_id: str, config: StudyConfig) -> list:
    """The training items with their gold answer as a system name ('A'/'B' read as the campaign's systems);
    StudyConfigError for an unknown item or answer."""
    row = cur.execute(
        "SELECT system_a, system_b FROM campaigns WHERE campaign_id = ?", [campaign_id]
    ).fetchone()
    if row is None:
        raise StudyConfigError(f"no campaign with id '{campaign_id}'")
    system_a, system_b = row
    known = {
        r[0] for r in cur.execute("SELECT item_id FROM items WHERE campaign_id = ?", [campaign_id]).fetchall()
    }
    resolved = []
    for item in config.training:
        if item.item_id not in known:
            raise StudyConfigError(f"training item '{item.item_id}' is not an item of this campaign")
        gold = {"A": system_a, "B": system_b}.get(item.gold, item.gold)
        if gold not in (system_a, system_b, *SPECIAL_WINNERS):
            raise StudyConfigError(
                f"training item '{item.item_id}': gold must be A, B, {system_a}, {system_b}, "
                f"{' or '.join(SPECIAL_WINNERS)}; got '{item.gold}'"
            )
        resolved.append(TrainingItem(item.item_id, gold, item.explanation))
    return resolved


def open_study(
    con: duckdb.DuckDBPyConnection, campaign_id: str, config: StudyConfig, created_by: str | None = None
) -> OpenedStudy:
    """Open a campaign as a crowd study; returns its id and the link's secret (shown once)."""
    secret = secrets.token_urlsafe(18)
    study_id = "stu-" + secrets.token_hex(6)

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        config.training = _resolved_training(cur, campaign_id, config)
        now = store.utcnow()
        cur.execute(
            "INSERT INTO crowd_studies (study_id, campaign_id, platform, secret_hash, config, created_at, "
            "created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [study_id, campaign_id, config.platform, token_hash(secret), config.to_json(), now, created_by],
        )
        if created_by is not None:  # from now on a listed campaign: only listed accounts are served its pairs
            cur.execute(
                "INSERT INTO campaign_judges (campaign_id, user_id, added_at, added_by) SELECT ?, ?, ?, ? "
                "WHERE NOT EXISTS (SELECT 1 FROM campaign_judges WHERE campaign_id = ? AND user_id = ?)",
                [campaign_id, created_by, now, created_by, campaign_id, created_by],
            )

    store.write(con, work)
    return OpenedStudy(study_id, secret)


_COLUMNS = "study_id, campaign_id, platform, config, status, created_at"


def _study(row) -> Study:
    study_id, campaign_id, platform, config, status, created_at = row
    return Study(study_id, campaign_id, platform, StudyConfig.from_json(config), status, created_at)


def get_study(con: duckdb.DuckDBPyConnection, study_id: str) -> Study | None:
    """The study with this id, or None."""
    row = (
        store.read(con)
        .execute(f"SELECT {_COLUMNS} FROM crowd_studies WHERE study_id = ?", [study_id])
        .fetchone()
    )
    return _study(row) if row is not None else None


def list_studies(con: duckdb.DuckDBPyConnection, campaign_id: str | None = None) -> list[Study]:
    """The studies (of one campaign), newest first."""
    where, params = ("WHERE campaign_id = ?", [campaign_id]) if campaign_id else ("", [])
    rows = (
        store.read(con)
        .execute(f"SELECT {_COLUMNS} FROM crowd_studies {where} ORDER BY created_at DESC, study_id", params)
        .fetchall()
    )
    return [_study(row) for row in rows]


def close_study(con: duckdb.DuckDBPyConnection, study_id: str) -> None:
    """Take no new participants (those who started may finish)."""
    store.write_statement(con, "UPDATE crowd_studies SET status = 'closed' WHERE study_id = ?", [study_id])


def read_link(con: duckdb.DuckDBPyConnection, params: Mapping[str, str]) -> tuple[Study, Arrival]:
    """The study a link names, checked against its secret, and the arrival it describes; CrowdLinkError
    (no_study, bad_key, closed, or one of parse_arrival's) otherwise."""
    study_id = params.get("study")
    study = get_study(con, study_id) if isinstance(study_id, str) and study_id else None
    if study is None:
        raise CrowdLinkError("no_study", "the link names no study, or one that does not exist")
    key = params.get("key")
    stored = (
        store.read(con)
        .execute("SELECT secret_hash FROM crowd_studies WHERE study_id = ?", [study.study_id])
        .fetchone()[0]
    )
    if not isinstance(key, str) or not hmac.compare_digest(token_hash(key), stored):
        raise CrowdLinkError("bad_key", "the link's secret part (key=) is missing or wrong")
    arrival = parse_arrival(study.config, params)
    return study, arrival


def studies_frame(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """study_id, platform, status, created_at, participants of a campaign's studies."""
    return store.read_frame(
        con,
        "SELECT s.study_id, s.platform, s.status, s.created_at, count(p.user_id) AS participants "
        "FROM crowd_studies s LEFT JOIN crowd_participants p USING (study_id) WHERE s.campaign_id = ? "
        "GROUP BY s.study_id, s.platform, s.status, s.created_at ORDER BY s.created_at DESC, s.study_id",
        [campaign_id],
    )
