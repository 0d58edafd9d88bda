"""Telling a write the disk refused (full, over quota, failing) from a transaction conflict, for
`store.write`.

DuckDB reports both as errors of a commit: a conflict ("Transaction conflict: ...") is worth retrying at once,
a refused write ('Failed to commit: Could not write file "app.duckdb.wal": No space left on device') is not.
The commit failed as a whole (DuckDB keeps the connection usable and nothing of the transaction in the store),
so the caller gets `WriteFailed`, says "not stored, try again", and the same write succeeds once there is
room.

PostgreSQL says so by its error codes: disk_full (53100: "could not extend file ...: No space left on
device"), io_error (58030), and read_only_sql_transaction (25006: the server is a read-only standby, or was
put in read-only mode to protect a full disk); its transaction is rolled back as a whole too. A store opened
with `read_only=True` on purpose is the caller's mistake, not a refused write, but the server reports both
alike.
"""

from __future__ import annotations

import logging
import re

import duckdb
from psycopg import errors as pg

from annotations.errors import WriteFailed

_REFUSED = re.compile(
    r"could not (write|sync|fsync|truncate)|no space left|disk quota|file too large|input/output error|"
    r"read-only file system",
    re.IGNORECASE,
)
log = logging.getLogger("annotations.store")


def is_refused_write(error: BaseException) -> bool:
    """Whether `error` is the database saying the disk refused a write (rather than a conflict or a bad
    query)."""
    if isinstance(error, WriteFailed | pg.DiskFull | pg.IoError | pg.ReadOnlySqlTransaction):
        return True
    return isinstance(error, duckdb.Error) and bool(_REFUSED.search(str(error)))


def as_write_failed(error: BaseException) -> BaseException:
    """`error` as WriteFailed (logged once, one line) when the disk refused the write; otherwise unchanged."""
    if isinstance(error, WriteFailed) or not is_refused_write(error):
        return error
    reason = (str(error).splitlines() or [type(error).__name__])[0]
    log.error("a write was not stored: %s", reason)
    # The message reaches annotators' pages: no paths (the log line above has the details).
    failed = WriteFailed(
        "the server could not save this (its disk is full or failing); nothing was stored: try again"
    )
    failed.__cause__ = error
    return failed
