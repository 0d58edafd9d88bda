"""The embedded demo end to end, as a newcomer runs it: a fresh store and runs folder, `jobs.demo.start`, then
`jobs.demo.advance` every second (what Home does) until the demo campaign exists. Prints the wall time of each
step, the total, the machine's load, and the CPU seconds the job processes used (getrusage of the reaped
children): on a busy shared machine the wall time mostly measures the other processes, while the CPU seconds do
not, so a quiet machine's wall time is about CPU seconds / cores used (2 on a 2-core machine) plus the in-app step.
The demo model must have been converted already (`.ci/setup` does it).

    .venv/bin/python bench/demo_end_to_end.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotations import db  # noqa: E402
from jobs import demo  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="folder for the store and runs (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="demo-bench-"))
    con = db.connect(root / "app.duckdb")
    print(f"load before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; folder {root}", flush=True)
    t0 = time.monotonic()
    state = demo.start(con, root / "runs")
    ended: dict[str, float] = {}
    last_text: dict[str, str] = {}
    while time.monotonic() - t0 < args.timeout:
        state = demo.advance(con, root / "runs")
        for step in state.steps:
            if step.state not in ("waiting", "running") and step.name not in ended:
                ended[step.name] = time.monotonic() - t0
                cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
                print(
                    f"{ended[step.name]:7.1f} s  {step.name}: {step.state} {step.detail} "
                    f"(job CPU so far {cpu.ru_utime + cpu.ru_stime:.0f} s)",
                    flush=True,
                )
            elif step.state == "running" and last_text.get(step.name) != step.detail:
                last_text[step.name] = step.detail
                print(f"{time.monotonic() - t0:7.1f} s    {step.name}: {step.detail}", flush=True)
        if state.finished or state.failed:
            break
        time.sleep(1.0)
    total = time.monotonic() - t0
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    job_cpu = cpu.ru_utime + cpu.ru_stime
    outcome = "finished" if state.finished else "FAILED" if state.failed else "stopped or timed out"
    print(
        f"demo {outcome} in {total:.0f} s ({total / 60:.1f} min) wall; its jobs used {job_cpu:.0f} s of CPU "
        f"(on 2 free cores: ~{job_cpu / 2 / 60:.1f}-{job_cpu / 60:.1f} min); load after: {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    con.close()
    return 0 if state.finished else 1


if __name__ == "__main__":
    raise SystemExit(main())
