"""The import rules of docs/architecture.md hold, and every contract that checks them would catch a break.

The contracts live in pyproject.toml ([tool.importlinter]); `.ci/run` runs `lint-imports` before the suite.
Here the tree is checked as it is; then, in a copy of it (the tree itself is never touched), one planted
violation per contract must break that contract, which must name the planted module: a contract that catches
nothing fails this test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# One planted module per contract id: (file to write, what it imports). Each imports only what its contract
# forbids; "append:" adds the import to an existing module instead (its contract is about that module).
PLANTED = {
    "layers": [
        ("ft_core/planted_violation_up.py", "import annotations.stats\n"),
        ("annotations/planted_violation_up.py", "from jobs import queue\n"),
        ("jobs/planted_violation_up.py", "import pages.{first_page}\n"),  # any module of pages/
    ],
    "ft-core-no-app": [("ft_core/planted_violation_app.py", "import duckdb\n")],
    "shared-modules-no-torch": [("append:ft_core.config", "import torch  # planted violation\n")],
    "annotations-no-gpu": [("annotations/planted_violation_gpu.py", "import transformers\n")],
    "annotations-reads-ft-core": [("annotations/planted_violation_ft.py", "from ft_core import train\n")],
    "jobs-no-gpu-no-ui": [("jobs/planted_violation_ui.py", "import streamlit\n")],
    "jobs-reads-ft-core": [("jobs/planted_violation_ft.py", "from ft_core import generate\n")],
    "jobs-reads-annotations": [
        ("jobs/planted_violation_annotations.py", "from annotations.campaigns import get_campaign\n"),
    ],
}


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} is missing: run `bash .ci/setup` (requirements.txt has it)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the packages under cwd, nothing else
    env["COLUMNS"] = "400"  # one line per contract name, no wrapping
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _module_file(tree: Path, module: str) -> Path:
    path = tree.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _sections(output: str, names: list[str]) -> dict[str, str]:
    """The report's text after each broken contract's heading, up to the next heading."""
    report = output.split("Broken contracts", 1)[-1]
    found = {}
    for name in names:
        heading = f"\n{name}\n"
        if heading in report:
            rest = report.split(heading, 1)[1]
            ends = [rest.find(f"\n{other}\n") for other in names if other != name]
            end = min([e for e in ends if e >= 0], default=len(rest))
            found[name] = rest[:end]
    return found


def test_every_contract_has_a_planted_violation_here():
    ids = [contract.get("id") for contract in _contracts()]
    assert None not in ids, "give every contract an id (tests and `lint-imports --contract ID` name it)"
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(PLANTED), "a new contract needs a planted violation in PLANTED"


def test_the_tree_keeps_every_import_rule():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    n = len(_contracts())
    assert f"Contracts: {n} kept, 0 broken." in done.stdout, done.stdout


@pytest.mark.slow
def test_a_planted_violation_breaks_each_contract_in_a_copy_of_the_tree(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree)
    for package in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "root_packages"
    ]:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    planted = {}
    for contract_id, plants in PLANTED.items():
        for target, code in plants:
            if target.startswith("append:"):
                module = target.removeprefix("append:")
                path = _module_file(tree, module)
                path.write_text(path.read_text() + code)
            else:
                path = tree / target
                path.write_text(code.format(first_page=min(p.stem for p in (tree / "pages").glob("*.py"))))
                module = target.removesuffix(".py").replace("/", ".")
            planted.setdefault(contract_id, []).append(module)

    done = _lint(tree)
    assert done.returncode == 1, done.stdout + done.stderr
    contracts = _contracts()
    names = [contract["name"] for contract in contracts]
    assert f"Contracts: 0 kept, {len(contracts)} broken." in done.stdout, done.stdout
    sections = _sections(done.stdout, names)
    for contract in contracts:
        section = sections.get(contract["name"], "")
        for module in planted[contract["id"]]:
            assert re.search(rf"^-\s+{re.escape(module)} -> ", section, re.M), (
                f"{contract['id']} did not report {module}:\n{done.stdout}"
            )
