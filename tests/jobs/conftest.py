"""Fixtures for the job tests: a fresh store, a folder for job logs, and a 12-item run folder written as files
(tests/annotations/run_folders.py, loaded by path until the shared test helpers have a package of their own)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from annotations import db

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
