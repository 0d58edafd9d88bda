"""bench/generate_throughput.py on the CPU: it prints the loop-vs-batched ratio and the time per generated
token of the base, the merged fine-tuned system and the unmerged adapter, in both fp32 and bf16 (the dtype
peft's fp32 adapter used to slow down)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_bench_prints_base_and_finetuned_time_per_token(precision):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "generate_throughput.py"),
            "--arch",
            "tiny",
            "--prompts",
            "8",
            "--loop-prompts",
            "2",
            "--rounds",
            "1",
            "--max-new-tokens",
            "4",
            "--precision",
            precision,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fine-tuned (adapter merged)" in proc.stdout and "fine-tuned / base: " in proc.stdout
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(figures["seconds_per_token"]) == {"base", "finetuned", "unmerged"}
    assert figures["finetuned_vs_base"] > 0 and figures["ratio"] > 0
