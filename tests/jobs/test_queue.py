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


def test_claims_at_once_from_two_connections_never_take_the_same_job(con, log_dir, tmp_path):
    """Eight claims race from two connections to the store (on PostgreSQL two connection pools, as two app
    processes have) for six queued jobs: each job is claimed exactly once, the two left over get None, and a
    job waits while the job before it in its chain has not finished."""
    from annotations import store

    other = store.connect(con.url) if getattr(con, "backend", "duckdb") == "postgresql" else con
    try:
        queued = [
            queue.submit(con, "train", py("pass"), log_dir=log_dir, run_dir=str(tmp_path / f"r{n}"))
            for n in range(6)
        ]
        waiting = queue.submit(
            con, "score", py("pass"), log_dir=log_dir, depends_on=queued[0].job_id, needs_gpu=False
        )
        claimed = at_once(lambda c: queue.claim_next(c), [con, other] * 4)
        assert not [c for c in claimed if isinstance(c, Exception)]
        ids = [job.job_id for job in claimed if job is not None]
        assert sorted(ids) == sorted(job.job_id for job in queued) and claimed.count(None) == 2
        assert all(queue.get_job(con, i).status == "running" for i in ids)
        assert queue.get_job(con, waiting.job_id).status == "queued"  # its parent runs: not claimable
        queue.record_end(con, queued[0].job_id, "finished", None, 0)
        assert queue.claim_next(other).job_id == waiting.job_id
    finally:
        if other is not con:
            other.close()
