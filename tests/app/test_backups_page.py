"""The Backups page: a researcher backs up now (a real backup folder that restores), sees the list; others cannot."""

from __future__ import annotations

import pytest
from helpers.login_as import login_as

from annotations import assignment, backup, db, judgments


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
    restored = db.connect(tmp_path / "restored.duckdb", read_only=True)
    assert restored.execute("SELECT assignment_id FROM judgments").fetchall() == [(pair.token,)]
    restored.close()


def test_annotators_cannot_open_the_backups_page(open_page, app_env, annotator, backup_dir):
    at = login_as(open_page("backups"), annotator).run()
    assert at.error[0].value == "You do not have access to this page."
    assert not [b for b in at.button if b.key == "backup_now"] and not backup_dir.exists()
