"""bench/certainty_speed.py runs and prints a row for the campaign size asked, with both proxies' seconds."""

from __future__ import annotations

from helpers.bench_scripts import run_bench


def test_certainty_speed_prints_a_row_for_the_size_asked():
    done = run_bench("certainty_speed.py", timeout=300, items=40, repeats=1)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 1 and all(len(row) == 3 and float(row[1]) > 0 and float(row[2]) > 0 for row in rows)
