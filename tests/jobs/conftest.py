"""Fixtures for the job tests: a fresh store, a folder for job logs, a 12-item run folder
(helpers.run_folders), a CPU-only machine whose one slot is taken, and a tiny causal LM built in a subprocess
(no torch in this process: jobs run ft_core as processes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.run_folders import write_run_folder

from jobs import queue, scheduler

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cpu_machine(monkeypatch):
    """A CPU-only machine with one job slot, whatever the machine running the tests has."""
    monkeypatch.setenv("FT_CPU_JOBS", "1")
    monkeypatch.setenv("FT_JOB_GPUS", "")


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


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer Llama with the embedded model's tokenizer (tests/conftest.py's build_tiny_causal), built in a
    subprocess so this process never imports torch."""
    model = tmp_path_factory.mktemp("jobs-tiny") / "tiny-model"
    build = (
        "import sys; from pathlib import Path; sys.path.insert(0, 'tests'); "
        "from conftest import build_tiny_causal; from ft_core.models import embedded_tokenizer; "
        "Path(sys.argv[1]).mkdir(); build_tiny_causal(Path(sys.argv[1]), embedded_tokenizer())"
    )
    subprocess.run([sys.executable, "-c", build, str(model)], cwd=ROOT, check=True, timeout=300)
    return model
