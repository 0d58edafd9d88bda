"""The scripts of bench/ as the tests run them: a command line from keyword options, run from the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, timeout: float, **options: object) -> subprocess.CompletedProcess:
    """`python bench/<script> --option value ...` (an option `max_new_tokens` is `--max-new-tokens`) from the
    checkout with it on PYTHONPATH; its output captured as text."""
    command = [sys.executable, str(ROOT / "bench" / script)]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
