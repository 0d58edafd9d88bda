"""bench/bootstrap_weights.py runs (small sizes) and prints each way of drawing the weights alone and
beside a busy Python thread, after checking they all draw the same weights, and the engine against a
multinomial draw."""

from __future__ import annotations

import re

from helpers.bench_scripts import run_bench


def test_the_bench_prints_each_way_alone_and_beside_a_busy_thread():
    proc = run_bench("bootstrap_weights.py", 300, items=3001, boot=40, repeats=1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "per resample" in out and "large calls" in out
    for label in ("alone", "beside a busy Python thread"):
        row = next(line for line in out.splitlines() if line.startswith(label))
        assert len(re.findall(r"\d+\.\d+s", row)) == 3 and float(row.split()[-1]) > 0
    row = next(line for line in out.splitlines() if line.startswith("multinomial / engine"))
    assert len(re.findall(r"\d+\.\d+s", row)) == 2 and float(row.split()[-1]) > 0
