"""Fixtures for the store tests: tiny run folders (helpers.run_folders) and a fresh store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.run_folders import write_run_folder

from annotations.campaigns import CampaignConfig, create_campaign


@pytest.fixture
def run_folder(tmp_path) -> Path:
    return write_run_folder(tmp_path / "runs" / "run-1")


@pytest.fixture
def make_campaign(con, run_folder) -> Callable[..., str]:
    """make_campaign(**config overrides) -> campaign_id, from the 12-item run folder."""

    def make(**overrides) -> str:
        config = CampaignConfig(name=overrides.pop("name", "test"), run_dir=str(run_folder), **overrides)
        return create_campaign(con, config)

    return make
