"""bench/bootstrap_weights.py runs (small sizes) and prints each way of drawing the weights alone and
beside a busy Python thread, after checking they all draw the same weights, and the engine against a
multinomial draw."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_prints_each_way_alone_and_beside_a_busy_thread():
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bootstrap_weights.py"),
            "--items",
            "3001",
            "--boot",
            "40",
            "--repeats",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "per resample" in out and "large calls" in out
    for label in ("alone", "beside a busy Python thread"):
        row = next(line for line in out.splitlines() if line.startswith(label))
        assert len(re.findall(r"\d+\.\d+s", row)) == 3 and float(row.split()[-1]) > 0
    row = next(line for line in out.splitlines() if line.startswith("multinomial / engine"))
    assert len(re.findall(r"\d+\.\d+s", row)) == 2 and float(row.split()[-1]) > 0
