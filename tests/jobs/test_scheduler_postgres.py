"""Two app processes on one PostgreSQL store pass the scheduler at the same moment over one queued job: it
starts once (the scheduler's lock shared by the machine's processes, jobs/scheduler.py), on a real server
(helpers.postgres_server)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from annotations import store
from jobs import queue

ROOT = Path(__file__).resolve().parents[2]
PASS = """
import sys, time
from annotations import store
from jobs import scheduler
con = store.connect(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
scheduler.reconcile(con, gpus=[], max_cpu_jobs=4)
"""


def test_two_processes_start_a_queued_job_once(postgres_server, tmp_path):
    url = postgres_server.new_database()
    con = store.connect(url)
    marks = tmp_path / "started.txt"
    code = f"open({str(marks)!r}, 'a').write('started\\n')"
    job = queue.submit(con, "fake", [sys.executable, "-c", code], log_dir=tmp_path / "logs", needs_gpu=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FT_RUNS_DIR": str(tmp_path / "runs")}
    at = time.time() + 4  # both processes have imported and connected by then
    passes = [
        subprocess.Popen(
            [sys.executable, "-c", PASS, url, str(at)], cwd=ROOT, env=env, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    try:
        errors = [p.communicate(timeout=120)[1].decode() for p in passes]
        assert [p.returncode for p in passes] == [0, 0], errors
        deadline = time.monotonic() + 30
        while not marks.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # a second start, had there been one, would have written by now
        assert marks.read_text().splitlines() == ["started"]
        assert queue.get_job(con, job.job_id).status in ("running", "finished")
    finally:
        con.close()
        postgres_server.drop(url)
