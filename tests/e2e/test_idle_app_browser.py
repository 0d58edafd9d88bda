"""The app started exactly as the README starts it (`.venv/bin/streamlit run streamlit_app.py`, no extra
flag) idles while a browser shows the login page: it watches no file (Streamlit's watcher followed every
imported module, all of torch with the .venv inside the checkout: a full core and "Inotify queue
overflowed" lines that buried the admin password), uses a small fraction of a core, and its terminal output
holds no watcher lines."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers.streamlit_server import free_port, start_as_readme, stop_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
IDLE_SECONDS = 10
MAX_CORE_SHARE = 0.2  # CPU seconds per wall second; the watcher took ~1.0, an idle app takes ~0.01


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/<pid>/stat (fields 14 and 15, in clock
    ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def inotify_watches(pid: int) -> int:
    """How many files and folders the process watches with inotify (one `inotify wd:` line per watch)."""
    count = 0
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            count += sum(line.startswith("inotify wd:") for line in info.read_text().splitlines())
        except OSError:
            pass  # a descriptor closed meanwhile
    return count


def test_the_app_started_as_the_readme_says_idles_on_the_login_page(browser_page, tmp_path):
    port = free_port()
    log_path = tmp_path / "streamlit.log"
    server = start_as_readme(tmp_path, port, "idle-granite-harbor-7f3c-lantern", log_path, timeout=90)
    try:
        # a browser session: Streamlit starts its file watcher for a session's script, not for the bare server
        browser_page.goto(f"http://127.0.0.1:{port}/")
        browser_page.get_by_role("textbox", name="Username").wait_for(timeout=60_000)
        browser_page.wait_for_timeout(2000)  # the first script run and its imports settle

        before, started = cpu_seconds(server.pid), time.monotonic()
        time.sleep(IDLE_SECONDS)
        used, elapsed = cpu_seconds(server.pid) - before, time.monotonic() - started
        watches = inotify_watches(server.pid)
    finally:
        stop_process(server)
    output = log_path.read_text()
    assert watches == 0, f"the served app watches {watches} files or folders"
    assert used / elapsed < MAX_CORE_SHARE, f"idle app used {used:.1f} CPU-s in {elapsed:.1f} s"
    assert "inotify" not in output.lower() and "watcher" not in output.lower(), output[-2000:]
    assert "First start: created researcher account 'admin'" in output  # the password line is not buried
