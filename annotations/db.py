"""The DuckDB store: where the file lives, the connection, migrations, and write transactions.

One process (the app) opens the file read-write and keeps that single connection; every thread works through
its own `con.cursor()`. Writes go through `write(con, work)`, which serializes them inside the process (group
commit: writes arriving together share one transaction and one sync of the write-ahead log) and retries
DuckDB's optimistic-concurrency conflicts, so many annotators can submit at once without a lost or doubled
judgment. A write is durable when `write` returns.

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
from annotations.write_failures import as_write_failed, is_refused_write

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")
# DuckDB says: 'Conflicting lock is held in /usr/bin/python3.11 (PID 1234) by user ann. See also ...'
_LOCK_HOLDER = re.compile(r"lock is held in (.+?) \(PID (\d+)\)")

# DuckDB allows one writer process; inside it, writes are serialized per lane so that checks such as "does this
# item still have room for a k-th judgment" and the insert happen atomically. Lanes whose writes cannot break
# each other's checks run side by side (DuckDB's own conflict detection guards the rows they share).
_WRITE_LOCK = threading.RLock()  # the default lane, also used by migrations
_LANE_LOCKS: dict[str, threading.RLock] = {"store": _WRITE_LOCK}
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
                f"{path} is held by another process ({lock_holder(str(e))}): only one app (or command) may "
                "open it at a time; stop that one first, or use the running app's pages"
            ) from e
        raise StoreError(f"cannot open {path}: {(str(e).splitlines() or [''])[0]}") from e
    if not read_only:
        migrate(con)
    return con


def lock_holder(message: str) -> str:
    """Who holds a DuckDB file, from DuckDB's lock error: 'PID 1234, /usr/bin/python3', or 'unknown'."""
    match = _LOCK_HOLDER.search(message)
    return f"PID {match.group(2)}, {match.group(1)}" if match else "unknown"


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


class _Request:
    """One write waiting for a group commit."""

    __slots__ = ("con", "work", "done", "result", "error")

    def __init__(
        self, con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], object]
    ) -> None:
        self.con, self.work = con, work
        self.done, self.result, self.error = False, None, None


_PENDING: dict[str, list[_Request]] = {}
_PENDING_LOCK = threading.Lock()


def write(
    con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T], lane: str = "store"
) -> T:
    """Run `work(cursor)` in a serialized write transaction and return its result once it is committed.

    Group commit: writes that arrive while another one is committing wait, then run one after the other in a
    single transaction, so many annotators share one commit (one sync of the write-ahead log) without seeing
    each other's half-done work. If any of them raises, the whole group is rolled back and each write is run
    again alone, so a failure only ever affects its own write. `work` may therefore run more than once, and it
    is also retried when DuckDB reports a conflict with a transaction committed outside this function.

    `lane`: writes in one lane are serialized; different lanes run concurrently. Use the default unless every
    write of a lane is known not to break the checks of another (see annotations.assignment, .judgments).
    """
    request = _Request(con, work)
    with _PENDING_LOCK:
        lock = _LANE_LOCKS.setdefault(lane, threading.RLock())
        _PENDING.setdefault(lane, []).append(request)
    with lock:
        if not request.done:
            with _PENDING_LOCK:
                pending = _PENDING[lane]
                group = [r for r in pending if r.con is con]
                pending[:] = [r for r in pending if r.con is not con]
            _run_group(con, group)
    if request.error is not None:
        raise as_write_failed(request.error)  # a full disk: WriteFailed, "not stored, try again"
    return request.result  # type: ignore[return-value]


def _run_group(con: duckdb.DuckDBPyConnection, group: list[_Request]) -> None:
    if len(group) > 1:
        try:
            with _one_transaction(con) as cur:
                results = [r.work(cur) for r in group]
        except Exception:
            pass  # replay each write alone below
        else:
            for r, result in zip(group, results):
                r.result, r.done = result, True
            return
    for r in group:
        try:
            r.result = _write_alone(con, r.work)
        except Exception as e:
            r.error = e
        r.done = True


def _write_alone(con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    for attempt in range(_CONFLICT_RETRIES):
        try:
            with _one_transaction(con) as cur:
                return work(cur)
        except duckdb.TransactionException as e:
            if attempt == _CONFLICT_RETRIES - 1 or is_refused_write(e):
                raise
            time.sleep(0.002 * (attempt + 1))
    raise AssertionError("unreachable")


def read(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A fresh cursor for reads from any thread (DuckDB connections are not shared across threads)."""
    return con.cursor()
