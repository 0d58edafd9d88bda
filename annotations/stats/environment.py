"""The versions written beside every statistic (export, `python -m annotations stats`), so a reader can
reproduce it: this project's own version, Python's, and the numerical packages'."""

from __future__ import annotations

import platform
import tomllib
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "finetune-verdict"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
NUMERICAL_PACKAGES = ("numpy", "pandas", "scipy", "duckdb", "pyarrow")


def installed_version(distribution: str) -> str | None:
    """The version of an installed distribution from its metadata; None when it is not installed."""
    found = next(iter(metadata.distributions(name=distribution)), None)
    return None if found is None else found.version


def package_version(distribution: str = DISTRIBUTION, pyproject: Path = PYPROJECT) -> str:
    """This project's version: from the installed package's metadata, or, in a checkout that was never
    pip-installed (the usual case: the app runs from the repository), from `pyproject.toml`, the one place
    it is written."""
    installed = installed_version(distribution)
    if installed is not None:
        return installed
    return tomllib.loads(pyproject.read_text())["project"]["version"]


def environment() -> dict:
    """Python and package versions, written beside every statistic so a reader can reproduce it."""
    versions = {DISTRIBUTION: package_version(), "python": platform.python_version()}
    versions.update({name: installed_version(name) for name in NUMERICAL_PACKAGES})
    return versions
