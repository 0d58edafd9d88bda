"""Backups while annotators submit, restore into a new file, the refusals, the schedule, and the command
line."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from helpers import synthetic
from helpers.run_folders import write_run_folder

from annotations import store
from annotations.__main__ import main as cli
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging import assignment, judgments
from annotations.store import backup

SCORES = {"fluency": {"A": 2, "B": 4}, "fidelity": {"A": 5, "B": 1}}


def _restore(folder: Path, target: Path):
    backup.restore(folder, target)
    return store.connect(target, read_only=True)


def test_backup_while_annotators_submit_holds_every_acknowledged_judgment_and_nothing_half_written(tmp_path):
    con = store.connect(tmp_path / "app.duckdb")
    run = write_run_folder(tmp_path / "runs" / "r", n_items=80)
    cid = create_campaign(con, CampaignConfig(name="busy", run_dir=str(run), k=3))
    acknowledged: list[str] = []  # tokens whose submit returned (committed), in order
    lock, stop, errors = threading.Lock(), threading.Event(), []

    def annotator(name: str) -> None:
        try:
            while not stop.is_set() and (pair := assignment.next_item(con, cid, name)) is not None:
                judgments.submit(con, pair.token, name, "A" if len(name) % 2 else "B", SCORES, f"by {name}")
                with lock:
                    acknowledged.append(pair.token)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=annotator, args=(f"ann-{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    snapshots = []
    for _ in range(3):
        while len(acknowledged) < 15 * (len(snapshots) + 1):
            time.sleep(0.01)
        with lock:
            before = list(acknowledged)
        taken = backup.take_backup(con, tmp_path / "backups")
        with lock:
            after = list(acknowledged)
        snapshots.append((taken, before, after))
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert any(len(after) > len(before) for _, before, after in snapshots), "no submit overlapped a backup"

    for n, (taken, before, after) in enumerate(snapshots):
        restored = _restore(taken.path, tmp_path / f"restored-{n}.duckdb")
        tokens = {t for (t,) in restored.execute("SELECT assignment_id FROM judgments").fetchall()}
        assert set(before) <= tokens  # every judgment acknowledged before the backup started
        assert tokens <= set(after)  # nothing that was not acknowledged by the time it ended
        assert taken.rows["judgments"] == len(tokens)
        # Nothing half-written: each judgment with all its scores and its assignment marked submitted, and no
        # submitted assignment without its judgment.
        (partial_scores,) = restored.execute(
            "SELECT count(*) FROM (SELECT j.judgment_id FROM judgments j LEFT JOIN judgment_scores s "
            "USING (judgment_id) GROUP BY j.judgment_id HAVING count(s.score) <> 4)"
        ).fetchone()
        (mismatched,) = restored.execute(
            "SELECT count(*) FROM assignments a FULL JOIN judgments j USING (assignment_id) "
            "WHERE (a.status = 'submitted') <> (j.judgment_id IS NOT NULL)"
        ).fetchone()
        assert partial_scores == 0 and mismatched == 0
        # The restored rows are the original's rows.
        query = (
            "SELECT judgment_id, assignment_id, choice, winner, comment FROM judgments ORDER BY judgment_id"
        )
        mine = restored.execute(query).fetchall()
        theirs = {row[0]: row for row in con.execute(query).fetchall()}
        assert all(theirs[row[0]] == row for row in mine)
        restored.close()
    con.close()


@pytest.fixture
def filled(tmp_path):
    path = tmp_path / "app.duckdb"
    con = store.connect(path)
    synthetic.fill_store(con, write_run_folder(tmp_path / "runs" / "run-1", n_items=20), name="backup test")
    con.close()
    return path


def _stats(path: Path, capsys) -> dict:
    assert cli(["stats", "--db", str(path), "--json", "--n-boot", "200"]) == 0
    payload = json.loads(capsys.readouterr().out)
    return payload


def test_command_line_backup_and_restore_give_the_same_stats(filled, tmp_path, capsys):
    assert cli(["backup", "--db", str(filled), "--out", str(tmp_path / "backups")]) == 0
    assert "wrote" in capsys.readouterr().out
    (folder,) = (tmp_path / "backups").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["trigger"] == "command" and manifest["tables"]["judgments"] > 0
    assert manifest["schema_version"] == store.schema_version(store.connect(filled, read_only=True))
    assert set(manifest["files"]) >= {"schema.sql", "load.sql", "judgments.parquet"}
    assert cli(["restore", str(folder), "--db", str(tmp_path / "new.duckdb")]) == 0
    assert "restored" in capsys.readouterr().out
    assert _stats(tmp_path / "new.duckdb", capsys) == _stats(filled, capsys)
    again = store.connect(
        tmp_path / "new.duckdb"
    )  # a restored store opens for writing (the app's own connect)
    assert store.schema_version(again) == manifest["schema_version"]
    again.close()


def _one_line_error(capsys, *argv: str) -> str:
    assert cli(list(argv)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_restore_refuses_an_existing_file_a_damaged_backup_and_a_newer_schema(filled, tmp_path, capsys):
    assert cli(["backup", "--db", str(filled), "--out", str(tmp_path / "b")]) == 0
    (folder,) = (tmp_path / "b").iterdir()
    assert "exists" in _one_line_error(capsys, "restore", str(folder), "--db", str(filled))
    assert "not found" in _one_line_error(capsys, "restore", str(tmp_path / "nope"), "--db", "x.duckdb")
    assert "no manifest" in _one_line_error(
        capsys, "restore", str(tmp_path), "--db", str(tmp_path / "x.duckdb")
    )

    manifest = json.loads((folder / "manifest.json").read_text())
    newer = dict(manifest, migrations=manifest["migrations"] + [999], schema_version=999)
    (folder / "manifest.json").write_text(json.dumps(newer))
    err = _one_line_error(capsys, "restore", str(folder), "--db", str(tmp_path / "x.duckdb"))
    assert "newer version" in err and "999" in err
    (folder / "manifest.json").write_text(json.dumps(manifest))

    original = (folder / "judgments.parquet").read_bytes()
    flipped = original[:100] + bytes([original[100] ^ 0xFF]) + original[101:]  # one flipped byte
    (folder / "judgments.parquet").write_bytes(flipped)
    assert "damaged: judgments.parquet" in _one_line_error(
        capsys, "restore", str(folder), "--db", str(tmp_path / "x.duckdb")
    )
    (folder / "judgments.parquet").write_bytes(original)
    (folder / "users.parquet").unlink()
    assert "users.parquet is missing" in _one_line_error(
        capsys, "restore", str(folder), "--db", str(tmp_path / "x.duckdb")
    )
    assert not (tmp_path / "x.duckdb").exists()  # a refused restore leaves no file behind
    assert [p.name for p in tmp_path.iterdir() if "restoring" in p.name] == []


def test_command_line_backup_refuses_a_store_the_app_holds(filled, tmp_path, capsys):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(filled)!r}); print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        holder.stdout.readline()
        err = _one_line_error(capsys, "backup", "--db", str(filled), "--out", str(tmp_path / "b"))
        assert "held by another process" in err and "Back up now" in err
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_schedule_runs_once_per_process_and_keeps_the_newest(filled, tmp_path):
    con = store.connect(filled)
    manual = backup.take_backup(con, tmp_path / "backups", trigger="manual")
    settings = backup.BackupSettings(tmp_path / "backups", every_minutes=0.2 / 60, keep=2)
    schedule = backup.ensure_schedule(con, settings)
    try:
        assert backup.ensure_schedule(con, settings) is schedule  # started once
        assert [t.name for t in threading.enumerate()].count("ft-backups") == 1
        deadline = time.monotonic() + 30
        taken: dict[str, object] = {}  # name -> when it was taken (a pruned name may be used again)
        while time.monotonic() < deadline and len(taken) < 4:
            taken |= {
                b.name: b.created_at
                for b in backup.list_backups(tmp_path / "backups")
                if b.trigger == "scheduled"
            }
            time.sleep(0.05)
        assert len(taken) >= 4, taken
    finally:
        schedule.stop()
    left = backup.list_backups(tmp_path / "backups")
    scheduled = [b for b in left if b.trigger == "scheduled"]
    assert len(scheduled) == 2 and {b.name for b in scheduled} == set(sorted(taken, key=taken.get)[-2:])
    assert manual.name in {b.name for b in left}  # a backup taken by hand is never pruned
    assert schedule.last_error is None
    assert backup.ensure_schedule(con, backup.BackupSettings(tmp_path, every_minutes=0)) is None  # off
    con.close()


def test_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("FT_BACKUP_DIR", raising=False)
    monkeypatch.delenv("FT_BACKUP_EVERY_MINUTES", raising=False)
    monkeypatch.delenv("FT_BACKUP_KEEP", raising=False)
    default = backup.BackupSettings.from_env(tmp_path / "data" / "app.duckdb")
    assert default == backup.BackupSettings(tmp_path / "data" / "backups", 60.0, 24)
    monkeypatch.setenv("FT_BACKUP_EVERY_MINUTES", "15")
    monkeypatch.setenv("FT_BACKUP_KEEP", "5")
    monkeypatch.setenv("FT_BACKUP_DIR", str(tmp_path / "elsewhere"))
    assert backup.BackupSettings.from_env() == backup.BackupSettings(tmp_path / "elsewhere", 15.0, 5)
    monkeypatch.setenv("FT_BACKUP_KEEP", "-1")
    with pytest.raises(backup.BackupError, match="FT_BACKUP_KEEP"):
        backup.BackupSettings.from_env()


def test_an_unfinished_backup_folder_is_not_listed(filled, tmp_path):
    con = store.connect(filled)
    taken = backup.take_backup(con, tmp_path / "b")
    con.close()
    taken.path.rename(taken.path.with_name(taken.name + ".partial"))
    assert backup.list_backups(tmp_path / "b") == [] and backup.backups_frame(tmp_path / "b").empty


# ------------------------------------------------------------------ a backup folder someone else could write
# into


def _reseal(folder: Path) -> None:
    """What an attacker who can write into a backup folder does after editing it: recompute every checksum in
    the manifest, which lives in the same folder."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {
        p.name: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "bytes": p.stat().st_size}
        for p in sorted(folder.iterdir())
        if p.name != "manifest.json"
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _judgments(path: Path) -> list[tuple]:
    con = store.connect(path, read_only=True)
    try:
        return con.execute(
            "SELECT judgment_id, choice, comment FROM judgments ORDER BY judgment_id"
        ).fetchall()
    finally:
        con.close()


def test_restore_runs_no_sql_from_the_backup_folder(filled, tmp_path):
    con = store.connect(filled)
    taken = backup.take_backup(con, tmp_path / "b")
    con.close()
    written, stolen = tmp_path / "written-by-restore.csv", "/etc/passwd"
    attack = (
        f"\nCOPY (SELECT 'owned' AS x) TO '{written}' (HEADER false);\n"
        f"CREATE TABLE stolen AS SELECT * FROM read_csv('{stolen}', header = false, sep = '\\x01', "
        "columns = {'line': 'VARCHAR'});\n"
    )
    with (taken.path / "schema.sql").open("a") as f:  # DuckDB's IMPORT DATABASE runs this file as it is
        f.write(attack)
    _reseal(taken.path)
    backup.restore(taken.path, tmp_path / "restored.duckdb")
    assert not written.exists()
    restored = store.connect(tmp_path / "restored.duckdb", read_only=True)
    tables = {t for (t,) in restored.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    restored.close()
    assert "stolen" not in tables
    assert _judgments(tmp_path / "restored.duckdb") == _judgments(filled)


def test_restore_refuses_table_names_and_columns_that_are_not_the_schemas(filled, tmp_path, capsys):
    con = store.connect(filled)
    folder = backup.take_backup(con, tmp_path / "b").path
    con.close()
    original = (folder / "manifest.json").read_text()
    target = tmp_path / "out" / "x.duckdb"

    def refused(edit) -> str:
        manifest = json.loads(original)
        edit(manifest)
        (folder / "manifest.json").write_text(json.dumps(manifest))
        _reseal(folder)
        err = _one_line_error(capsys, "restore", str(folder), "--db", str(target))
        assert not (tmp_path / "out").exists()
        (folder / "manifest.json").write_text(original)
        return err

    # The name the old restore pasted into f'SELECT count(*) FROM "{table}"'.
    injected = f"judgments\"; COPY (SELECT 1) TO '{tmp_path}/x.csv'; --"
    assert "is not a table name" in refused(lambda m: m["tables"].update({injected: 1}))
    assert not (tmp_path / "x.csv").exists()

    # A plain name, but not one of the schema's tables: its file would be read into a table of its own.
    (folder / "stolen.parquet").write_bytes((folder / "users.parquet").read_bytes())
    assert "lists table that schema" in refused(lambda m: m["tables"].update(stolen=m["tables"]["users"]))
    (folder / "stolen.parquet").unlink()

    # A table's file with columns of its own (another table's data under its name).
    users = (folder / "users.parquet").read_bytes()
    (folder / "users.parquet").write_bytes((folder / "judgments.parquet").read_bytes())
    err = refused(lambda m: m["tables"].update(users=m["tables"]["judgments"]))
    assert "users.parquet does not hold the columns of table users" in err
    (folder / "users.parquet").write_bytes(users)

    # A link to a file elsewhere in place of a table's file.
    (folder / "users.parquet").unlink()
    (folder / "users.parquet").symlink_to(tmp_path / "app.duckdb")
    assert "users.parquet is missing (or not a plain file)" in refused(lambda m: None)


def test_a_stale_partial_folder_is_removed_by_the_next_backup_and_by_pruning(filled, tmp_path):
    folder = tmp_path / "b"
    stale = folder / "backup-20200101T000000Z.partial"
    stale.mkdir(parents=True)
    (stale / "judgments.parquet").write_bytes(b"x" * 1000)
    con = store.connect(filled)
    taken = backup.take_backup(con, folder, trigger="scheduled")
    assert sorted(p.name for p in folder.iterdir()) == [taken.name]
    stale.mkdir()
    assert backup.prune(folder, keep=5) == [] and sorted(p.name for p in folder.iterdir()) == [taken.name]
    con.close()


KILLED_MIDWAY = """
import os, signal, sys
from annotations.store import backup
from annotations import store

def killed(folder):  # the fault: SIGKILL once the export is written, before the folder is renamed
    os.kill(os.getpid(), signal.SIGKILL)

backup._fsync_folder = killed
backup.take_backup(store.connect(sys.argv[1]), sys.argv[2])
"""


def test_a_backup_killed_with_sigkill_midway_leaves_a_partial_the_next_one_removes(filled, tmp_path):
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", KILLED_MIDWAY, str(filled), str(tmp_path / "b")], cwd=root, capture_output=True
    )
    assert done.returncode == -9, done.stderr
    (left,) = (tmp_path / "b").iterdir()
    assert left.name.endswith(".partial") and (left / "judgments.parquet").is_file()
    assert backup.list_backups(tmp_path / "b") == []
    con = store.connect(filled)
    taken = backup.take_backup(con, tmp_path / "b")
    con.close()
    assert [p.name for p in (tmp_path / "b").iterdir()] == [taken.name]
    backup.restore(taken.path, tmp_path / "r.duckdb")
    assert _judgments(tmp_path / "r.duckdb") == _judgments(filled)


def test_backups_and_restored_stores_are_their_owners_alone(filled, tmp_path):
    folder = tmp_path / "b"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)  # an existing folder open to all is closed
    con = store.connect(filled)
    taken = backup.take_backup(con, folder)
    con.close()
    mode = lambda p: p.stat().st_mode & 0o777  # noqa: E731
    assert mode(folder) == 0o700 and mode(taken.path) == 0o700
    files = list(taken.path.iterdir())
    assert "manifest.json" in {p.name for p in files} and {mode(p) for p in files} == {0o600}
    backup.restore(taken.path, tmp_path / "new" / "restored.duckdb")
    assert mode(tmp_path / "new") == 0o700 and mode(tmp_path / "new" / "restored.duckdb") == 0o600


def test_the_commands_in_docs_backups_md_run_as_written(filled, tmp_path, capsys):
    text = (Path(__file__).resolve().parents[3] / "docs" / "backups.md").read_text()
    text = text.split("## A PostgreSQL store")[0]  # those: test_backup_postgres.py
    commands = re.findall(r"\.venv/bin/python -m annotations (\w+) ([^\n`]*)", text)
    assert [name for name, _ in commands] == ["backup", "restore", "prune"]
    (tmp_path / "data").mkdir()
    filled.rename(tmp_path / "data" / "app.duckdb")
    for name, args in commands:
        argv = [name, *args.replace("data/", f"{tmp_path}/data/").split()]
        if name == "restore":
            (taken,) = backup.list_backups(tmp_path / "data" / "backups")
            argv[1] = str(taken.path)  # the documented example's name
        assert cli(argv) == 0, capsys.readouterr().err
    assert _judgments(tmp_path / "data" / "restored.duckdb") == _judgments(tmp_path / "data" / "app.duckdb")


def test_a_backup_from_an_older_schema_restores_with_the_newer_migrations_applied_after_its_data(tmp_path):
    numbers = [n for n, _, _ in store.migrations()]
    old = duckdb.connect(str(tmp_path / "old.duckdb"))
    store.migrate(old, only={1, 2, 3})  # a store from before 004
    old.execute(
        "INSERT INTO users VALUES ('u1', 'ad@min', 'researcher', 'argon2-hash', TRUE, now(), NULL, 'ad@min', "
        "FALSE)"
    )
    applied_then = old.execute(
        "SELECT version, applied_at FROM schema_migrations ORDER BY version"
    ).fetchall()
    taken = backup.take_backup(old, tmp_path / "b")
    old.close()
    assert taken.schema_version == 3
    backup.restore(taken.path, tmp_path / "new.duckdb")
    new = store.connect(tmp_path / "new.duckdb", read_only=True)
    assert store.schema_version(new) == max(numbers)
    history = new.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version").fetchall()
    assert history[:3] == applied_then and [v for v, _ in history] == numbers  # its own record, then ours
    # 009 ran on the restored rows: the '@' left the canonical name.
    assert new.execute("SELECT username, username_key FROM users").fetchall() == [("ad@min", "admin")]
    new.close()
