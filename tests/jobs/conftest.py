"""Fixtures for the job tests: a fresh store, a folder for job logs, a 12-item run folder written as files
(tests/annotations/run_folders.py, loaded by path until the shared test helpers have a package of their own), and
a CPU-only machine whose one slot is taken."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from annotations import db
from jobs import queue, scheduler

_spec = importlib.util.spec_from_file_location(
    "_run_folders", Path(__file__).resolve().parents[1] / "annotations" / "run_folders.py"
)
_run_folders = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_run_folders)


@pytest.fixture
def con(tmp_path):
    connection = db.connect(tmp_path / "store.duckdb")
    yield connection
    connection.close()


@pytest.fixture
def log_dir(tmp_path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def run_folder(tmp_path) -> Path:
    return _run_folders.write_run_folder(tmp_path / "runs" / "run-1")


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
