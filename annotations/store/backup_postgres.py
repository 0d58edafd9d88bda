"""Backups of a PostgreSQL store with PostgreSQL's own tools, under the same manifest and guarantees as the
DuckDB path (annotations.store.backup, docs/backups.md).

A backup folder holds `database.dump` (`pg_dump --format=custom` of the store's schema) and `manifest.json`.
Consistency: one REPEATABLE READ transaction exports its snapshot (`pg_export_snapshot()`), counts every
table's rows and reads the migrations applied in it, and `pg_dump --snapshot` dumps that same snapshot while
the transaction is held open. So the manifest's counts are exactly the dump's rows, the backup holds every
write committed (acknowledged) before it started and none half, and annotators keep writing meanwhile (a
snapshot blocks no writer).

Restore (`pg_restore` into a database given as a postgresql:// address) checks the manifest and every
checksum, refuses a backup made by a newer schema, refuses a database that already has tables (unless
`replace`: then pg_restore's --clean drops the backup's objects first), restores in one transaction, checks
the migrations and every table's row count against the manifest (dropping what it restored when they
differ); the caller then applies this code's migrations newer than the backup. Unlike the DuckDB path,
pg_restore runs the statements of the dump file: restore only backups kept where only you can write (the
checksums catch accidents, not someone who can write the folder).

The tools are found beside the server's: `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin,
else the PATH. A password goes to them through the environment (PGPASSWORD), never on a command line that
other users can read.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from annotations.store.backup_manifest import BackupError, Manifest
from annotations.store.postgres import redacted

DUMP = "database.dump"
STORE_KIND = "postgresql"  # the manifest's `store` field for these backups
_TOOL_TIMEOUT_S = 6 * 3600


def tool(name: str) -> str:
    """The path of a PostgreSQL client program (pg_dump, pg_restore); BackupError when none is installed."""
    candidates = []
    config = shutil.which("pg_config")
    if config:
        try:
            bindir = subprocess.run([config, "--bindir"], capture_output=True, text=True, timeout=30).stdout
            candidates.append(Path(bindir.strip()) / name)
        except (OSError, subprocess.SubprocessError):
            pass

    def version(path: str) -> int:
        part = Path(path).parent.parent.name
        return int(part) if part.isdigit() else 0

    candidates += [Path(p) for p in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)[::-1]]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise BackupError(
        f"{name} not found: install PostgreSQL's client programs (Debian: apt-get install postgresql-client)"
    )


def _environment(url: str) -> dict[str, str]:
    """The libpq environment for the tools: the address split into PG* variables (password included), so no
    secret appears in a command line."""
    from psycopg.conninfo import conninfo_to_dict

    names = {
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "dbname": "PGDATABASE",
        "sslmode": "PGSSLMODE",
        "options": "PGOPTIONS",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for key, value in conninfo_to_dict(url).items():
        if key in names and value is not None:
            env[names[key]] = str(value)
    return env


def _run(command: list[str], url: str) -> None:
    try:
        done = subprocess.run(
            command, env=_environment(url), capture_output=True, text=True, timeout=_TOOL_TIMEOUT_S
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise BackupError(f"{Path(command[0]).name} could not run: {e}") from e
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError(f"{Path(command[0]).name} failed: {lines[-1] if lines else done.returncode}")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(cur) -> list[str]:
    rows = cur.execute(
        "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    ).fetchall()
    return [name for (name,) in rows]


def _counts(cur, tables: list[str]) -> dict[str, int]:
    return {t: int(cur.execute(f"SELECT count(*) FROM {_quoted(t)}").fetchone()[0]) for t in tables}


@dataclass(frozen=True)
class Export:
    """What one dump holds: the row count of every table and the migrations applied, read in its snapshot."""

    rows: dict[str, int]
    migrations: list[int]
    server_version: str


def export(url: str, folder: Path) -> Export:
    """Dump the store at `url` into `folder/database.dump` and count its rows, all in one snapshot."""
    import psycopg

    dump = tool("pg_dump")
    try:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            (snapshot,) = con.execute("SELECT pg_export_snapshot()").fetchone()
            tables = _tables(con)
            if "schema_migrations" not in tables:
                raise BackupError("the database holds no store of this app (no schema_migrations table)")
            rows = _counts(con, tables)
            applied = [
                int(v) for (v,) in con.execute("SELECT version FROM schema_migrations ORDER BY version")
            ]
            (server,) = con.execute("SHOW server_version").fetchone()
            (schema,) = con.execute("SELECT current_schema()").fetchone()
            # While this transaction stays open its snapshot can be imported: pg_dump reads exactly it.
            # The store's schema only; `public` is left to the whole-database dump, which does not re-create
            # it (a restore into a new database, whose public schema exists, would fail on that).
            only = [] if schema == "public" else [f"--schema={schema}"]
            _run(
                [
                    dump,
                    *only,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={folder / DUMP}",
                ],
                url,
            )
            con.execute("COMMIT")
    except psycopg.Error as e:
        raise BackupError(f"the backup was not written ({(str(e).splitlines() or [''])[0]})") from e
    return Export(rows, applied, str(server))


def restore(folder: Path, manifest: Manifest, url: str, *, replace: bool = False) -> None:
    """Restore the checked backup in `folder` (its manifest already verified) into the database at `url`.

    Refuses a database with tables unless `replace`. Checks the migrations and row counts after pg_restore and
    removes what it restored when they differ. The caller applies newer migrations (store.connect)."""
    import psycopg

    if DUMP not in manifest.files:
        raise BackupError(f"{folder} is not a PostgreSQL backup (no {DUMP}): restore it into a DuckDB file")
    restore_tool = tool("pg_restore")
    try:
        with psycopg.connect(url, autocommit=True) as con:
            existing = _tables(con)
    except psycopg.Error as e:
        raise BackupError(f"cannot connect to {redacted(url)}: {(str(e).splitlines() or [''])[0]}") from e
    if existing and not replace:
        raise BackupError(
            f"{redacted(url)} is not empty ({len(existing)} tables): restore into a new, empty database "
            "(createdb), or pass --replace to drop the backup's tables there first"
        )
    command = [restore_tool, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
    if replace:
        command += ["--clean", "--if-exists"]
    _run([*command, "--dbname=", str(folder / DUMP)], url)  # the database from PGDATABASE
    try:
        with psycopg.connect(url, autocommit=True) as con:
            problem = _compare(con, manifest)
            if problem is not None:
                with con.transaction():
                    for table in manifest.tables:
                        con.execute(f"DROP TABLE IF EXISTS {_quoted(table)} CASCADE")
                raise BackupError(
                    f"restoring {folder} failed: {problem}; the restored tables were dropped again"
                )
    except psycopg.Error as e:
        raise BackupError(f"restoring {folder} failed: {(str(e).splitlines() or [''])[0]}") from e


def _compare(con, manifest: Manifest) -> str | None:
    """Why the restored database does not hold what the manifest says, or None."""
    tables = _tables(con)
    if sorted(tables) != sorted(manifest.tables):
        return (
            f"the restored tables ({', '.join(tables)}) are not the backup's ({', '.join(manifest.tables)})"
        )
    applied = sorted(int(v) for (v,) in con.execute("SELECT version FROM schema_migrations"))
    if applied != sorted(manifest.migrations):
        return f"schema_migrations records {applied}; the manifest says {sorted(manifest.migrations)}"
    for table, rows in _counts(con, tables).items():
        if rows != manifest.tables[table]:
            return f"table {table} has {rows} rows; the manifest says {manifest.tables[table]}"
    return None
