"""bench/annotation_load.py --processes 2 --kill-one on a real PostgreSQL server (helpers.postgres_server):
annotators spread over two app processes lose nothing, duplicate nothing and hold no item beyond k at once,
and after a kill -9 of one process every judgment it acknowledged is stored and its annotators carry on on
the other (a killed process, injected on purpose)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_two_app_processes_and_a_kill_9_of_one_lose_nothing(postgres_server):
    url = postgres_server.new_database(migrated=False)
    command = [sys.executable, str(ROOT / "bench" / "annotation_load.py"), "--processes", "2", "--store", url]
    command += [
        "--annotators",
        "12",
        "--submissions",
        "300",
        "--think-ms",
        "100",
        "--kill-one",
        "--kill-after",
        "1",
    ]
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        postgres_server.drop(url)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    for check in (
        "[ok] zero lost judgments",
        "[ok] no duplicate (item, annotator)",
        "[ok] one version-1 judgment per assignment",
        "[ok] leases honoured across processes",
        "[ok] every item reaches k",
        "[ok] kill -9: every judgment the killed process acknowledged is stored",
        "[ok] kill -9: its annotators continued on the other process",
    ):
        assert check in output, check
    assert "kill -9 of process 1" in output
    held = re.search(r"(\d+)/(\d+) held pairs judged", output)
    assert held and held.group(1) == held.group(2) != "0"  # it held pairs when killed, and they were judged
