"""An annotator's session on the annotate page (AppTest) while the store's disk fills up and then has room
again.

Run by tests/app/test_full_disk.py in a subprocess, because filling the disk is process-wide:
    python tests/app/full_disk_session.py tmpfs DIR    # inside `unshare -rm`: DIR becomes a 16 MB tmpfs, and
    a
                                                       # filler file takes every free byte (ENOSPC, as on a
                                                       # full disk); deleting it gives the room back
    python tests/app/full_disk_session.py rlimit DIR   # no namespaces needed: RLIMIT_FSIZE stops every file
    from
                                                       # growing (EFBIG at DuckDB's write); raising it gives
                                                       room
Prints one JSON object with what the annotator saw at each step and what the store held.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


class Disk:
    """Fills the store's disk and gives the room back."""

    def __init__(self, mode: str, folder: Path) -> None:
        self.mode, self.folder = mode, folder
        if mode == "tmpfs":
            folder.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)], check=True)

    def fill(self) -> None:
        if self.mode == "tmpfs":
            fd = os.open(self.folder / "filler", os.O_WRONLY | os.O_CREAT)
            try:
                for size in (1 << 20, 4096, 1):  # down to the last byte
                    try:
                        while os.write(fd, b"\0" * size):
                            pass
                    except OSError:
                        pass  # ENOSPC: full at this size
            finally:
                os.close(fd)
        else:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
            resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    def free(self) -> None:
        if self.mode == "tmpfs":
            (self.folder / "filler").unlink()
        else:
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))


def seen(at) -> dict:
    return {
        "errors": [e.value for e in at.error],
        "successes": [s.value for s in at.success],
        "captions": [c.value for c in at.caption],
        "exception": [str(e.value) for e in at.exception],
        "tokens": sorted({b.key.split("::")[1] for b in at.button if b.key and b.key.startswith("choose::")}),
    }


def main(mode: str, folder: Path) -> None:
    disk = Disk(mode, folder)
    os.environ["FT_APP_DB"] = str(folder / "app.duckdb")
    os.environ["FT_RUNS_DIR"] = str(folder.parent / "runs")
    os.environ["FT_ADMIN_PASSWORD"] = "quartz-lantern-meadow-17"
    from helpers.login_as import login_as
    from helpers.run_folders import write_run_folder
    from streamlit.testing.v1 import AppTest

    from annotations.accounts import users
    from annotations.campaigns import CampaignConfig, create_campaign
    from annotations.store import backup
    from pages.shared import store

    run = write_run_folder(folder.parent / "runs" / "run-1", n_items=3)
    con = store()
    annotator = users.create_user(con, "anna", "velvet-harbor-pines-29", "annotator")
    create_campaign(con, CampaignConfig(name="full disk", run_dir=str(run), k=1))

    def stored() -> list[tuple]:
        return con.cursor().execute("SELECT assignment_id, choice, comment FROM judgments").fetchall()

    at = AppTest.from_file(str(ROOT / "pages" / "annotate.py"), default_timeout=60)
    login_as(at, annotator)
    at.run()
    token = seen(at)["tokens"][0]
    at.button(key=f"choose::{token}::A").click().run()
    at.text_area(key=f"comment::{token}").input("crisper").run()
    steps = {"before": seen(at)}

    # An empty write-ahead log: the next commit must take new room (a small append into the last, partly used
    # block of a file needs none, on a full disk as well).
    con.execute("CHECKPOINT")
    disk.fill()
    at.button(key="submit").click().run()
    steps["full"] = seen(at)
    steps["stored_while_full"] = stored()
    at.button(key="submit").click().run()  # the annotator tries again while the disk is still full
    steps["full_again"] = seen(at)
    steps["stored_while_full_again"] = stored()

    try:  # a researcher's "Back up now" onto the same full disk
        steps["backup_while_full"] = backup.take_backup(con, folder / "backups").name
    except backup.BackupError as e:
        steps["backup_while_full"] = f"BackupError: {e}"
    steps["backups_left_while_full"] = sorted(p.name for p in (folder / "backups").glob("*"))

    disk.free()
    at.button(key="submit").click().run()  # the same choice, still on the page
    steps["room_again"] = seen(at)
    steps["stored_after"] = [list(row) for row in stored()]
    steps["token"] = token
    print("RESULT " + json.dumps(steps, default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
