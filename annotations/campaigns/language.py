"""The language of the open campaigns and of one campaign (the `language` column, migration 005), for the pages
an annotator sees around the annotate page (login, password, the menu): read from its own column, so a campaign
whose stored config cannot be read never stops anyone from logging in."""

from __future__ import annotations

import duckdb

from annotations import store


def open_campaign_languages(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The distinct ISO 639-1 codes of the campaigns annotators may work on (campaigns made before 005: 'en')."""
    rows = (
        store.read(con)
        .execute("SELECT DISTINCT coalesce(language, 'en') FROM campaigns WHERE status = 'active'")
        .fetchall()
    )
    return {row[0] for row in rows}


def campaign_language(con: duckdb.DuckDBPyConnection, campaign_id: str) -> str:
    """The ISO 639-1 code of one campaign ('en' for campaigns made before 005, or for an unknown id)."""
    row = (
        store.read(con)
        .execute("SELECT coalesce(language, 'en') FROM campaigns WHERE campaign_id = ?", [campaign_id])
        .fetchone()
    )
    return row[0] if row else "en"
