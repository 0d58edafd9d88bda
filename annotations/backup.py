"""Backups of the study's store while the app runs, and restoring one into a new DuckDB file.

A backup is a folder `backup-<UTC time>/` holding DuckDB's `EXPORT DATABASE` in Parquet (one file per table, plus
`schema.sql` and `load.sql`) and a `manifest.json`: when, the schema version (highest migration), the row count of
every table, and the SHA-256 and size of every file. It is written through the app's own connection, in the write
queue (`store.write`, its own lane) and inside one transaction: DuckDB gives that transaction one snapshot of the
committed data, so a backup holds every write acknowledged before it started (a submit is acknowledged only after
its commit) and no write half: a judgment is in it with its scores and its assignment marked submitted, or not
at all. Annotators keep submitting meanwhile (their lanes are not blocked). The folder is written as
`<name>.partial` and renamed once complete, so a crash or a full disk never leaves one that looks finished.

Restore (`python -m annotations restore BACKUP --db NEW.duckdb`) checks every checksum, refuses a backup made by a
newer schema than this code knows, imports into a new file only (never over an existing one), checks the row
counts, and applies any migrations newer than the backup.

The app also backs up on a schedule (`ensure_schedule`, one thread per process): environment FT_BACKUP_DIR
(default: `backups/` beside the DuckDB file), FT_BACKUP_EVERY_MINUTES (default 60; 0 turns it off) and
FT_BACKUP_KEEP (default 24: scheduled backups beyond the newest 24 are deleted; backups taken by hand are kept).
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from annotations import store
from annotations.errors import AnnotationError, StoreError
from annotations.plurals import plural

MANIFEST = "manifest.json"
FORMAT = "ft-annotations-backup"
FORMAT_VERSION = 1
TRIGGERS = ("manual", "scheduled", "command")
BACKUP_LANE = "backup"  # its own lane: a backup never shares a group commit with anyone's write
_PARTIAL = ".partial"
_BACKUP_LOCK = threading.Lock()  # one backup at a time in this process (the button and the schedule)
log = logging.getLogger(__name__)


class BackupError(AnnotationError):
    """A backup cannot be taken, read or restored; the message says why in one line."""


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


# ------------------------------------------------------------------------------------------------- taking one


def _tables(cur: duckdb.DuckDBPyConnection) -> list[str]:
    rows = cur.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
    ).fetchall()
    return [name for (name,) in rows]


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


def take_backup(con: duckdb.DuckDBPyConnection, directory: str | Path, trigger: str = "manual") -> Backup:
    """Write a consistent snapshot of the store into a new folder under `directory`; returns it.

    Runs in the app's write queue (`store.write`, lane "backup") inside one transaction, so it holds exactly the
    writes committed before it started. Raises BackupError (nothing left behind) when the snapshot cannot be
    written, e.g. on a full disk.
    """
    if trigger not in TRIGGERS:
        raise BackupError(f"trigger must be one of {', '.join(TRIGGERS)}, got '{trigger}'")
    directory = Path(directory)
    with _BACKUP_LOCK:
        started = time.perf_counter()
        at = store.utcnow()
        final = _new_folder(directory, at)
        partial = final.with_name(final.name + _PARTIAL)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            rows, applied = store.write(con, lambda cur: _export(cur, partial), lane=BACKUP_LANE)
            files = {
                p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
                for p in sorted(partial.iterdir())
                if p.is_file()
            }
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created_at": at.isoformat() + "Z",
                "trigger": trigger,
                "schema_version": max(applied, default=0),
                "migrations": applied,
                "duckdb_version": duckdb.__version__,
                "tables": rows,
                "files": files,
                "seconds": round(time.perf_counter() - started, 3),
            }
            (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            _fsync_folder(partial)
            partial.rename(final)
        except (OSError, duckdb.Error, StoreError) as e:
            shutil.rmtree(partial, ignore_errors=True)
            cause = e.__cause__ if isinstance(e, StoreError) and e.__cause__ is not None else e
            reason = (str(cause).splitlines() or [type(cause).__name__])[0]
            raise BackupError(f"the backup was not written ({reason}); the store itself is unchanged") from e
    backup = read_backup(final)
    log.info("backup %s written (%s, %d files)", final, trigger, len(files))
    return backup


def _export(cur: duckdb.DuckDBPyConnection, folder: Path) -> tuple[dict[str, int], list[int]]:
    # Counts, migrations and the export all read the same snapshot: this one transaction's.
    tables = _tables(cur)
    rows = {t: int(cur.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables}
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


# ------------------------------------------------------------------------------------------ reading and pruning


def _manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{folder} is not a backup: it has no {MANIFEST}") from None
    except (OSError, ValueError) as e:
        raise BackupError(f"{folder / MANIFEST} cannot be read: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{folder / MANIFEST} is not the manifest of a backup of this app")
    return manifest


def read_backup(folder: str | Path) -> Backup:
    """The backup in `folder`, from its manifest (files are not checked here: see `verify`)."""
    folder = Path(folder)
    m = _manifest(folder)
    return Backup(
        path=folder,
        created_at=datetime.fromisoformat(m["created_at"].rstrip("Z")),
        trigger=m.get("trigger", "manual"),
        schema_version=int(m["schema_version"]),
        rows={k: int(v) for k, v in m["tables"].items()},
        bytes=sum(int(f["bytes"]) for f in m["files"].values()),
    )


def list_backups(directory: str | Path) -> list[Backup]:
    """The finished backups in `directory`, newest first (unfinished `.partial` folders are left out)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for folder in directory.iterdir():
        if folder.is_dir() and not folder.name.endswith(_PARTIAL) and (folder / MANIFEST).is_file():
            try:
                found.append(read_backup(folder))
            except (BackupError, KeyError, ValueError):
                continue  # not ours, or damaged: `restore` says so when asked
    return sorted(found, key=lambda b: (b.created_at, b.name), reverse=True)


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
    """Delete scheduled backups beyond the newest `keep` (0 keeps all); backups taken by hand stay."""
    if keep <= 0:
        return []
    scheduled = [b for b in list_backups(directory) if b.trigger == "scheduled"]
    removed = []
    for old in scheduled[keep:]:
        shutil.rmtree(old.path, ignore_errors=True)
        removed.append(old.path)
    return removed


def verify(folder: str | Path) -> dict:
    """Check every file the manifest lists against its size and SHA-256; returns the manifest."""
    folder = Path(folder)
    manifest = _manifest(folder)
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"{folder} is incomplete: {name} is missing")
        if path.stat().st_size != expected["bytes"] or _sha256(path) != expected["sha256"]:
            raise BackupError(f"{folder} is damaged: {name} does not match its checksum in {MANIFEST}")
    return manifest


# ------------------------------------------------------------------------------------------------- restoring


def restore(folder: str | Path, new_db: str | Path) -> Backup:
    """Rebuild a store from the backup in `folder` as the new DuckDB file `new_db` (which must not exist)."""
    folder, new_db = Path(folder), Path(new_db)
    if not folder.is_dir():
        raise BackupError(f"{folder} not found: pass a backup folder (one with {MANIFEST})")
    if new_db.exists() or Path(f"{new_db}.wal").exists():
        raise BackupError(f"{new_db} exists: restore only into a new file (choose another name)")
    manifest = verify(folder)
    # Migration numbers are not contiguous (001..., 100_jobs_queue): "newer" means a migration this code lacks.
    known = {number for number, _, _ in store.migrations()}
    unknown = sorted(set(manifest.get("migrations") or [manifest["schema_version"]]) - known)
    if unknown:
        raise BackupError(
            f"{folder} comes from a newer version of this app (schema {manifest['schema_version']}, {plural(len(unknown), 'migration')} "
            f"{', '.join(f'{n:03d}' for n in unknown)} unknown here): restore it with that version"
        )
    new_db.parent.mkdir(parents=True, exist_ok=True)
    building = new_db.with_name(f".{new_db.name}.restoring")
    for leftover in (building, Path(f"{building}.wal")):
        leftover.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(building))
        try:
            source = str(folder.resolve()).replace("'", "''")
            con.execute(f"IMPORT DATABASE '{source}'")
            for table, expected in manifest["tables"].items():
                (got,) = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
                if got != expected:
                    raise BackupError(f"restored table {table} has {got} rows; the backup says {expected}")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        store.connect(building).close()  # migrations newer than the backup
        building.rename(new_db)
    except (duckdb.Error, OSError) as e:
        raise BackupError(f"restoring {folder} failed: {(str(e).splitlines() or [''])[0]}") from e
    finally:
        for leftover in (building, Path(f"{building}.wal")):
            leftover.unlink(missing_ok=True)
    return read_backup(folder)


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
                take_backup(self.con, self.settings.directory, trigger="scheduled")
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
    """Start the backup schedule once per process (later calls return the running one); None when turned off."""
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
    parser.add_argument("--db", required=True, help="the app's DuckDB file (FT_APP_DB)")
    parser.add_argument("--out", required=True, help="folder to write the backup folder into")
    args = parser.parse_args(argv)
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
        description="Rebuild a store from a backup folder into a NEW DuckDB file (then point FT_APP_DB at it).",
    )
    parser.add_argument("backup", help="a backup folder (holding manifest.json)")
    parser.add_argument("--db", required=True, help="the new DuckDB file to create (must not exist)")
    args = parser.parse_args(argv)
    backup = restore(args.backup, args.db)
    print(
        f"restored {backup.name} (schema {backup.schema_version}, {backup.rows.get('judgments', 0)} judgments) "
        f"into {args.db}"
    )
    return 0
