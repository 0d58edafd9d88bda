"""Write transactions: serialized per lane inside a process, grouped into shared commits, retried on
conflicts (DuckDB's optimistic concurrency; PostgreSQL's serialization failures and deadlocks).

Writes go through `write(con, work)`, which serializes them inside the process (group commit: writes arriving
together share one transaction and one sync of the write-ahead log) and retries DuckDB's conflicts, so many
annotators can submit at once without a lost or doubled judgment. A write is durable when `write` returns.

On PostgreSQL (annotations.store.postgres) several processes share the store: each transaction runs in
SERIALIZABLE isolation, so a check-then-insert that raced another process's commit fails with a serialization
failure instead of doubling a row, and is run again here, seeing that commit. The lanes and group commit still
serialize the writes of one process.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import duckdb

from annotations.store.errors import ConflictError
from annotations.store.write_failures import as_write_failed, is_refused_write

# DuckDB allows one writer process; inside it, writes are serialized per lane so that checks such as "does
# this item still have room for a k-th judgment" and the insert happen atomically. Lanes whose writes cannot
# break each other's checks run side by side (DuckDB's own conflict detection guards the rows they share).
WRITE_LOCK = threading.RLock()  # the default lane, also used by migrations
_LANE_LOCKS: dict[str, threading.RLock] = {"store": WRITE_LOCK}
# A conflict is retried with a random, growing pause (2 ms doubling up to 250 ms): with several app
# processes on PostgreSQL, SERIALIZABLE transactions on the same hot rows (an item's k-th judgment) abort
# each other, and fixed short pauses let the same writers collide again in step (8 retries 2-16 ms apart ran
# out under 100 annotators on two processes). Twenty tries span about 3 s at worst.
_CONFLICT_RETRIES = 20
_BACKOFF_FIRST_S, _BACKOFF_MAX_S = 0.002, 0.25

T = TypeVar("T")


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
    write of a lane is known not to break the checks of another (see annotations.judging.assignment,
    .judgments).
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


def write_statement(
    con: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[object] = (), lane: str = "store"
) -> None:
    """One parameterized statement (an INSERT, UPDATE or DELETE whose cursor nobody reads) as a `write` in
    `lane`."""
    write(con, lambda cur: cur.execute(sql, list(parameters)), lane)


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
        except ConflictError as e:
            if attempt == _CONFLICT_RETRIES - 1 or is_refused_write(e):
                raise
            time.sleep(_backoff(attempt))
    raise AssertionError("unreachable")


def _backoff(attempt: int) -> float:
    """The pause before retry `attempt + 1`: uniform in [0, min(first * 2**attempt, max)] ("full jitter"), so
    writers that conflicted once do not retry in step."""
    return random.uniform(0.0, min(_BACKOFF_FIRST_S * 2**attempt, _BACKOFF_MAX_S))


def read(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A fresh cursor for reads from any thread (DuckDB connections are not shared across threads)."""
    return con.cursor()
