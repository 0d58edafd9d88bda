"""The versions written beside every statistic: this project's from package metadata, or from
pyproject.toml in a checkout that was never installed (the version is written in one place only)."""

import tomllib
from pathlib import Path

import numpy as np

from annotations.stats import environment

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def test_the_version_is_pyproject_s_when_not_installed():
    written = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert environment.installed_version(environment.DISTRIBUTION) is None  # a plain checkout
    assert environment.package_version() == written
    assert environment.environment()["finetune-verdict"] == written


def test_the_fallback_reads_the_pyproject_it_is_given(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "elsewhere"\nversion = "7.3.1"\n')
    assert environment.package_version("no-such-distribution-here", pyproject) == "7.3.1"


def test_installed_metadata_comes_first(tmp_path):
    # numpy is installed: its metadata answers, the (missing) pyproject is never read
    assert environment.package_version("numpy", tmp_path / "missing.toml") == np.__version__


def test_environment_names_the_numerical_packages():
    versions = environment.environment()
    assert versions["numpy"] == np.__version__
    assert set(environment.NUMERICAL_PACKAGES) <= set(versions) and versions["python"]
