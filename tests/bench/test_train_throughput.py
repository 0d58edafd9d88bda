# ruff: noqa: E501  (JavaScript or code run in a subprocess, embedded in strings: kept as written)
"""bench/train_throughput.py on the CPU: why each system runs in a process of its own (accelerate keeps one
process-wide state), that `ft_core.train` itself survives another precision after a Trainer in one process,
and that the bench compares like with like (the same precision on both sides, printed) and prints its
ratio."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.bench_scripts import run_bench

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}"}
    return subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_a_trainer_then_bf16_in_one_process(tmp_path, tiny_causal_dir, tiny_jsonl):
    # What the old bench did on a GPU: the Trainer baseline (fp32, mixed_precision "no"), then ft_core in bf16
    # in the same process. accelerate refuses a second precision; ft_core.train now starts from a fresh state.
    proc = _python(
        f"""
        import argparse, json
        from pathlib import Path
        from accelerate import Accelerator
        from train_throughput import run_baseline
        from ft_core.config import TrainConfig
        from ft_core.runfolder import read_status
        from ft_core.train import train

        args = argparse.Namespace(
            model_dir="{tiny_causal_dir}", data="{tiny_jsonl / "train.jsonl"}", examples=4, batch_size=2,
            max_source_length=48, max_target_length=16, warmup_steps=1, precision="fp32",
        )
        result = run_baseline(args, Path("{tmp_path}") / "trainer")
        print("baseline", result["mixed_precision"], result["steps"])
        try:
            Accelerator(mixed_precision="bf16", cpu=True)
            print("accelerate: no error")
        except ValueError as e:
            print("accelerate:", e)
        for precision in ("bf16", "fp32"):
            run_dir = Path("{tmp_path}") / precision
            train(
                TrainConfig(
                    base_model="{tiny_causal_dir}", train_file="{tiny_jsonl / "train.jsonl"}", validation_file=None,
                    run_dir=str(run_dir), max_steps=2, batch_size=4, max_source_length=48, max_target_length=16,
                    precision=precision,
                ),
                progress=False,
            )
            status = read_status(run_dir)
            print("ft_core", precision, status.state, status.mixed_precision)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert "baseline no 2" in lines
    assert any(line.startswith("accelerate: AcceleratorState has already been initialized") for line in lines)
    assert "ft_core bf16 finished bf16" in lines and "ft_core fp32 finished no" in lines


def test_the_bench_runs_each_system_in_its_own_process_at_one_precision(tmp_path, tiny_jsonl):
    # bf16 on both sides, on the CPU: the combination that crashed the old single-process bench on a GPU
    proc = run_bench(
        "train_throughput.py",
        900,
        arch="tiny",
        examples=8,
        batch_size=2,
        warmup_steps=1,
        precision="bf16",
        data=tiny_jsonl / "train.jsonl",
        max_source_length=48,
        large_batch=4,  # the GPU-bound comparison, forced on the CPU at a tiny size
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    small, large = out.split("at a large batch (4)")
    for section, batch in ((small, 2), (large, 4)):
        rows = [line for line in section.splitlines() if line.startswith(("Trainer+peft", "ft_core "))]
        assert len(rows) == 2 and all("bf16 (bf16)" in row for row in rows), out
        assert all(row.split()[-8] == str(batch) for row in rows), rows  # the batch column
        assert "speed-up ft_core / baseline" in section and "n/a (no GPU" in section
    assert "timed: steps 2-4 after a 1-step warm-up" in small
    assert "timed: steps 2-2 after a 1-step warm-up" in large
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["precision"] == "bf16" and figures["ratio"] > 0 and figures["batch_size"] == 2
    assert figures["large_batch"]["batch_size"] == 4 and figures["large_batch"]["ratio"] > 0


def test_the_large_batch_is_skipped_with_a_line_on_a_cpu_and_64_on_a_gpu():
    sys.path.insert(0, str(ROOT / "bench"))
    from train_throughput import large_batch

    size, why = large_batch("auto", on_gpu=False)
    assert size == 0 and why.startswith("no GPU")
    assert large_batch("auto", on_gpu=True) == (64, "")
    assert large_batch("4", on_gpu=False) == (4, "") and large_batch("0", on_gpu=True) == (0, "")
