"""The prediction-powered confidence sequence against the human-only one, side by side in one run: with a
biased judge and a look after every item, the share of simulated campaigns whose sequence ever excludes the
true win rate; then, with a true difference, how many human-judged items each needs before it decides, and
its width after a fixed number of items (annotations/stats/sequential.py: `confidence_sequence`,
`ppi_confidence_sequence`).

    python bench/sequential_ppi.py [--campaigns 2000] [--items 300] [--pool 1000] [--grid 200]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the test helpers: tests/helpers/

from helpers.judged_campaigns import judged_campaigns  # noqa: E402

from annotations.stats.sequential import confidence_sequence, ppi_confidence_sequence  # noqa: E402

JUDGES = {"noise": 0.0, "fair": 1.5, "strong": 4.0}  # the judge's weight on the quality gap


def first_decision(lower: np.ndarray) -> float:
    decided = np.flatnonzero(lower > 0.5)
    return decided[0] + 1 if len(decided) else np.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=2000)
    parser.add_argument("--items", type=int, default=300, help="human-judged items per campaign")
    parser.add_argument("--pool", type=int, default=1000, help="items only the judge saw")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--grid", type=int, default=200, help="candidate means of the sequences")
    parser.add_argument("--advantage", type=float, default=0.3, help="latent gap of the speed part")
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"{args.campaigns} campaigns, {args.items} human-judged items each (3 annotators, ties) and "
        f"{args.pool} judged by the proxy alone; alpha {args.alpha}; a look after every item; "
        f"python {platform.python_version()}, numpy {np.__version__}"
    )
    print("a judge biased for length and position: share of campaigns ever excluding the true win rate")
    for advantage in (0.0, 0.2):
        c = judged_campaigns(args.campaigns, args.items + args.pool, advantage=advantage, seed=11)
        n, truth = args.items, c.true_win_rate
        missed = {"human-only": [], "prediction-powered": []}
        for y, yhat in zip(c.human, c.judge):
            human = confidence_sequence(y[:n], args.alpha, args.grid)
            ppi = ppi_confidence_sequence(y[:n], yhat[:n], yhat[n:], args.alpha, args.grid)
            for name, cs in (("human-only", human), ("prediction-powered", ppi)):
                missed[name].append(np.any((cs.lower > truth) | (cs.upper < truth)))
        print(
            f"  true win rate {truth:.3f} (judge's mean {c.judge.mean():.3f}): human-only "
            f"{np.mean(missed['human-only']):.4f}, prediction-powered "
            f"{np.mean(missed['prediction-powered']):.4f}"
        )

    n_speed, long_run, pool = max(args.campaigns // 10, 20), 4 * args.items, 4 * args.pool
    print(
        f"items until 'fine-tune better' (median, 90th percentile; {n_speed} campaigns of up to {long_run} "
        f"items, {pool} judged by the proxy alone) and the width after {args.items} items"
    )
    for judge, skill in JUDGES.items():
        c = judged_campaigns(n_speed, long_run + pool, advantage=args.advantage, judge_skill=skill, seed=12)
        stops = {"human-only": [], "prediction-powered": []}
        widths = {"human-only": [], "prediction-powered": []}
        lams = []
        for y, yhat in zip(c.human, c.judge):
            human = confidence_sequence(y[:long_run], args.alpha, args.grid)
            ppi = ppi_confidence_sequence(
                y[:long_run], yhat[:long_run], yhat[long_run:], args.alpha, args.grid
            )
            lams.append(ppi.lam[args.items - 1])
            for name, cs in (("human-only", human), ("prediction-powered", ppi)):
                stops[name].append(first_decision(cs.lower))
                widths[name].append(cs.upper[args.items - 1] - cs.lower[args.items - 1])
        r = np.corrcoef(c.human[:, :long_run].ravel(), c.judge[:, :long_run].ravel())[0, 1]
        print(
            f"  {judge} judge (r = {r:.2f} with the humans, lam {np.median(lams):.2f}), win rate "
            f"{c.true_win_rate:.3f}:"
        )
        for name in stops:
            q50, q90 = (np.quantile(stops[name], q, method="higher") for q in (0.5, 0.9))
            print(
                f"    {name:<19} {q50:>6.0f} {q90:>7.0f}   width {np.mean(widths[name]):.3f}"
                f"   (undecided after {long_run}: {np.mean(np.isinf(stops[name])):.2f})"
            )
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
