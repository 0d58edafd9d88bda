"""Prediction-powered win rates in simulated campaigns with a biased judge (tests/helpers/judged_campaigns.py:
the judge prefers the longer output and the first position): coverage of the true win rate, mean half-widths,
lambda and effective n of PPI++ (annotations/stats/ppi.py) beside the human-only interval, for several numbers
of human-judged items and judges from useless to strong, all measured in this one run.

    python bench/ppi_simulation.py [--campaigns 1000] [--items 1000]
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

from annotations.stats.ppi import ppi_mean  # noqa: E402

JUDGES = {"noise (skill 0)": 0.0, "weak (skill 0.5)": 0.5, "fair (skill 1.5)": 1.5, "strong (skill 4)": 4.0}


def run(n_labelled: int, skill: float, campaigns: int, items: int, seed: int) -> dict[str, float]:
    c = judged_campaigns(n_campaigns=campaigns, n_items=items, judge_skill=skill, seed=seed)
    results = [ppi_mean(h[:n_labelled], j[:n_labelled], j[n_labelled:]) for h, j in zip(c.human, c.judge)]
    truth = c.true_win_rate
    return {
        "ppi coverage": np.mean([r.ci_low <= truth <= r.ci_high for r in results]),
        "human coverage": np.mean([r.human_ci_low <= truth <= r.human_ci_high for r in results]),
        "ppi half-width": np.mean([r.half_width for r in results]),
        "human half-width": np.mean([r.human_half_width for r in results]),
        "lambda": np.mean([r.lam for r in results]),
        "effective n": np.median([r.effective_n for r in results]),
        "judge-only coverage": np.mean(
            np.abs(c.judge.mean(axis=1) - truth) <= 1.96 * c.judge.std(axis=1) / np.sqrt(items)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--items", type=int, default=1000, help="items per campaign, judged and not")
    parser.add_argument("--labelled", type=int, nargs="+", default=[30, 50, 100, 200])
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"{args.campaigns} campaigns of {args.items} items; 95% intervals; python {platform.python_version()}"
    )
    header = "judge               humans  coverage PPI / human  half-width PPI / human  ratio  lambda  eff. n"
    print(header + "  judge alone covers")
    for name, skill in JUDGES.items():
        for n in args.labelled:
            r = run(n, skill, args.campaigns, args.items, seed=1000 + n)
            print(
                f"{name:<18} {n:>7}  {r['ppi coverage']:>12.3f} / {r['human coverage']:.3f}"
                f"  {r['ppi half-width']:>14.4f} / {r['human half-width']:.4f}"
                f"  {r['ppi half-width'] / r['human half-width']:>5.3f}  {r['lambda']:>6.3f}"
                f"  {r['effective n']:>6.0f}  {r['judge-only coverage']:>18.3f}",
                flush=True,
            )
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
