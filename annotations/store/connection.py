"""Where the store lives and how the app opens it: one connection per process, migrations applied on open
(annotations.store.schema), a one-line reason when the store cannot be opened.

DuckDB (the default): one process (the app) opens the file read-write and keeps that single connection; every
thread works through its own `con.cursor()` and writes through annotations.store.writes.
PostgreSQL (`FT_APP_DB=postgresql://...`): a `PostgresStore` (annotations.store.postgres) with the same API
over a connection pool; several processes may open it (docs/store.md).

Target: `FT_APP_DB` if set (a file path or a postgresql:// URL), else `<project>/data/app.duckdb`. A folder
or file created here is its owner's alone (0700, 0600): the store holds password hashes and every campaign's
design.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from annotations.errors import StoreError
from annotations.store.postgres import PostgresStore, is_postgres_url
from annotations.store.schema import migrate

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# DuckDB says: 'Conflicting lock is held in /usr/bin/python3.11 (PID 1234) by user ann. See also ...'
_LOCK_HOLDER = re.compile(r"lock is held in (.+?) \(PID (\d+)\)")


def default_target() -> str | Path:
    """The store the app uses: `$FT_APP_DB` (a postgresql:// URL as a string, else a DuckDB file's path), else
    `data/app.duckdb` under the project root."""
    env = os.environ.get("FT_APP_DB")
    if is_postgres_url(env):
        return env
    return Path(env) if env else PROJECT_ROOT / "data" / "app.duckdb"


def default_path() -> Path:
    """The DuckDB file (`$FT_APP_DB`, else `data/app.duckdb`), whose folder holds the app's files beside the
    store; with a PostgreSQL store, `data/app.duckdb` under the project root (`.parent`: the data folder)."""
    target = default_target()
    return target if isinstance(target, Path) else PROJECT_ROOT / "data" / "app.duckdb"


def connect(
    path: str | Path | None = None, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection | PostgresStore:
    """Open (creating if needed) the store and apply pending migrations; `path` (a DuckDB file, or a
    postgresql:// URL) defaults to `default_target()`.

    Raises StoreError with a one-line reason when the file is locked by another process or cannot be opened.
    """
    target = path if path is not None else default_target()
    if is_postgres_url(target):
        con = PostgresStore(str(target), read_only=read_only)
        if not read_only:
            try:
                migrate(con)
            except BaseException:
                con.close()
                raise
        return con
    path = Path(target)
    creating = str(path) != ":memory:" and not path.exists()
    if creating:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise StoreError(
                f"{path} is held by another process ({lock_holder(str(e))}): only one app (or command) may "
                "open it at a time; stop that one first, or use the running app's pages. Several app "
                "processes need a PostgreSQL store (FT_APP_DB=postgresql://..., docs/deploy.md section 9)"
            ) from e
        raise StoreError(f"cannot open {path}: {(str(e).splitlines() or [''])[0]}") from e
    if creating and path.exists():
        os.chmod(path, 0o600)  # before the first write; the WAL beside it follows the process's umask
    if not read_only:
        migrate(con)
    return con


def lock_holder(message: str) -> str:
    """Who holds a DuckDB file, from DuckDB's lock error: 'PID 1234, /usr/bin/python3', or 'unknown'."""
    match = _LOCK_HOLDER.search(message)
    return f"PID {match.group(2)}, {match.group(1)}" if match else "unknown"
