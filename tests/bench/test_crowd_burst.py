"""bench/crowd_burst.py, run small: a few participants arrive at once through the study link, every step's
p50/p95 is printed, and every check (nothing lost, one account and one binding each, copied links refused)
passes. A check that failed would exit 1 and print FAIL."""

from __future__ import annotations

import re

from helpers.bench_scripts import run_bench

STEPS = ("entry", "reload", "consent", "instructions", "training", "first pair", "judgment")


def test_crowd_burst_small_prints_every_step_and_passes_its_checks():
    done = run_bench(
        "crowd_burst.py", timeout=300, participants=6, window_s=1, think_ms=0, pairs=4, twin_share=0.34
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for step in STEPS:
        assert re.search(rf"^\s+{step}\s+p50\s+[\d.]+ ms\s+p95\s+[\d.]+ ms\s+\(n=\d+\)", done.stdout, re.M), (
            step
        )
    checks = [line for line in done.stdout.splitlines() if line.strip().startswith("[")]
    assert len(checks) == 8 and all(line.strip().startswith("[ok]") for line in checks), done.stdout
    assert "6 accounts, 6 participants for 6 ids" in done.stdout
    assert "2 links opened twice at once, 2 second opens refused" in done.stdout
    assert "24 returned, 24 stored, 0 lost" in done.stdout
