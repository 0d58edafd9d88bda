"""Anytime validity, measured: with no true difference and a look after every item, the share of simulated
campaigns that ever show a wrong "you may stop" under the betting confidence sequence (annotations/stats/
sequential.py) and under a fixed-n t interval recomputed at every look; then, with a true difference, how many
items the sequence needs before it decides. All in this one run.

    python bench/sequential_stop.py [--campaigns 2000] [--items 500] [--grid 500]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy import special

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the test helpers: tests/helpers/

from helpers.judged_campaigns import judged_campaigns, true_win_rate  # noqa: E402

from annotations.stats.sequential import confidence_sequence  # noqa: E402


def fixed_n_wrong(labels: np.ndarray, alpha: float, first_look: int) -> np.ndarray:
    """Per campaign: did a t interval, recomputed after every item from `first_look` on, ever exclude 1/2?"""
    t = np.arange(1, labels.shape[1] + 1)
    mean = np.cumsum(labels, axis=1) / t
    sd = np.sqrt(np.maximum(np.cumsum(labels**2, axis=1) - t * mean**2, 0) / np.maximum(t - 1, 1))
    half = special.stdtrit(np.maximum(t - 1, 1), 1 - alpha / 2) * sd / np.sqrt(t)
    return np.any((t >= first_look) & (np.abs(mean - 0.5) > half), axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=2000)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--grid", type=int, default=500, help="candidate means of the confidence sequence")
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"{args.campaigns} campaigns of {args.items} items (3 annotators per item, ties), alpha "
        f"{args.alpha}, "
        f"a look after every item; python {platform.python_version()}"
    )
    labels = judged_campaigns(n_campaigns=args.campaigns, n_items=args.items, advantage=0.0, seed=7).human
    ever = np.array(
        [
            np.any((cs.lower > 0.5) | (cs.upper < 0.5))
            for cs in (confidence_sequence(x, args.alpha, args.grid) for x in labels)
        ]
    )
    seconds = time.perf_counter() - started
    print("no true difference: share of campaigns that ever say 'you may stop' with a winner")
    print(f"  confidence sequence                 {ever.mean():.4f}   (alpha {args.alpha})")
    for first in (10, 30, 100):
        print(
            f"  fixed-n t interval, looks from {first:<4} "
            f"{fixed_n_wrong(labels, args.alpha, first).mean():.4f}"
        )
    last = fixed_n_wrong(labels, args.alpha, args.items).mean()
    print(f"  fixed-n t interval, last look only  {last:.4f}")
    print(f"  ({seconds / args.campaigns * 1000:.0f} ms per confidence sequence of {args.items} items)")

    print("a true difference: items until the sequence decides 'fine-tune better' (median, 90th percentile)")
    for advantage in (0.1, 0.2, 0.4):
        x = judged_campaigns(n_campaigns=100, n_items=4 * args.items, advantage=advantage, seed=8).human
        stops = []
        for values in x:
            decided = np.flatnonzero(confidence_sequence(values, args.alpha, args.grid).lower > 0.5)
            stops.append(decided[0] + 1 if len(decided) else np.inf)
        print(
            f"  win rate {true_win_rate(advantage):.3f}: {np.quantile(stops, 0.5, method='higher'):>6.0f}"
            f" {np.quantile(stops, 0.9, method='higher'):>8.0f}"
            f"   (undecided after {4 * args.items}: {np.mean(np.isinf(stops)):.3f})"
        )
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
