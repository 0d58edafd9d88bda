"""The jobs table: one active job per run folder, checked and recorded in one step, and run folders still
written by a process outside the app refused."""

from __future__ import annotations

import json
import os

import pytest
from helpers.at_once import at_once
from helpers.fake_jobs import py

from jobs import queue, scheduler
from jobs.errors import JobError


def test_two_launches_of_the_same_run_folder_at_once_are_refused(con, log_dir, tmp_path):
    run_dir = str(tmp_path / "runs" / "same")

    def launch(_) -> queue.Job:
        return queue.submit(con, "train", py("import time; time.sleep(1)"), log_dir=log_dir, run_dir=run_dir)

    results = at_once(launch, range(4))
    accepted = [r for r in results if isinstance(r, queue.Job)]
    refused = [r for r in results if isinstance(r, JobError)]
    assert len(accepted) == 1 and len(refused) == 3
    assert "already has a queued or running job" in str(refused[0])
    # another run folder is fine, and the same one is free again once the job ended
    queue.submit(con, "train", py("pass"), log_dir=log_dir, run_dir=run_dir + "-2")
    scheduler.cancel(con, accepted[0].job_id)
    queue.submit(con, "train", py("pass"), log_dir=log_dir, run_dir=run_dir)


def test_a_run_folder_written_by_a_process_outside_the_app_is_refused(con, log_dir, tmp_path):
    run_dir = tmp_path / "runs" / "terminal"
    run_dir.mkdir(parents=True)
    status = {"state": "running", "pid": os.getpid()}  # a live process says it trains there
    (run_dir / "status.json").write_text(json.dumps(status))
    with pytest.raises(JobError, match=f"being written by process {os.getpid()}"):
        queue.submit(con, "train", py("pass"), log_dir=log_dir, run_dir=run_dir)
    (run_dir / "status.json").write_text(json.dumps({**status, "pid": 2**22 + 12345}))  # that process is gone
    assert queue.submit(con, "train", py("pass"), log_dir=log_dir, run_dir=run_dir).status == "queued"
    assert queue.active_job_on(con, run_dir) is not None
