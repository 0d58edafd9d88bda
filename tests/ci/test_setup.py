"""The README's setup installs into the project's virtual environment, also on a Python that refuses `pip
install`.

`.ci/run` makes `.venv` from Debian's /usr/bin/python3 where that interpreter is marked externally managed
(PEP 668) and sets FT_EXPECT_EXTERNALLY_MANAGED=1; these tests then check the suite really runs from such a
venv.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPECT = os.environ.get("FT_EXPECT_EXTERNALLY_MANAGED") == "1"


def _base_python() -> Path:
    return Path(sys._base_executable)  # the interpreter the venv was made from


@pytest.mark.skipif(not EXPECT, reason="only under .ci/run on a machine with an externally managed Python")
def test_the_suite_runs_from_a_venv_made_from_the_externally_managed_system_python():
    assert sys.prefix != sys.base_prefix, "the tests must run inside the project's virtual environment"
    assert Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    stdlib = Path(sysconfig.get_path("stdlib"))  # in a venv: the base interpreter's standard library
    assert (stdlib / "EXTERNALLY-MANAGED").exists(), f"{stdlib} carries no PEP 668 marker"
    # The premise: the system interpreter itself refuses a plain install.
    refused = subprocess.run(
        [str(_base_python()), "-m", "pip", "install", "--dry-run", "--no-index", "six"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stdout + refused.stderr


def test_setup_and_run_use_the_project_venv():
    setup = (ROOT / ".ci" / "setup").read_text()
    run = (ROOT / ".ci" / "run").read_text()
    assert '-m venv "$VENV"' in setup and "VENV=${FT_VENV:-.venv}" in setup
    assert "-c constraints.txt" in setup
    # .ci/run is the README's second command with the import rules checked between setup and the tests (the
    # suite checks them too, tests/ci/test_import_rules.py, so the README's command runs everything CI runs).
    readme = (ROOT / "README.md").read_text()
    command = "bash .ci/setup --with-browser && .venv/bin/python -m pytest"
    setup_step, test_step = command.split(" && ")
    assert command in readme
    assert run.rstrip().endswith(f"{setup_step} && .venv/bin/lint-imports --no-cache && {test_step}")


def test_constraints_pin_every_requirement():
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name = line.split("[")[0]
        for sep in ("==", ">=", "<=", "<", ">", "~="):
            name = name.split(sep)[0]
        assert name.strip().lower().replace("_", "-") in pinned, f"{name} is not pinned in constraints.txt"


def test_setup_converts_the_embedded_model_into_the_cache_the_demo_reads(tmp_path):
    """.ci/setup converts the GGUF once (about 2 minutes on 2 cores), so the demo's first job does not. Its
    command is run here against a cache where the folder exists already: it must name the folder the jobs
    load."""
    setup = (ROOT / ".ci" / "setup").read_text()
    (line,) = [x for x in setup.splitlines() if "convert_embedded" in x and not x.startswith("#")]
    assert line.startswith('"$VENV/bin/python" -c ')
    code = line.split(" -c ", 1)[1].strip().strip("'")
    from ft_core import models

    real = models.cache_dir() / "models" / "smollm2-135m"
    if not (real / "model.safetensors").is_file():
        pytest.skip("the embedded model is not converted on this machine (run .ci/setup)")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "smollm2-135m").symlink_to(real)
    env = {**os.environ, "FT_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "models" / "smollm2-135m")  # found, not converted again
    assert "converting" not in done.stdout


def _torch_choice(tmp_path: Path, nvidia_smi: str, **env: str) -> str:
    """`.ci/setup --torch-choice` (installs nothing) with a fake nvidia-smi first on PATH."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "nvidia-smi").write_text(f"#!/bin/sh\n{nvidia_smi}\n")
    (fake / "nvidia-smi").chmod(0o755)
    proc = subprocess.run(
        ["bash", str(ROOT / ".ci" / "setup"), "--torch-choice"],
        env={**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_setup_installs_a_cuda_build_of_the_pinned_torch_where_nvidia_smi_lists_a_gpu(tmp_path):
    pinned = next(
        line.split("==")[1]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.startswith("torch==")
    )
    gpu = _torch_choice(tmp_path, 'echo "GPU 0: NVIDIA H200 (UUID: GPU-1234)"')
    assert gpu.startswith(
        f"torch: torch=={pinned}+cu128 --extra-index-url https://download.pytorch.org/whl/cu128"
    )
    assert "NVIDIA H200" in gpu
    assert f"torch=={pinned}+cu126 " in _torch_choice(tmp_path, 'echo "GPU 0: A100"', FT_TORCH_CUDA="cu126")
    # nvidia-smi without a GPU (no driver loaded): the CPU wheel, as on a machine without nvidia-smi
    none = _torch_choice(tmp_path, 'echo "NVIDIA-SMI has failed" >&2; exit 9')
    assert none == f"torch: torch=={pinned} (CPU wheel: no NVIDIA GPU found (nvidia-smi))"
