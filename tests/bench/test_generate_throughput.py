"""bench/generate_throughput.py on the CPU: it prints the loop-vs-batched ratio and the time per generated
token of the base, the merged fine-tuned system and the unmerged adapter, in both fp32 and bf16 (the dtype
peft's fp32 adapter used to slow down)."""

from __future__ import annotations

import json

import pytest
from helpers.bench_scripts import run_bench


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_bench_prints_base_and_finetuned_time_per_token(precision):
    proc = run_bench(
        "generate_throughput.py",
        600,
        arch="tiny",
        prompts=8,
        loop_prompts=2,
        rounds=1,
        max_new_tokens=4,
        precision=precision,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fine-tuned (adapter merged)" in proc.stdout and "fine-tuned / base: " in proc.stdout
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(figures["seconds_per_token"]) == {"base", "finetuned", "unmerged"}
    assert figures["finetuned_vs_base"] > 0 and figures["ratio"] > 0
