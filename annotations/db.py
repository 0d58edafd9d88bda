"""The DuckDB store: where the file lives, the connection, migrations, and write transactions.

One process (the app) opens the file read-write and keeps that single connection; every thread works through
its own `con.cursor()`. Writes go through `transaction(con)`, which serializes them inside the process and
retries DuckDB's optimistic-concurrency conflicts, so many annotators can submit at once without a lost or
doubled judgment. A commit is durable when `transaction` returns (DuckDB syncs its write-ahead log).

Path: `FT_APP_DB` if set, else `<project>/data/app.duckdb`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb

from annotations.errors import StoreError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")

# One lock per process: DuckDB allows one writer process, and inside it we serialize write transactions so
# that checks such as "does this item still have room for a k-th judgment" and the insert happen atomically.
_WRITE_LOCK = threading.RLock()
_CONFLICT_RETRIES = 8

T = TypeVar("T")


def default_path() -> Path:
    """The DuckDB file the app uses: `$FT_APP_DB`, else `data/app.duckdb` under the project root."""
    env = os.environ.get("FT_APP_DB")
    return Path(env) if env else PROJECT_ROOT / "data" / "app.duckdb"


def utcnow() -> datetime:
    """Now, in UTC, as the naive datetime the TIMESTAMP columns store."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id(prefix: str = "") -> str:
    """A random opaque id (128 bits); it says nothing about what it names."""
    return prefix + secrets.token_hex(16)


def connect(path: str | Path | None = None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the store and apply pending migrations; `path` defaults to `default_path()`.

    Raises StoreError with a one-line reason when the file is locked by another process or cannot be opened.
    """
    path = Path(path) if path is not None else default_path()
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise StoreError(
                f"{path} is open in another process (the app holds the only read-write connection); "
                "stop it or use the app's pages"
            ) from e
        raise StoreError(f"cannot open {path}: {e}") from e
    if not read_only:
        migrate(con)
    return con


def migrations() -> list[tuple[int, str, Path]]:
    """The migration files in order: (number, name, path)."""
    found = []
    for file in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _MIGRATION_NAME.match(file.name)
        if match is None:
            raise StoreError(f"migration file {file.name} must be named NNN_name.sql")
        found.append((int(match.group(1)), file.stem, file))
    numbers = [n for n, _, _ in found]
    if len(numbers) != len(set(numbers)):
        raise StoreError(f"two migration files share a number in {MIGRATIONS_DIR}")
    return found


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration not yet recorded in `schema_migrations`; returns the names applied."""
    with _WRITE_LOCK:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for number, name, file in migrations():
            if number in done:
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


@contextlib.contextmanager
def _one_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    cur = con.cursor()
    try:
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")
    finally:
        cur.close()


def write(con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run `work(cursor)` in one serialized write transaction and return its result.

    `work` may run more than once: DuckDB raises a TransactionException when a transaction conflicts with one
    committed meanwhile (another process-local cursor that did not use this function); we roll back and retry.
    """
    for attempt in range(_CONFLICT_RETRIES):
        try:
            with _WRITE_LOCK, _one_transaction(con) as cur:
                return work(cur)
        except duckdb.TransactionException:
            if attempt == _CONFLICT_RETRIES - 1:
                raise
            time.sleep(0.002 * (attempt + 1))
    raise AssertionError("unreachable")


def read(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A fresh cursor for reads from any thread (DuckDB connections are not shared across threads)."""
    return con.cursor()
