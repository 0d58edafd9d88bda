"""Fixtures for the job tests: a fresh store, a folder for job logs, a 12-item run folder
(helpers.run_folders) and a CPU-only machine whose one slot is taken."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers.run_folders import write_run_folder

from jobs import queue, scheduler


@pytest.fixture
def log_dir(tmp_path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def run_folder(tmp_path) -> Path:
    return write_run_folder(tmp_path / "runs" / "run-1")


@pytest.fixture
def busy_cpu(con, log_dir, monkeypatch):
    """A CPU-only machine with its one slot taken, so the jobs a test queues stay queued: only their rows and
    command lines are looked at (and no real training starts)."""
    monkeypatch.setenv("FT_CPU_JOBS", "1")
    monkeypatch.setenv("FT_JOB_GPUS", "")
    blocker = scheduler.launch(
        con, "fake", [sys.executable, "-c", "import time; time.sleep(60)"], log_dir=log_dir
    )
    assert blocker.status == "running"
    yield
    for job in queue.list_jobs(con, queue.ACTIVE):
        scheduler.cancel(con, job.job_id)
