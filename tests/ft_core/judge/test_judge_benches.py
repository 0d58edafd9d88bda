"""bench/judge_local.py and bench/judge_endpoint.py run (small sizes) and print both sides and the ratio,
after checking both sides agree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run_bench(*args: str) -> str:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=True
    ).stdout


@pytest.mark.slow
def test_the_local_bench_prints_three_sides_and_the_speed_up():
    out = run_bench(
        "bench/judge_local.py",
        "--pairs",
        "2",
        "--batch-size",
        "4",
        "--hidden",
        "64",
        "--layers",
        "1",
        "--rounds",
        "1",
        "--max-source-tokens",
        "32",
    )
    for side in ("batched", "one at a time", "plain loop"):
        assert re.search(rf"^  {side} +\d+\.\d+s", out, re.M), out
    assert re.search(
        r"speed-up of batched judging: \d+\.\dx over the plain loop, \d+\.\dx over one at a time", out
    )


@pytest.mark.slow
def test_the_endpoint_bench_prints_both_sides_and_the_speed_up():
    out = run_bench("bench/judge_endpoint.py", "--pairs", "4", "--concurrency", "4", "--latency", "0.01")
    assert "16 requests in all" in out  # 4 pairs x 2 orders x (sequential + concurrent)
    for side in ("sequential", "concurrent"):
        assert re.search(rf"^  {side} +\d+\.\d+s", out, re.M), out
    assert re.search(
        r"speed-up of concurrency 4 over sequential: \d+\.\dx the requests, \d+\.\dx the whole job", out
    )
