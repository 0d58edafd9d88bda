"""The language of the open campaigns and of one campaign (the `language` column, migration 005), for the
pages an annotator sees around the annotate page (login, password, the menu): read from its own column, so a
campaign whose stored config cannot be read never stops anyone from logging in.

The answer is remembered per store until a campaign is created, opened or closed (`forget_open_languages`,
called by `create_campaign` and `set_status`; the app is the only process that writes its store). The login
page asks on every run of every visitor, logged in or not, and a fresh cursor plus a query cost a third of an
anonymous page run (docs/benchmarks.md): anonymous visitors then cost the store nothing
(bench/anonymous_load.py).
"""

from __future__ import annotations

import threading
import weakref

import duckdb

from annotations import store

_OPEN_LANGUAGES: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, frozenset[str]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def open_campaign_languages(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The distinct ISO 639-1 codes of the campaigns annotators may work on (campaigns made before 005:
    'en')."""
    with _LOCK:
        known = _OPEN_LANGUAGES.get(con)
    if known is None:
        rows = (
            store.read(con)
            .execute("SELECT DISTINCT coalesce(language, 'en') FROM campaigns WHERE status = 'active'")
            .fetchall()
        )
        known = frozenset(row[0] for row in rows)
        with _LOCK:
            _OPEN_LANGUAGES[con] = known
    return set(known)


def forget_open_languages(con: duckdb.DuckDBPyConnection) -> None:
    """After a write that opens, closes or adds a campaign: the next `open_campaign_languages` reads the
    store."""
    with _LOCK:
        _OPEN_LANGUAGES.pop(con, None)


def campaign_language(con: duckdb.DuckDBPyConnection, campaign_id: str) -> str:
    """The ISO 639-1 code of one campaign ('en' for campaigns made before 005, or for an unknown id)."""
    row = (
        store.read(con)
        .execute("SELECT coalesce(language, 'en') FROM campaigns WHERE campaign_id = ?", [campaign_id])
        .fetchone()
    )
    return row[0] if row else "en"
