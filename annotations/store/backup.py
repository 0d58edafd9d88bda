"""Backups of the study's store while the app runs, and restoring one into a new DuckDB file
(docs/backups.md).

A backup is a folder `backup-<UTC time>/` holding DuckDB's `EXPORT DATABASE` in Parquet (one file per table,
plus DuckDB's `schema.sql` and `load.sql`, which restore never runs) and a `manifest.json`
(annotations.store.backup_manifest): when, the schema version, the row count of every table, and the SHA-256
and size of every file. It is written through the app's own connection, in the write queue (`store.write`, its
own lane) and inside one transaction: DuckDB gives that transaction one snapshot of the committed data, so a
backup holds every write acknowledged before it started (a submit is acknowledged only after its commit) and
no write half: a judgment is in it with its scores and its assignment marked submitted, or not at all.
Annotators keep submitting meanwhile (their lanes are not blocked). The folder is written as `<name>.partial`
and renamed once complete, so a crash or a full disk never leaves one that looks finished; the next backup (or
pruning) removes what a killed one left. The backups folder and every backup are the owner's alone (0700,
files 0600): a backup holds password hashes and design secrets.

Restore (`python -m annotations restore BACKUP --db NEW.duckdb`) checks the manifest's structure and every
checksum, refuses a backup made by a newer schema than this code knows, builds the schema from this code's own
migrations (those the backup had), loads each of the schema's tables from its Parquet file after checking its
columns and rows, into a new file only (never over an existing one), and then applies the migrations newer
than the backup. No SQL and no name from the folder is run or pasted into a query.

The app also backs up on a schedule (`ensure_schedule`, one thread per process): environment FT_BACKUP_DIR
(default: `backups/` beside the DuckDB file), FT_BACKUP_EVERY_MINUTES (default 60; 0 turns it off) and
FT_BACKUP_KEEP (default 24: scheduled backups beyond the newest 24 are deleted; backups taken by hand are
kept).
"""

from __future__ import annotations

import argparse
import atexit
import fcntl
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from annotations import store
from annotations.errors import StoreError
from annotations.plurals import counted, plural
from annotations.store import backup_postgres
from annotations.store.backup_manifest import (  # the manifest's names stay importable from here
    FORMAT,  # noqa: F401
    FORMAT_VERSION,  # noqa: F401
    MANIFEST,
    TRIGGERS,
    BackupError,
    FileEntry,
    Manifest,
    read_manifest,
)

BACKUP_LANE = "backup"  # its own lane: a backup never shares a group commit with anyone's write
_PARTIAL = ".partial"
_BACKUP_LOCK = threading.Lock()  # one backup at a time in this process (the button and the schedule)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackupSettings:
    """Where and how often the app backs up (FT_BACKUP_DIR, FT_BACKUP_EVERY_MINUTES, FT_BACKUP_KEEP)."""

    directory: Path = field(metadata={"help": "folder that holds the backup folders"})
    every_minutes: float = field(
        default=60.0, metadata={"help": "schedule interval; 0 turns the schedule off"}
    )
    keep: int = field(default=24, metadata={"help": "scheduled backups to keep (the newest); 0 keeps all"})

    def __post_init__(self) -> None:
        if self.every_minutes < 0:
            raise BackupError(
                f"FT_BACKUP_EVERY_MINUTES must be 0 (off) or positive, got {self.every_minutes}"
            )
        if self.keep < 0:
            raise BackupError(f"FT_BACKUP_KEEP must be 0 (keep all) or positive, got {self.keep}")

    @classmethod
    def from_env(cls, db_path: str | Path | None = None) -> BackupSettings:
        """The settings from the environment; the default folder is `backups/` beside the DuckDB file."""
        db_path = Path(db_path) if db_path is not None else store.default_path()
        directory = os.environ.get("FT_BACKUP_DIR") or db_path.resolve().parent / "backups"
        try:
            every = float(os.environ.get("FT_BACKUP_EVERY_MINUTES") or 60)
            keep = int(os.environ.get("FT_BACKUP_KEEP") or 24)
        except ValueError as e:
            raise BackupError(f"FT_BACKUP_EVERY_MINUTES / FT_BACKUP_KEEP must be numbers: {e}") from None
        return cls(Path(directory), every, keep)


@dataclass(frozen=True)
class Backup:
    """One finished backup folder and what its manifest says."""

    path: Path
    created_at: datetime
    trigger: str
    schema_version: int
    rows: dict[str, int]
    bytes: int

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class UnreadableBackup:
    """A folder in the backups folder that looks like a backup but whose manifest cannot be read."""

    path: Path
    reason: str


@dataclass(frozen=True)
class BackupFolders:
    """What a backups folder holds: the readable backups (newest first) and the unreadable ones."""

    backups: list[Backup]
    unreadable: list[UnreadableBackup]


# ------------------------------------------------------------------------------------------------- taking one


def _tables(cur: duckdb.DuckDBPyConnection) -> list[str]:
    rows = cur.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
    ).fetchall()
    return [name for (name,) in rows]


def _quoted(name: str) -> str:
    """A table or column name as a SQL identifier; only for names read from our own schema."""
    return '"' + name.replace('"', '""') + '"'


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _new_folder(directory: Path, at: datetime) -> Path:
    stem = f"backup-{at:%Y%m%dT%H%M%S}Z"
    name, n = stem, 1
    while (directory / name).exists() or (directory / (name + _PARTIAL)).exists():
        n += 1
        name = f"{stem}-{n}"
    return directory / name


def _private_folder(directory: Path) -> None:
    """Create the backups folder as the owner's alone, and take group and others' access off an existing
    one."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(directory, 0o700)
    except PermissionError:  # a folder someone else owns: each backup in it is 0700 all the same
        log.warning("cannot make %s private (0700): it belongs to another user", directory)


@contextmanager
def _writer_lock(directory: Path) -> Iterator[None]:
    """Hold the backups folder's lock (a flock on the folder itself, so no lock file lies among the backups):
    while held, no other process writes a backup into it or prunes it."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process is killed
        yield
    finally:
        os.close(fd)


def _remove_unfinished(directory: Path) -> list[Path]:
    """Delete the `.partial` folders a killed backup left behind (call with the writer lock held: then none is
    being written)."""
    removed = []
    for folder in directory.iterdir():
        if folder.name.endswith(_PARTIAL) and folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
            log.warning("removed %s, left by a backup that did not finish", folder)
            removed.append(folder)
    return removed


def take_backup(con: duckdb.DuckDBPyConnection, directory: str | Path, trigger: str = "manual") -> Backup:
    """Write a consistent snapshot of the store into a new folder under `directory`; returns it.

    DuckDB: runs in the app's write queue (`store.write`, lane "backup") inside one transaction, so it holds
    exactly the writes committed before it started. PostgreSQL: `pg_dump` of one snapshot, the manifest's
    counts read in that same snapshot (annotations.store.backup_postgres). Raises BackupError (nothing left
    behind) when the snapshot cannot be written, e.g. on a full disk. First removes what an earlier backup
    killed mid-way left (`<name>.partial`).
    """
    backup = _take_backup(con, Path(directory), trigger, skip_within_s=None)
    assert backup is not None
    return backup


def take_scheduled_backup(con: duckdb.DuckDBPyConnection, settings: BackupSettings) -> Backup | None:
    """The schedule's backup, unless another process sharing the backups folder (several app processes on one
    PostgreSQL store) took a scheduled one within the last half interval: then None. The check and the backup
    happen under the folder's lock, so the processes' schedules make one backup per interval, not one each."""
    return _take_backup(con, settings.directory, "scheduled", skip_within_s=settings.every_minutes * 60 / 2)


def _recent_scheduled(directory: Path, at: datetime, within_s: float) -> bool:
    newest = [b for b in scan_backups(directory).backups if b.trigger == "scheduled"]
    return bool(newest) and 0 <= (at - newest[0].created_at).total_seconds() < within_s


def _take_backup(
    con: duckdb.DuckDBPyConnection, directory: Path, trigger: str, skip_within_s: float | None
) -> Backup | None:
    if trigger not in TRIGGERS:
        raise BackupError(f"trigger must be one of {', '.join(TRIGGERS)}, got '{trigger}'")
    url = con.url if store.is_postgres_store(con) else None
    with _BACKUP_LOCK:
        started = time.perf_counter()
        at = store.utcnow()
        partial = None
        try:
            _private_folder(directory)
            with _writer_lock(directory):
                _remove_unfinished(directory)
                if skip_within_s is not None and _recent_scheduled(directory, at, skip_within_s):
                    return None
                final = _new_folder(directory, at)
                partial = final.with_name(final.name + _PARTIAL)
                partial.mkdir(mode=0o700)
                if url is not None:
                    dumped = backup_postgres.export(url, partial)
                    rows, applied = dumped.rows, dumped.migrations
                    extra = {"store": backup_postgres.STORE_KIND, "postgresql_version": dumped.server_version}
                else:
                    rows, applied = store.write(con, lambda cur: _export(cur, partial), lane=BACKUP_LANE)
                    extra = {"duckdb_version": duckdb.__version__}
                files = {}
                for p in sorted(partial.iterdir()):
                    os.chmod(p, 0o600)
                    files[p.name] = FileEntry(_sha256(p), p.stat().st_size)
                manifest = Manifest(
                    created_at=at,
                    trigger=trigger,
                    schema_version=max(applied, default=0),
                    migrations=tuple(applied),
                    tables=rows,
                    files=files,
                    extra={**extra, "seconds": round(time.perf_counter() - started, 3)},
                )
                fd = os.open(partial / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(manifest.to_json())
                os.chmod(partial, 0o700)
                _fsync_folder(partial)
                partial.rename(final)
        except BackupError:
            if partial is not None:
                shutil.rmtree(partial, ignore_errors=True)
            raise
        except (OSError, duckdb.Error, StoreError) as e:
            if partial is not None:
                shutil.rmtree(partial, ignore_errors=True)
            cause = e.__cause__ if isinstance(e, StoreError) and e.__cause__ is not None else e
            reason = (str(cause).splitlines() or [type(cause).__name__])[0]
            raise BackupError(f"the backup was not written ({reason}); the store itself is unchanged") from e
    backup = read_backup(final)
    log.info("backup %s written (%s, %d files)", final, trigger, len(files))
    return backup


def _export(cur: duckdb.DuckDBPyConnection, folder: Path) -> tuple[dict[str, int], list[int]]:
    # Counts, migrations and the export all read the same snapshot: this one transaction's. The table names
    # come from the store's own catalogue.
    tables = _tables(cur)
    rows = {t: int(cur.execute(f"SELECT count(*) FROM {_quoted(t)}").fetchone()[0]) for t in tables}
    applied = [
        int(v) for (v,) in cur.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    ]
    path = str(folder).replace("'", "''")
    cur.execute(f"EXPORT DATABASE '{path}' (FORMAT parquet)")
    return rows, applied


def _fsync_folder(folder: Path) -> None:
    for p in folder.iterdir():
        with p.open("rb") as f:
            os.fsync(f.fileno())


# ------------------------------------------------------------------------------------------ reading and
# pruning


def read_backup(folder: str | Path) -> Backup:
    """The backup in `folder`, from its checked manifest (files are not checked here: see `verify`)."""
    folder = Path(folder)
    m = read_manifest(folder)
    return Backup(
        path=folder,
        created_at=m.created_at,
        trigger=m.trigger,
        schema_version=m.schema_version,
        rows=dict(m.tables),
        bytes=m.bytes,
    )


def scan_backups(directory: str | Path) -> BackupFolders:
    """The backups in `directory`, newest first, and the folders that look like backups but cannot be read
    (unfinished `.partial` folders and folders that are neither named nor shaped like a backup are left
    out)."""
    directory = Path(directory)
    if not directory.is_dir():
        return BackupFolders([], [])
    found, unreadable = [], []
    for folder in sorted(directory.iterdir()):
        if not folder.is_dir() or folder.name.endswith(_PARTIAL) or folder.name.startswith("."):
            continue
        if not folder.name.startswith("backup-") and not (folder / MANIFEST).exists():
            continue  # not ours
        try:
            found.append(read_backup(folder))
        except BackupError as e:
            unreadable.append(UnreadableBackup(folder, str(e)))
    found.sort(key=lambda b: (b.created_at, b.name), reverse=True)
    return BackupFolders(found, unreadable)


def list_backups(directory: str | Path) -> list[Backup]:
    """The finished, readable backups in `directory`, newest first (see `scan_backups` for the others)."""
    return scan_backups(directory).backups


def backups_frame(directory: str | Path) -> pd.DataFrame:
    """The backups as a table for the Backups page: name, time (UTC), trigger, judgments, size (MB)."""
    rows = [
        {
            "backup": b.name,
            "created (UTC)": b.created_at.replace(microsecond=0),
            "trigger": b.trigger,
            "judgments": b.rows.get("judgments", 0),
            "size (MB)": round(b.bytes / 1e6, 2),
            "schema": b.schema_version,
        }
        for b in list_backups(directory)
    ]
    columns = ["backup", "created (UTC)", "trigger", "judgments", "size (MB)", "schema"]
    return pd.DataFrame(rows, columns=columns)


def prune(directory: str | Path, keep: int) -> list[Path]:
    """Delete scheduled backups beyond the newest `keep` (0 keeps all); backups taken by hand stay, and so do
    folders whose manifest cannot be read (logged). First removes what a killed backup left (`.partial`)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    with _writer_lock(directory):
        _remove_unfinished(directory)
        if keep <= 0:
            return []
        found = scan_backups(directory)
        for bad in found.unreadable:
            log.warning("not pruned, cannot be read: %s", bad.reason)
        scheduled = [b for b in found.backups if b.trigger == "scheduled"]
        removed = []
        for old in scheduled[keep:]:
            shutil.rmtree(old.path, ignore_errors=True)
            removed.append(old.path)
    return removed


def verify(folder: str | Path) -> Manifest:
    """Check the manifest's structure and every file it lists against its size and SHA-256; returns it."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    for name, expected in manifest.files.items():
        path = folder / name
        if path.is_symlink() or not path.is_file():
            raise BackupError(f"{folder} is incomplete: {name} is missing (or not a plain file)")
        if path.stat().st_size != expected.bytes or _sha256(path) != expected.sha256:
            raise BackupError(f"{folder} is damaged: {name} does not match its checksum in {MANIFEST}")
    return manifest


# ------------------------------------------------------------------------------------------------- restoring


@dataclass(frozen=True)
class _TableLoad:
    """One table to fill from one Parquet file of the backup; every name here comes from our own schema."""

    table: str
    columns: tuple[str, ...]
    file: Path
    rows: int


def restore(folder: str | Path, new_db: str | Path, *, replace: bool = False) -> Backup:
    """Rebuild a store from the backup in `folder` as the new DuckDB file `new_db` (which must not exist), or,
    for a backup of a PostgreSQL store, in the empty database at the postgresql:// address `new_db`.

    DuckDB: runs none of the folder's SQL: the schema comes from this code's migrations (those the backup
    had), and only that schema's tables are loaded, each from its checked Parquet file. Everything is checked
    before the new file is written; on any refusal nothing is left behind. PostgreSQL: `pg_restore` of the
    checked dump, then the migrations and row counts checked (annotations.store.backup_postgres); `replace`
    lets it restore over a database that has tables (pg_restore --clean).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BackupError(f"{folder} not found: pass a backup folder (one with {MANIFEST})")
    to_postgres = store.is_postgres_url(str(new_db))
    if not to_postgres:
        new_db = Path(new_db)
        if new_db.exists() or Path(f"{new_db}.wal").exists():
            raise BackupError(f"{new_db} exists: restore only into a new file (choose another name)")
    manifest = verify(folder)
    if (manifest.store == "postgresql") != to_postgres:
        raise BackupError(
            f"{folder} is a backup of a PostgreSQL store: restore it into an empty PostgreSQL database "
            "(--db postgresql://...)"
            if to_postgres is False
            else f"{folder} is a backup of a DuckDB store: restore it into a new DuckDB file"
        )
    # Migration numbers are not contiguous (001..., 100_jobs_queue): "newer" means a migration this code
    # lacks.
    known = {number for number, _, _ in store.migrations()}
    unknown = sorted(set(manifest.migrations) - known)
    if unknown:
        raise BackupError(
            f"{folder} comes from a newer version of this app (schema {manifest.schema_version}, "
            f"{plural(len(unknown), 'migration')} {', '.join(f'{n:03d}' for n in unknown)} unknown here): "
            "restore it with that version"
        )
    if to_postgres:
        backup_postgres.restore(folder, manifest, str(new_db), replace=replace)
        try:
            store.connect(str(new_db)).close()  # migrations newer than the backup
        except StoreError as e:
            raise BackupError(f"restored {folder}, but migrating it failed: {e}") from e
        return read_backup(folder)
    building = new_db.with_name(f".{new_db.name}.restoring")
    try:
        plan = _plan(folder, manifest)  # every check, in memory
        new_db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for leftover in (building, Path(f"{building}.wal")):
            leftover.unlink(missing_ok=True)
        _load(building, manifest, plan)
        store.connect(building).close()  # migrations newer than the backup
        building.rename(new_db)
    except (duckdb.Error, OSError, StoreError) as e:
        raise BackupError(f"restoring {folder} failed: {(str(e).splitlines() or [''])[0]}") from e
    finally:
        for leftover in (building, Path(f"{building}.wal")):
            leftover.unlink(missing_ok=True)
    return read_backup(folder)


def _schema_columns(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, ...]]:
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' ORDER BY table_name, column_index"
    ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return {table: tuple(names) for table, names in columns.items()}


def _plan(folder: Path, manifest: Manifest) -> list[_TableLoad]:
    """Check the backup's tables against the schema this code builds for it (names, columns, rows) without
    writing anything; returns what to load."""
    con = duckdb.connect(":memory:")
    try:
        store.migrate(con, only=set(manifest.migrations))
        schema = _schema_columns(con)
        strange = sorted(set(manifest.tables) - set(schema))
        if strange:
            raise BackupError(
                f"{folder}: {MANIFEST} lists {plural(len(strange), 'table')} that schema "
                f"{manifest.schema_version} does not have ({', '.join(strange)}): refused, nothing restored"
            )
        missing = sorted(set(schema) - set(manifest.tables))
        if missing:
            raise BackupError(f"{folder} is incomplete: it has no data for {', '.join(missing)}")
        plan = []
        for table, columns in schema.items():
            file = folder / f"{table}.parquet"  # checked: named in the manifest, checksum matched
            described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(file)]).fetchall()
            found = [name for name, *_ in described]  # DESCRIBE: column_name, column_type, ...
            if sorted(found) != sorted(columns):
                extra = sorted(set(found) - set(columns)) or "none"
                lacking = sorted(set(columns) - set(found)) or "none"
                raise BackupError(
                    f"{file.name} does not hold the columns of table {table} in schema "
                    f"{manifest.schema_version} (unknown: {extra}; missing: {lacking})"
                )
            (rows,) = con.execute("SELECT count(*) FROM read_parquet(?)", [str(file)]).fetchone()
            if rows != manifest.tables[table]:
                raise BackupError(f"{file.name} has {rows} rows; {MANIFEST} says {manifest.tables[table]}")
            plan.append(_TableLoad(table, columns, file, rows))
        return plan
    finally:
        con.close()


def _load(building: Path, manifest: Manifest, plan: list[_TableLoad]) -> None:
    """Build the schema in the new file and fill its tables, in one transaction."""
    con = duckdb.connect(str(building))
    try:
        os.chmod(building, 0o600)
        store.migrate(con, only=set(manifest.migrations))
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM schema_migrations")  # replaced by the backup's own record of them
        for load in plan:  # table and column names from our schema (_plan), quoted
            names = ", ".join(_quoted(c) for c in load.columns)
            con.execute(
                f"INSERT INTO {_quoted(load.table)} ({names}) SELECT {names} FROM read_parquet(?)",
                [str(load.file)],
            )
            (got,) = con.execute(f"SELECT count(*) FROM {_quoted(load.table)}").fetchone()
            if got != load.rows:
                raise BackupError(f"restored table {load.table} has {got} rows; the backup says {load.rows}")
        recorded = sorted(v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall())
        if recorded != sorted(manifest.migrations):
            raise BackupError(
                f"schema_migrations.parquet records migrations {recorded}; {MANIFEST} says "
                f"{sorted(manifest.migrations)}"
            )
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------- the schedule


class BackupSchedule:
    """The thread that backs the store up every `settings.every_minutes` and prunes old scheduled backups."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: BackupSettings) -> None:
        self.con, self.settings = con, settings
        self.last_error: str | None = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="ft-backups", daemon=True)

    def _loop(self) -> None:
        interval = self.settings.every_minutes * 60
        while not self._stop.wait(interval):
            try:
                take_scheduled_backup(self.con, self.settings)
                prune(self.settings.directory, self.settings.keep)
                self.last_error = None
            except BackupError as e:  # a full disk: say so, try again next time
                self.last_error = str(e)
                log.error("scheduled backup failed: %s", e)
            except Exception as e:  # the store was closed: the app is going down
                if "closed" in str(e).lower():
                    return
                self.last_error = str(e)
                log.exception("scheduled backup failed")

    def stop(self, timeout: float = 10) -> None:
        """Stop the thread (waits for a backup in progress)."""
        self._stop.set()
        self.thread.join(timeout)


_SCHEDULE: BackupSchedule | None = None
_SCHEDULE_LOCK = threading.Lock()


def ensure_schedule(
    con: duckdb.DuckDBPyConnection, settings: BackupSettings | None = None
) -> BackupSchedule | None:
    """Start the backup schedule once per process (later calls return the running one); None when turned
    off."""
    global _SCHEDULE
    settings = settings or BackupSettings.from_env()
    with _SCHEDULE_LOCK:
        if _SCHEDULE is not None and _SCHEDULE.thread.is_alive():
            return _SCHEDULE
        if settings.every_minutes == 0:
            return None
        _SCHEDULE = BackupSchedule(con, settings)
        _SCHEDULE.thread.start()
        return _SCHEDULE


def _stop_schedule() -> None:
    """At exit, let a backup in progress leave DuckDB's C++ code before the interpreter tears threads down."""
    if _SCHEDULE is not None:
        _SCHEDULE.stop(timeout=30)


atexit.register(_stop_schedule)


def running_schedule() -> BackupSchedule | None:
    """The schedule started in this process, if any."""
    return _SCHEDULE if _SCHEDULE is not None and _SCHEDULE.thread.is_alive() else None


# ------------------------------------------------------------------------------------------- command line


def main_backup(argv: list[str]) -> int:
    """`python -m annotations backup --db FILE --out DIR`: back up a store that no app holds open."""
    parser = argparse.ArgumentParser(
        prog="python -m annotations backup",
        description="Back up the store (while the app runs, use its Backups page instead).",
    )
    parser.add_argument(
        "--db", required=True, help="the app's store (FT_APP_DB): a DuckDB file or a postgresql:// address"
    )
    parser.add_argument("--out", required=True, help="folder to write the backup folder into")
    args = parser.parse_args(argv)
    if store.is_postgres_url(args.db):  # PostgreSQL: the app may keep running meanwhile
        try:
            con = store.connect(args.db, read_only=True)
        except StoreError as e:
            raise BackupError(str(e)) from None
        try:
            backup = take_backup(con, args.out, trigger="command")
        finally:
            con.close()
        print(
            f"wrote {backup.path} ({backup.rows.get('judgments', 0)} judgments, {backup.bytes / 1e6:.2f} MB)"
        )
        return 0
    if not Path(args.db).is_file():
        raise BackupError(f"{args.db} not found: pass the app's DuckDB file with --db (FT_APP_DB)")
    try:
        con = store.connect(args.db, read_only=True)
    except StoreError as e:
        raise BackupError(f"{e}; while the app runs, use its Backups page ('Back up now')") from None
    try:
        backup = take_backup(con, args.out, trigger="command")
    finally:
        con.close()
    print(f"wrote {backup.path} ({backup.rows.get('judgments', 0)} judgments, {backup.bytes / 1e6:.2f} MB)")
    return 0


def main_restore(argv: list[str]) -> int:
    """`python -m annotations restore BACKUP --db NEW.duckdb`: rebuild a store from a backup folder."""
    parser = argparse.ArgumentParser(
        prog="python -m annotations restore",
        description="Rebuild a store from a backup folder into a NEW DuckDB file (then point FT_APP_DB at "
        "it).",
    )
    parser.add_argument("backup", help="a backup folder (holding manifest.json)")
    parser.add_argument(
        "--db",
        required=True,
        help="the new DuckDB file to create (must not exist), or for a PostgreSQL backup the postgresql:// "
        "address of an empty database (createdb)",
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="PostgreSQL only: restore into a database that has tables (the backup's dropped there first)",
    )
    args = parser.parse_args(argv)
    if args.replace and not store.is_postgres_url(args.db):
        raise BackupError("--replace is for a PostgreSQL database; a DuckDB restore always writes a new file")
    backup = restore(args.backup, args.db, replace=args.replace)
    target = store.redacted(args.db) if store.is_postgres_url(args.db) else args.db
    print(
        f"restored {backup.name} (schema {backup.schema_version}, {backup.rows.get('judgments', 0)} "
        f"judgments) into {target}"
    )
    return 0


def main_prune(argv: list[str]) -> int:
    """`python -m annotations prune --dir DIR --keep N`: delete scheduled backups beyond the newest N."""
    parser = argparse.ArgumentParser(
        prog="python -m annotations prune",
        description="Delete scheduled backups beyond the newest N (backups taken by hand or with the command "
        "line stay), and what a killed backup left (`.partial`). The app's schedule does this itself "
        "(FT_BACKUP_KEEP).",
    )
    parser.add_argument("--dir", required=True, help="the backups folder (FT_BACKUP_DIR)")
    parser.add_argument("--keep", required=True, type=int, help="scheduled backups to keep; 0 keeps all")
    args = parser.parse_args(argv)
    directory = Path(args.dir)
    if args.keep < 0:
        raise BackupError(f"--keep must be 0 (keep all) or positive, got {args.keep}")
    if not directory.is_dir():
        raise BackupError(f"{directory} not found: pass the backups folder with --dir (FT_BACKUP_DIR)")
    unfinished = [p for p in directory.iterdir() if p.name.endswith(_PARTIAL) and p.is_dir()]
    removed = prune(directory, args.keep)
    unreadable = scan_backups(directory).unreadable
    print(
        f"removed {counted(len(removed), 'scheduled backup')} and "
        f"{counted(len(unfinished), 'unfinished backup')}"
        + "".join(f"\nleft alone, cannot be read: {bad.reason}" for bad in unreadable)
    )
    return 0
