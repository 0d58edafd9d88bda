"""Backups with several app processes sharing one backups folder (docs/deploy.md, "Several app processes"):
their schedules make one scheduled backup per interval between them (the check runs under the folder's lock),
and a PostgreSQL backup's manifest names its dump where a DuckDB one names a Parquet file per table."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from annotations import store
from annotations.store import backup
from annotations.store.backup_manifest import BackupError, parse_manifest


@pytest.fixture
def con(tmp_path):
    connection = store.connect(tmp_path / "app.duckdb")
    yield connection
    connection.close()


def test_a_second_process_skips_the_scheduled_backup_another_just_took(con, tmp_path):
    settings = backup.BackupSettings(tmp_path / "backups", every_minutes=60, keep=24)
    first = backup.take_scheduled_backup(con, settings)
    assert first is not None and first.trigger == "scheduled"
    # Another process's schedule fires minutes later (its timer started when it started): nothing new.
    assert backup.take_scheduled_backup(con, settings) is None
    backup.take_backup(con, settings.directory, trigger="manual")  # a backup by hand does not count
    assert backup.take_scheduled_backup(con, settings) is None
    assert [b.trigger for b in backup.list_backups(settings.directory)].count("scheduled") == 1


def test_the_next_interval_gets_its_scheduled_backup(con, tmp_path, monkeypatch):
    settings = backup.BackupSettings(tmp_path / "backups", every_minutes=60, keep=24)
    assert backup.take_scheduled_backup(con, settings) is not None
    later = store.utcnow() + timedelta(minutes=31)  # more than half an interval after it
    monkeypatch.setattr(store, "utcnow", lambda: later)
    assert backup.take_scheduled_backup(con, settings) is not None
    assert len(backup.list_backups(settings.directory)) == 2


def _postgres_manifest(files: dict) -> dict:
    return {
        "format": "ft-annotations-backup",
        "format_version": 1,
        "created_at": "2026-12-01T09:00:00Z",
        "trigger": "manual",
        "schema_version": 1,
        "migrations": [1],
        "tables": {"judgments": 3, "schema_migrations": 1},
        "files": files,
        "store": "postgresql",
    }


def test_a_postgresql_manifest_names_its_dump_and_no_parquet_files():
    entry = {"sha256": "0" * 64, "bytes": 10}
    manifest = parse_manifest(json.loads(json.dumps(_postgres_manifest({"database.dump": entry}))))
    assert manifest.store == "postgresql" and manifest.tables["judgments"] == 3
    with pytest.raises(Exception, match="database.dump"):
        parse_manifest(_postgres_manifest({"judgments.parquet": entry}))


def test_a_duckdb_backup_is_not_restored_into_postgresql_nor_the_other_way(con, tmp_path):
    taken = backup.take_backup(con, tmp_path / "backups")
    with pytest.raises(BackupError, match="backup of a DuckDB store"):
        backup.restore(taken.path, "postgresql://nobody@/nothing?host=/nonexistent")
    manifest = json.loads((taken.path / "manifest.json").read_text())
    assert "store" not in manifest or manifest["store"] != "postgresql"
