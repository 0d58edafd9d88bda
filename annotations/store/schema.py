"""The numbered migrations (`annotations/store/migrations/NNN_name.sql`) and the record of those applied.

Every schema change is a new numbered file; `migrate` applies the ones a store has not seen, each in its own
transaction, and records it in `schema_migrations`.

One set of files serves DuckDB and PostgreSQL: they are written in the SQL both speak (`DOUBLE PRECISION`, a
named subquery). The one difference left is DuckDB's `sha256(text)`, which returns hex text; on PostgreSQL,
`migrate` first defines that function (`POSTGRES_FUNCTIONS`; PostgreSQL's own `sha256` takes bytea), so the
files run unchanged. tests/annotations/store/test_backends.py applies all of them on both backends and
compares the tables, columns and types. On PostgreSQL an advisory lock keeps two processes from migrating the
same store at once.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import NamedTuple

import duckdb

from annotations.errors import StoreError
from annotations.store.errors import DatabaseError
from annotations.store.postgres import is_postgres_store
from annotations.store.values import utcnow
from annotations.store.writes import WRITE_LOCK

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")
# DuckDB's sha256 of a text, as hex text (migrations 002 and 010 use it), for PostgreSQL
POSTGRES_FUNCTIONS = """
CREATE OR REPLACE FUNCTION sha256(value text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT encode(pg_catalog.sha256(convert_to(value, 'UTF8')), 'hex') $$;
"""
_MIGRATION_LOCK = 7215_0001  # pg_advisory_xact_lock key: one process migrates a PostgreSQL store at a time


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
    postgres = is_postgres_store(con)
    # PostgreSQL: READ COMMITTED, so that the check after the advisory lock sees what a process that held the
    # lock before committed (a SERIALIZABLE snapshot would date from the lock's own statement)
    begin = "BEGIN ISOLATION LEVEL READ COMMITTED" if postgres else "BEGIN TRANSACTION"
    lock = f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"
    with WRITE_LOCK:
        cur = con.cursor()
        try:
            cur.execute(begin)
            if postgres:
                cur.execute(lock)
                cur.execute(POSTGRES_FUNCTIONS)
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
            )
            cur.execute("COMMIT")
            done = {row[0] for row in cur.execute("SELECT version FROM schema_migrations").fetchall()}
        finally:
            cur.close()
        applied = []
        for number, name, file in migrations():
            if number in done or (only is not None and number not in only):
                continue
            cur = con.cursor()
            try:
                cur.execute(begin)
                if postgres:  # another process may have applied it since `done` was read
                    cur.execute(lock)
                    recorded = cur.execute(
                        "SELECT count(*) FROM schema_migrations WHERE version = ?", [number]
                    )
                    if recorded.fetchone()[0]:
                        cur.execute("ROLLBACK")
                        continue
                cur.execute(file.read_text())
                cur.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [number, name, utcnow()])
                cur.execute("COMMIT")
            except DatabaseError as e:
                cur.execute("ROLLBACK")
                raise StoreError(f"migration {file.name} failed: {e}") from e
            finally:
                cur.close()
            applied.append(name)
        return applied


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration number applied to this store."""
    row = con.cursor().execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


# PostgreSQL's information_schema names of the types the migrations use -> DuckDB's names
_POSTGRES_TYPES = {
    "character varying": "VARCHAR",
    "text": "VARCHAR",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "boolean": "BOOLEAN",
    "double precision": "DOUBLE",
    "real": "FLOAT",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "date": "DATE",
}


def table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """The store's tables, each with its columns in order and their types in DuckDB's names (VARCHAR,
    INTEGER, DOUBLE, TIMESTAMP, VARCHAR[], ...) on either backend."""
    postgres = is_postgres_store(con)
    element = "c.udt_name" if postgres else "NULL"
    rows = (
        con.cursor()
        .execute(
            f"SELECT c.table_name, c.column_name, c.data_type, {element} FROM information_schema.columns c "
            "JOIN information_schema.tables t "
            "ON t.table_name = c.table_name AND t.table_schema = c.table_schema "
            "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
            "ORDER BY c.table_name, c.ordinal_position"
        )
        .fetchall()
    )
    tables: dict[str, dict[str, str]] = {}
    for table, column, kind, udt in rows:
        if postgres:
            kind = (
                _POSTGRES_TYPES.get(udt.lstrip("_").replace("varchar", "character varying"), udt) + "[]"
                if kind == "ARRAY"
                else _POSTGRES_TYPES.get(kind, kind.upper())
            )
        tables.setdefault(table, {})[column] = kind
    return tables
