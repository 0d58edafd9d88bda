"""Backups of a PostgreSQL store (annotations/store/backup_postgres.py) on a real server
(helpers.postgres_server): pg_dump of one snapshot with the manifest's counts read in it, while writes go on;
restore with pg_restore into an empty database, the same rows back; the refusals (a database with tables, a
manifest whose counts the dump does not hold, a backup of the other kind of store); and the command line."""

from __future__ import annotations

import json
import threading

import pytest

from annotations import store
from annotations.__main__ import main as cli
from annotations.accounts import users
from annotations.store import backup, backup_postgres

PASSWORD = "quartz-lantern-meadow-17"


@pytest.fixture
def server(postgres_server):
    try:
        backup_postgres.tool("pg_dump"), backup_postgres.tool("pg_restore")
    except backup.BackupError as e:
        pytest.skip(str(e))
    return postgres_server


@pytest.fixture
def filled(server):
    """A migrated PostgreSQL store with a few accounts; its URL."""
    url = server.new_database()
    con = store.connect(url)
    for i in range(5):
        users.create_user(con, f"ann-{i}", PASSWORD, role="annotator")
    con.close()
    yield url
    server.drop(url)


@pytest.fixture
def empty(server):
    url = server.new_database(migrated=False)
    yield url
    server.drop(url)


def _rows(url: str, table: str) -> int:
    con = store.connect(url, read_only=True)
    try:
        return int(store.read(con).execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


def test_a_backup_taken_while_accounts_are_written_restores_exactly_its_snapshot(filled, empty, tmp_path):
    con = store.connect(filled)
    stop, written = threading.Event(), []

    def writer() -> None:
        while not stop.is_set():
            users.create_user(con, f"late-{len(written)}", PASSWORD, role="annotator")
            written.append(1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 2:
            pass
        taken = backup.take_backup(con, tmp_path / "backups")
    finally:
        stop.set()
        thread.join()
    con.close()
    assert sorted(p.name for p in taken.path.iterdir()) == ["database.dump", "manifest.json"]
    manifest = json.loads((taken.path / "manifest.json").read_text())
    assert manifest["store"] == "postgresql" and manifest["files"]["database.dump"]["bytes"] > 0
    assert 5 + 2 <= manifest["tables"]["users"] < 5 + len(written) + 1
    backup.restore(taken.path, empty)
    for table, rows in manifest["tables"].items():
        assert _rows(empty, table) == rows, table  # the snapshot, nothing written after it
    assert _rows(filled, "users") == 5 + len(written)
    restored = store.connect(empty)
    assert users.authenticate(restored, "ann-3", PASSWORD) is not None
    restored.close()


def test_restore_refuses_a_database_with_tables_unless_asked_to_replace(filled, empty, tmp_path):
    con = store.connect(filled)
    taken = backup.take_backup(con, tmp_path / "backups")
    con.close()
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(taken.path, filled)
    backup.restore(taken.path, empty)
    backup.restore(taken.path, empty, replace=True)
    assert _rows(empty, "users") == taken.rows["users"]


def test_a_manifest_whose_counts_the_dump_does_not_hold_leaves_nothing_restored(filled, empty, tmp_path):
    con = store.connect(filled)
    taken = backup.take_backup(con, tmp_path / "backups")
    con.close()
    path = taken.path / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["tables"]["users"] += 1  # the manifest has no checksum of its own: the counts are checked after
    path.write_text(json.dumps(manifest))
    with pytest.raises(backup.BackupError, match="users has 5 rows; the manifest says 6"):
        backup.restore(taken.path, empty)
    probe = store.connect(empty, read_only=True)
    try:
        tables = (
            store.read(probe)
            .execute("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()")
            .fetchone()[0]
        )
    finally:
        probe.close()
    assert tables == 0


def test_a_postgresql_backup_is_not_restored_into_a_duckdb_file(filled, tmp_path):
    con = store.connect(filled)
    taken = backup.take_backup(con, tmp_path / "backups")
    con.close()
    with pytest.raises(backup.BackupError, match="backup of a PostgreSQL store"):
        backup.restore(taken.path, tmp_path / "restored.duckdb")
    assert not (tmp_path / "restored.duckdb").exists()


def test_the_command_line_backs_up_a_running_store_and_restores_it(filled, empty, tmp_path, capsys):
    assert cli(["backup", "--db", filled, "--out", str(tmp_path / "backups")]) == 0
    (folder,) = backup.list_backups(tmp_path / "backups")
    assert folder.trigger == "command" and folder.rows["users"] == 5
    assert cli(["restore", str(folder.path), "--db", empty]) == 0
    out = capsys.readouterr().out
    assert "restored" in out and "password" not in out
    assert _rows(empty, "users") == 5
