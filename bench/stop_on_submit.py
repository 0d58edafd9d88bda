"""What closing a campaign by itself costs the annotator: submit latency with `close_when_decided` off and on
(annotations/judging/stopping.py), one annotator at a time, flat out, split by whether the submit brought its
item to k (only those compute the decision). Campaigns off and on alternate in one process, so both meet the
same machine.

    python bench/stop_on_submit.py [--items 60] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the test helpers: tests/helpers/

from helpers.run_folders import write_run_folder  # noqa: E402

from annotations import store  # noqa: E402
from annotations.campaigns import CampaignConfig, create_campaign  # noqa: E402
from annotations.judging import assignment, judgments  # noqa: E402


def judge_campaign(con, run_dir: Path, close_when_decided: bool, rng: random.Random) -> tuple[list, list]:
    """Three annotators judge every item (k = 3) at random, one after the other: the third one's submits
    complete their items. Random choices keep it undecided, so every completion computes the decision and
    nothing closes. Returns (ms of other submits, ms of completing submits)."""
    config = CampaignConfig(
        name="bench",
        run_dir=str(run_dir),
        k=3,
        close_when_decided=close_when_decided,
        max_items_in_progress=1_000_000,  # the first two annotators may start every item
    )
    cid = create_campaign(con, config)
    other, completing = [], []
    for annotator in ("ann-1", "ann-2", "ann-3"):
        while (pair := assignment.next_item(con, cid, annotator)) is not None:
            start = time.perf_counter()
            judgments.submit(con, pair.token, annotator, rng.choice(["A", "B", "tie"]))
            (completing if annotator == "ann-3" else other).append(1000 * (time.perf_counter() - start))
    return other, completing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=60, help="items per campaign")
    parser.add_argument("--rounds", type=int, default=2, help="campaigns with the option off and on, each")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="stop_on_submit_"))
    run_dir = write_run_folder(folder / "run", n_items=args.items)
    con = store.connect(folder / "bench.duckdb")
    rng = random.Random(0)
    times: dict[bool, tuple[list, list]] = {False: ([], []), True: ([], [])}
    for _ in range(args.rounds):
        for option in (False, True):
            other, completing = judge_campaign(con, run_dir, option, rng)
            times[option][0].extend(other)
            times[option][1].extend(completing)
    print(f"{args.items} items, k = 3, {args.rounds} campaigns each; load average {os.getloadavg()[0]:.1f}")
    for option, (other, completing) in times.items():
        low, high = np.median(completing), np.percentile(completing, 99)
        print(
            f"close_when_decided={option!s:5}  other submits p50 {np.median(other):6.1f} ms (n={len(other)}) "
            f"completing submits p50 {low:6.1f} / p99 {high:6.1f} ms (n={len(completing)})"
        )
    ratio = np.median(times[True][1]) / np.median(times[False][1])
    print(f"completing submit, on / off: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
