"""Fixtures for AppTest page tests: a store in tmp_path (FT_APP_DB), a run folder (FT_RUNS_DIR), users, a
campaign."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.login_as import app_page
from helpers.run_folders import write_run_folder

import jobs  # noqa: F401  (see below)
from annotations import store
from annotations.accounts import users
from annotations.campaigns import CampaignConfig, create_campaign

# AppTest.from_file("pages/runs.py") puts the page's folder (pages/) first on sys.path, where pages/jobs.py
# would shadow the `jobs` package for a page that imports it (pages/runs.py -> pages/jobs.py -> `from jobs
# import ...`) when no earlier test imported the package: importing it here makes a test pass alone as in the
# whole suite. The served app is unaffected (streamlit_app.py sits at the repository root).

ADMIN_PASSWORD = "quartz-lantern-meadow-17"


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """FT_APP_DB / FT_RUNS_DIR / FT_ADMIN_PASSWORD point into tmp_path; returns the store the pages will
    use."""
    monkeypatch.setenv("FT_APP_DB", str(tmp_path / "app.duckdb"))
    monkeypatch.setenv("FT_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("FT_ADMIN_PASSWORD", ADMIN_PASSWORD)
    write_run_folder(tmp_path / "runs" / "run-1", n_items=6)
    from annotations.campaigns import source_scores
    from jobs import campaign_scores
    from pages.shared import store

    # what streamlit_app.main does first, for the tests that open one page file without it
    campaign_scores.connect(source_scores.prepare_scoring, source_scores.store_scores)
    return store()


@pytest.fixture
def annotator(app_env):
    return users.create_user(app_env, "anna", "velvet-harbor-pines-29", "annotator")


@pytest.fixture
def researcher(app_env):
    return users.create_user(app_env, "rita", "copper-kite-orchard-64", "researcher")


@pytest.fixture
def campaign(app_env, tmp_path):
    return create_campaign(
        app_env, CampaignConfig(name="page test", run_dir=str(tmp_path / "runs" / "run-1"), k=2)
    )


def db_path() -> Path:
    return store.default_path()


# Fixtures for the names above, so tests need no `from conftest import ...` (which picks whichever conftest
# module Python imported first when several test folders are collected together).
@pytest.fixture
def open_page():
    """open_page('annotate') -> an AppTest of pages/annotate.py; 'streamlit_app' gives the entry point."""
    return app_page


@pytest.fixture
def admin_password() -> str:
    return ADMIN_PASSWORD


@pytest.fixture
def run_writer():
    """write_run_folder(root, n_items=..., systems=..., output_text=...) from
    tests/annotations/run_folders.py."""
    return write_run_folder
