"""The real app server (`streamlit run`) backs up on its schedule while it holds the store, without any
visitor; the backups restore while it runs; the command line refuses the held file; a bad FT_BACKUP_* stops
the start."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest
from helpers.run_folders import write_run_folder
from helpers.streamlit_server import ROOT, StreamlitServer

from annotations import store
from annotations.accounts import users
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging import assignment, judgments
from annotations.store import backup


def test_the_server_backs_up_on_its_schedule_and_the_backup_restores(tmp_path, monkeypatch):
    monkeypatch.setenv("FT_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setenv("FT_BACKUP_EVERY_MINUTES", "0.02")  # every 1.2 s
    monkeypatch.setenv("FT_BACKUP_KEEP", "3")
    server = StreamlitServer(tmp_path / "app")
    con = store.connect(server.db_path)
    users.create_user(con, "anna", "velvet-harbor-pines-29", "annotator")
    run = write_run_folder(tmp_path / "runs" / "r", n_items=2)
    cid = create_campaign(con, CampaignConfig(name="served", run_dir=str(run), k=1))
    pair = assignment.next_item(con, cid, "ann-x")
    judgments.submit(con, pair.token, "ann-x", "B")
    con.close()
    server.start()
    try:
        with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=5) as health:  # docs/deploy.md
            assert health.status == 200 and health.read() == b"ok"
        deadline, found = time.monotonic() + 60, []
        while time.monotonic() < deadline and not found:
            found = backup.list_backups(tmp_path / "backups")
            time.sleep(0.2)
        assert found and found[0].trigger == "scheduled" and found[0].rows["judgments"] == 1
        backup.restore(found[0].path, tmp_path / "restored.duckdb")  # while the app still holds its own file
        restored = store.connect(tmp_path / "restored.duckdb", read_only=True)
        assert restored.execute("SELECT assignment_id, choice FROM judgments").fetchall() == [
            (pair.token, "right")
        ]
        restored.close()
        refused = subprocess.run(
            [
                sys.executable,
                "-m",
                "annotations",
                "backup",
                "--db",
                str(server.db_path),
                "--out",
                str(tmp_path / "x"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert refused.returncode == 1 and "held by another process" in refused.stderr
        assert "Back up now" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    finally:
        server.stop()


def test_a_bad_backup_setting_stops_the_start_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("FT_BACKUP_KEEP", "-1")
    server = StreamlitServer(tmp_path / "app")
    with pytest.raises(RuntimeError, match="exited early"):
        server.start(timeout=90)
    assert "error: the app does not start: FT_BACKUP_KEEP must be 0 (keep all) or positive" in server.output()
