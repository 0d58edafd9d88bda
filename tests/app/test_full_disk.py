"""A disk that fills up while an annotator submits: a clear "not stored, try again", never "Saved.", the
choice kept, and the same page saves it once there is room again. The disk is really filled (fault injected
on purpose) in a subprocess, tests/app/full_disk_session.py: a 16 MB tmpfs filled to the last byte (needs
`unshare -rm`, a user and mount namespace), or a file-size limit (RLIMIT_FSIZE) that makes every write that
grows a file fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from annotations import store
from annotations.errors import WriteFailed
from annotations.judging import assignment, judgments

SESSION = Path(__file__).resolve().parent / "full_disk_session.py"
NOT_STORED = "Saving failed: your judgment was not stored. Try again."


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs $d && umount $d"],
        capture_output=True,
    )
    return probe.returncode == 0


def _run_session(mode: str, folder: Path) -> dict:
    command = [sys.executable, str(SESSION), mode, str(folder / "store")]
    if mode == "tmpfs":
        command = ["unshare", "-rm", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param(
            "tmpfs",
            marks=pytest.mark.skipif(
                not _namespaces_work(), reason="no user+mount namespace for a tmpfs here"
            ),
        ),
        "rlimit",
    ],
)
def test_injected_full_disk_says_not_stored_keeps_the_choice_and_saves_once_there_is_room(mode, tmp_path):
    steps = _run_session(mode, tmp_path)
    token = steps["token"]
    assert steps["before"]["errors"] == [] and "Your choice: A is better" in steps["before"]["captions"]
    # A retry while the disk is still full says the same, and nothing else.
    for step in ("full", "full_again"):
        seen = steps[step]
        assert seen["errors"] == [NOT_STORED], seen
        assert seen["successes"] == [] and seen["exception"] == []  # never "Saved.", never a traceback
        # The same pair, with the same choice.
        assert seen["tokens"] == [token] and "Your choice: A is better" in seen["captions"]
    assert steps["stored_while_full"] == [] and steps["stored_while_full_again"] == []
    assert steps["backup_while_full"].startswith("BackupError: the backup was not written")
    assert steps["backups_left_while_full"] == []  # no half-written backup folder
    room = steps["room_again"]
    assert room["successes"] == ["Saved."] and room["errors"] == [] and room["exception"] == []
    assert steps["stored_after"] == [[token, "left", "crisper"]]  # the kept choice and comment, stored once
    assert room["tokens"] and room["tokens"] != [token]  # the app goes on: the next pair is up


def test_a_refused_write_is_write_failed_at_once_not_retried_as_a_conflict(tmp_path, monkeypatch):
    """Injected on purpose: DuckDB's own commit error on a full disk. store.write must not retry it as a
    conflict (it ran the work once) and raises WriteFailed, which the store keeps usable for the retry."""
    import duckdb
    from helpers.run_folders import write_run_folder

    from annotations.campaigns import CampaignConfig, create_campaign

    con = store.connect(tmp_path / "app.duckdb")
    run = write_run_folder(tmp_path / "runs" / "r", n_items=2)
    cid = create_campaign(con, CampaignConfig(name="t", run_dir=str(run), k=1))
    pair = assignment.next_item(con, cid, "ann-a")
    calls = []

    def full_disk(cur):
        calls.append(1)
        raise duckdb.TransactionException(
            'TransactionContext Error: Failed to commit: Could not write file "app.duckdb.wal": '
            "No space left on device"
        )

    with pytest.raises(WriteFailed, match="nothing was stored"):
        store.write(con, full_disk, lane=judgments.JUDGMENT_LANE)
    assert calls == [1]
    assert judgments.submit(con, pair.token, "ann-a", "B").created  # the connection goes on
    con.close()
