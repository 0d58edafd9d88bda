"""The Backups page: a researcher backs up now (a real backup folder that restores), sees the list; others
cannot."""

from __future__ import annotations

import json

import pytest
from helpers.login_as import login_as

from annotations import store
from annotations.judging import assignment, judgments
from annotations.store import backup


@pytest.fixture
def backup_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FT_BACKUP_DIR", str(tmp_path / "backups"))
    return tmp_path / "backups"


def test_back_up_now_writes_a_backup_that_restores_and_lists_it(
    open_page, app_env, researcher, annotator, campaign, backup_dir, tmp_path
):
    pair = assignment.next_item(app_env, campaign, annotator.user_id)
    judgments.submit(app_env, pair.token, annotator.user_id, "A")
    at = login_as(open_page("backups"), researcher).run()
    assert not at.exception and "No backup yet." in [c.value for c in at.caption]
    at.button(key="backup_now").click().run()
    assert not at.exception and at.success[0].value.startswith("Backed up: backup-")
    (taken,) = backup.list_backups(backup_dir)
    assert taken.trigger == "manual" and taken.rows["judgments"] == 1
    table = at.dataframe[0].value
    assert list(table["backup"]) == [taken.name] and list(table["judgments"]) == [1]
    backup.restore(taken.path, tmp_path / "restored.duckdb")
    restored = store.connect(tmp_path / "restored.duckdb", read_only=True)
    assert restored.execute("SELECT assignment_id FROM judgments").fetchall() == [(pair.token,)]
    restored.close()


def test_annotators_cannot_open_the_backups_page(open_page, app_env, annotator, backup_dir):
    at = login_as(open_page("backups"), annotator).run()
    assert at.error[0].value == "You do not have access to this page."
    assert not [b for b in at.button if b.key == "backup_now"] and not backup_dir.exists()


def test_a_malformed_backup_is_named_as_unreadable_and_the_page_still_lists_the_others(
    open_page, app_env, researcher, backup_dir
):
    good = backup.take_backup(app_env, backup_dir, trigger="manual")
    broken = backup.take_backup(app_env, backup_dir, trigger="scheduled")
    manifest = json.loads((broken.path / "manifest.json").read_text())
    manifest["tables"] = list(manifest["tables"])  # the shape that broke the page
    (broken.path / "manifest.json").write_text(json.dumps(manifest))
    at = login_as(open_page("backups"), researcher).run()
    assert not at.exception
    assert list(at.dataframe[0].value["backup"]) == [good.name]
    (warning,) = [w.value.replace("\\", "") for w in at.warning]  # without the Markdown escapes
    assert (
        warning.startswith("1 folder in ")
        and broken.name in warning
        and "tables must be an object" in warning
    )
