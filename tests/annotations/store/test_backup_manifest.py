"""Malformed backup manifests: restore refuses each with one `error:` line before writing anything, and
listing, pruning and the folder scan skip the folder (named as unreadable) instead of failing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotations import store
from annotations.__main__ import main as cli
from annotations.store import backup


@pytest.fixture
def taken(tmp_path) -> Path:
    """A real backup of a store that holds the schema and no campaign."""
    con = store.connect(tmp_path / "app.duckdb")
    folder = backup.take_backup(con, tmp_path / "backups", trigger="scheduled").path
    con.close()
    return folder


def _drop(key: str):
    def edit(m: dict) -> None:
        del m[key]

    return edit


def _drop_bytes(m: dict) -> None:
    del m["files"]["judgments.parquet"]["bytes"]


def _tables_as_list(m: dict) -> None:
    m["tables"] = list(m["tables"])


def _files_as_list(m: dict) -> None:
    m["files"] = list(m["files"].values())


def _entry_as_string(m: dict) -> None:
    m["files"]["users.parquet"] = "abc"


def _bad_checksum(m: dict) -> None:
    m["files"]["users.parquet"]["sha256"] = "not-hex"


def _bytes_as_text(m: dict) -> None:
    m["files"]["users.parquet"]["bytes"] = "12"


def _file_outside(m: dict) -> None:
    m["files"]["../../etc/passwd"] = {"sha256": "0" * 64, "bytes": 1}


def _rows_negative(m: dict) -> None:
    m["tables"]["users"] = -1


def _rows_boolean(m: dict) -> None:
    m["tables"]["users"] = True


def _time_garbage(m: dict) -> None:
    m["created_at"] = "yesterday"


def _trigger_unknown(m: dict) -> None:
    m["trigger"] = "cron"


def _newer_format(m: dict) -> None:
    m["format_version"] = 2


def _migrations_not_numbers(m: dict) -> None:
    m["migrations"] = ["001_initial"]


def _table_without_file(m: dict) -> None:
    del m["files"]["users.parquet"]


SHAPES = {
    "no files": (_drop("files"), "has no files"),
    "an entry without bytes": (_drop_bytes, "files['judgments.parquet'] has no bytes"),
    "no created_at": (_drop("created_at"), "has no created_at"),
    "tables as a list": (_tables_as_list, "tables must be an object of table names and row counts, not list"),
    "files as a list": (_files_as_list, "files must be an object"),
    "an entry that is a string": (_entry_as_string, "files['users.parquet'] must be an object"),
    "a checksum that is not hex": (_bad_checksum, "has no sha256"),
    "bytes as text": (_bytes_as_text, "has no bytes"),
    "a file outside the folder": (_file_outside, "'../../etc/passwd' in files is not the name of a file"),
    "a negative row count": (_rows_negative, "tables['users'] must be a row count, not -1"),
    "a boolean row count": (_rows_boolean, "must be a row count, not True"),
    "a time that is not one": (_time_garbage, "created_at 'yesterday' is not a time"),
    "an unknown trigger": (_trigger_unknown, "trigger 'cron' is not one of"),
    "a newer format": (_newer_format, "format_version 2 is newer"),
    "migrations as names": (_migrations_not_numbers, "migrations must be a non-empty list"),
    "a table without its file": (_table_without_file, "table users has no users.parquet in files"),
    "no format": (_drop("format"), "not the manifest of a backup of this app"),
}


def _break(folder: Path, shape: str) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    edit, _ = SHAPES[shape]
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_restore_refuses_a_malformed_manifest_with_one_line_and_writes_nothing(
    taken, tmp_path, capsys, shape
):
    _break(taken, shape)
    target = tmp_path / "restored" / "new.duckdb"  # its folder does not exist yet: it must not appear either
    assert cli(["restore", str(taken), "--db", str(target)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    assert "is malformed" in err or "not the manifest" in err, err
    assert SHAPES[shape][1] in err, err
    assert not (tmp_path / "restored").exists()
    assert not [p for p in tmp_path.rglob("*") if "restoring" in p.name]


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "", '"a string"'])
def test_restore_refuses_a_manifest_that_is_not_a_json_object(taken, tmp_path, capsys, text):
    (taken / "manifest.json").write_text(text)
    target = tmp_path / "restored" / "new.duckdb"
    assert cli(["restore", str(taken), "--db", str(target)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert "is not JSON" in err or "not the manifest of a backup" in err, err
    assert not (tmp_path / "restored").exists()


@pytest.mark.parametrize("shape", ["no files", "an entry without bytes", "no created_at", "tables as a list"])
def test_a_malformed_backup_is_listed_as_unreadable_and_never_pruned(tmp_path, shape):
    con = store.connect(tmp_path / "app.duckdb")
    folder = tmp_path / "backups"
    broken = backup.take_backup(con, folder, trigger="scheduled").path
    kept = [backup.take_backup(con, folder, trigger="scheduled").path for _ in range(3)]
    con.close()
    _break(broken, shape)

    found = backup.scan_backups(folder)
    assert sorted(b.path for b in found.backups) == sorted(kept)
    assert [u.path for u in found.unreadable] == [broken] and "malformed" in found.unreadable[0].reason
    assert {b.path for b in backup.list_backups(folder)} == set(kept)
    assert list(backup.backups_frame(folder)["backup"]) == [b.name for b in found.backups]

    removed = backup.prune(folder, keep=1)
    assert (
        len(removed) == 2 and broken.is_dir()
    )  # the newest readable one kept, the unreadable one left alone
    assert [b.path for b in backup.list_backups(folder)] == [found.backups[0].path]


def test_the_prune_command_keeps_the_newest_scheduled_and_leaves_unreadable_and_manual_ones(tmp_path, capsys):
    con = store.connect(tmp_path / "app.duckdb")
    folder = tmp_path / "backups"
    manual = backup.take_backup(con, folder, trigger="manual").path
    scheduled = [backup.take_backup(con, folder, trigger="scheduled").path for _ in range(3)]
    con.close()
    _break(scheduled[0], "no files")
    (folder / "backup-20200101T000000Z.partial").mkdir()
    assert cli(["prune", "--dir", str(folder), "--keep", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("removed 1 scheduled backup and 1 unfinished backup\n")
    assert (
        f"left alone, cannot be read: {scheduled[0] / 'manifest.json'} is malformed: it has no files" in out
    )
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [manual.name, scheduled[0].name, scheduled[2].name]
    )
    assert "--keep must be 0" in _one_line(capsys, "prune", "--dir", str(folder), "--keep", "-1")
    assert "not found" in _one_line(capsys, "prune", "--dir", str(tmp_path / "nope"), "--keep", "1")


def _one_line(capsys, *argv: str) -> str:
    assert cli(list(argv)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err
