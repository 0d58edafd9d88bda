"""The manifest of a backup folder (`manifest.json`): how it is written, and its one reader, which checks the
whole structure before any value is used, so a malformed manifest is one line of error and nothing else.

A manifest says when the backup was made and by what, the schema it was made at (the migrations applied), the
row count of every table, and the size and SHA-256 of every file. The checksums sit in the same folder as the
files: they catch accidents (a truncated copy, a flipped bit, a missing file), not someone who can write into
the folder, who can rewrite the manifest too. So restore uses no name from it without checking it against the
app's own schema (docs/backups.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from annotations.errors import AnnotationError

MANIFEST = "manifest.json"
FORMAT = "ft-annotations-backup"
FORMAT_VERSION = 1
TRIGGERS = ("manual", "scheduled", "command")
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BackupError(AnnotationError):
    """A backup cannot be taken, read or restored; the message says why in one line."""


@dataclass(frozen=True)
class FileEntry:
    """One file of a backup as the manifest records it."""

    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    """A checked manifest: every field present and of its type."""

    created_at: datetime  # UTC, naive
    trigger: str
    schema_version: int  # the highest migration applied
    migrations: tuple[int, ...]  # the migrations applied, in order
    tables: dict[str, int]  # table -> rows
    files: dict[str, FileEntry]  # file name in the folder -> size and checksum
    extra: dict  # what else the writer recorded (store, duckdb_version, seconds), kept as written

    @property
    def store(self) -> str:
        """The kind of store the backup was taken from: "duckdb" (Parquet files) or "postgresql" (a dump)."""
        return "postgresql" if self.extra.get("store") == "postgresql" else "duckdb"

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files.values())

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "created_at": self.created_at.isoformat() + "Z",
                    "trigger": self.trigger,
                    "schema_version": self.schema_version,
                    "migrations": list(self.migrations),
                    "tables": self.tables,
                    "files": {name: {"sha256": f.sha256, "bytes": f.bytes} for name, f in self.files.items()},
                    **self.extra,
                },
                indent=2,
            )
            + "\n"
        )


def read_manifest(folder: Path) -> Manifest:
    """The checked manifest of the backup in `folder`; BackupError (one line) when missing or malformed."""
    path = folder / MANIFEST
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise BackupError(f"{folder} is not a backup: it has no {MANIFEST}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BackupError(f"{path} cannot be read: {e}") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise BackupError(f"{path} is not JSON ({e})") from None
    try:
        return parse_manifest(data)
    except _Malformed as e:
        raise BackupError(f"{path} is malformed: {e}") from None


class _Malformed(ValueError):
    pass


def parse_manifest(data: object) -> Manifest:
    """Check a manifest's whole structure (raises _Malformed naming the first fault) and return it typed."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _Malformed("it is not the manifest of a backup of this app")
    version = _integer(data, "format_version")
    if version > FORMAT_VERSION:
        raise _Malformed(f"format_version {version} is newer than this app reads ({FORMAT_VERSION})")
    created = _field(data, "created_at", str, "a time such as 2026-12-01T09:00:00Z")
    try:
        created_at = datetime.fromisoformat(created.removesuffix("Z"))
    except ValueError:
        raise _Malformed(f"created_at {_shown(created)} is not a time such as 2026-12-01T09:00:00Z") from None
    trigger = _field(data, "trigger", str, "a string")
    if trigger not in TRIGGERS:
        raise _Malformed(f"trigger {_shown(trigger)} is not one of {', '.join(TRIGGERS)}")
    schema_version = _integer(data, "schema_version")
    migrations = _field(data, "migrations", list, "a list of migration numbers")
    if not migrations or not all(_is_count(n) and n > 0 for n in migrations):
        raise _Malformed("migrations must be a non-empty list of positive migration numbers")
    if len(set(migrations)) != len(migrations) or max(migrations) != schema_version:
        raise _Malformed(
            f"migrations must be distinct numbers whose highest is schema_version ({schema_version})"
        )
    tables = _field(data, "tables", dict, "an object of table names and row counts")
    for name, rows in tables.items():
        if not _TABLE_NAME.fullmatch(name):
            raise _Malformed(f"{_shown(name)} in tables is not a table name")
        if not _is_count(rows):
            raise _Malformed(f"tables[{name!r}] must be a row count, not {_shown(rows)}")
    files = _field(data, "files", dict, "an object of file names and their sha256 and bytes")
    entries = {}
    for name, entry in files.items():
        if not _FILE_NAME.fullmatch(name) or name == MANIFEST:
            raise _Malformed(f"{_shown(name)} in files is not the name of a file in the backup folder")
        if not isinstance(entry, dict):
            raise _Malformed(f"files[{name!r}] must be an object with sha256 and bytes")
        if not isinstance(entry.get("sha256"), str) or not _SHA256.fullmatch(entry["sha256"]):
            raise _Malformed(f"files[{name!r}] has no sha256 (64 hexadecimal digits)")
        if not _is_count(entry.get("bytes")):
            raise _Malformed(f"files[{name!r}] has no bytes (a size)")
        entries[name] = FileEntry(entry["sha256"], entry["bytes"])
    if data.get("store") == "postgresql":  # one pg_dump file holds every table (backup_postgres)
        if "database.dump" not in entries:
            raise _Malformed("a PostgreSQL backup has no database.dump in files")
    else:
        for table in tables:
            if f"{table}.parquet" not in entries:
                raise _Malformed(f"table {table} has no {table}.parquet in files")
    known = {
        "format",
        "format_version",
        "created_at",
        "trigger",
        "schema_version",
        "migrations",
        "tables",
        "files",
    }
    return Manifest(
        created_at=created_at,
        trigger=trigger,
        schema_version=schema_version,
        migrations=tuple(migrations),
        tables=dict(tables),
        files=entries,
        extra={k: v for k, v in data.items() if k not in known},
    )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _field(data: dict, key: str, kind: type, what: str):
    if key not in data:
        raise _Malformed(f"it has no {key}")
    if not isinstance(data[key], kind):
        raise _Malformed(f"{key} must be {what}, not {type(data[key]).__name__}")
    return data[key]


def _integer(data: dict, key: str) -> int:
    if key not in data:
        raise _Malformed(f"it has no {key}")
    if not _is_count(data[key]):
        raise _Malformed(f"{key} must be a whole number, not {_shown(data[key])}")
    return data[key]


def _shown(value: object) -> str:
    """A value from the manifest on one short line (repr escapes newlines and quotes)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
