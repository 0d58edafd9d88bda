"""The numbered migrations (`annotations/store/migrations/NNN_name.sql`) and the record of those applied.

Every schema change is a new numbered file; `migrate` applies the ones a store has not seen, each in its own
transaction, and records it in `schema_migrations`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import NamedTuple

import duckdb

from annotations.errors import StoreError
from annotations.store.values import utcnow
from annotations.store.writes import WRITE_LOCK

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")


class Migration(NamedTuple):
    """One numbered migration file."""

    number: int
    name: str  # the file name without .sql, e.g. 001_initial
    path: Path


def migrations() -> list[Migration]:
    """The migration files in order."""
    found = []
    for file in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _MIGRATION_NAME.match(file.name)
        if match is None:
            raise StoreError(f"migration file {file.name} must be named NNN_name.sql")
        found.append(Migration(int(match.group(1)), file.stem, file))
    numbers = [n for n, _, _ in found]
    if len(numbers) != len(set(numbers)):
        raise StoreError(f"two migration files share a number in {MIGRATIONS_DIR}")
    return found


def migrate(con: duckdb.DuckDBPyConnection, *, only: Collection[int] | None = None) -> list[str]:
    """Apply every migration not yet recorded in `schema_migrations`; returns the names applied.

    `only`: apply just the migrations with these numbers (restore rebuilds a backup's schema as it was).
    """
    with WRITE_LOCK:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for number, name, file in migrations():
            if number in done or (only is not None and number not in only):
                continue
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(file.read_text())
                con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [number, name, utcnow()])
                con.execute("COMMIT")
            except duckdb.Error as e:
                con.execute("ROLLBACK")
                raise StoreError(f"migration {file.name} failed: {e}") from e
            applied.append(name)
        return applied


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration number applied to this store."""
    row = con.cursor().execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)
