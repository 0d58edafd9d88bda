"""Humans where they matter, measured: at an equal human budget, the inverse-probability-weighted PPI++
interval (annotations/stats/active.py) when items are drawn by the judge's uncertainty, beside the same
estimator with uniform draws; coverage and mean half-width, in simulated campaigns
(tests/helpers/judged_campaigns.py: a biased judge, and an unbiased one) and on SummEval
(tests/helpers/summeval_pairs.py: ROUGE-1 as the proxy). All in this one run.

    python bench/ppi_active.py [--campaigns 1000] [--subsets 100]
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
from helpers.summeval_pairs import load_summeval, pair_campaigns  # noqa: E402

from annotations.stats.active import active_mean, judge_uncertainty, sampling_probabilities  # noqa: E402


def compare(pairs, budget: float, truths: list[float], rng) -> dict[str, tuple[float, float]]:
    """Coverage and mean half-width of active and uniform draws over (human, proxy) campaigns."""
    out = {"active": [], "uniform": []}
    for truth, (human, proxy) in zip(truths, pairs):
        for name, weights in (("active", judge_uncertainty(proxy)), ("uniform", np.ones(len(proxy)))):
            pi = sampling_probabilities(weights, budget)
            judged = rng.random(len(pi)) < pi
            if judged.sum() < 2:
                continue
            r = active_mean(np.where(judged, human, np.nan), proxy, judged, pi)
            out[name].append((r.ci_low <= truth <= r.ci_high, r.half_width))
    return {name: tuple(np.mean(rows, axis=0)) for name, rows in out.items()}


def show(label: str, result: dict[str, tuple[float, float]]) -> None:
    (ca, wa), (cu, wu) = result["active"], result["uniform"]
    print(f"{label:<44} {ca:>6.3f} / {cu:.3f}   {wa:>8.4f} / {wu:.4f}   {wa / wu:.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--subsets", type=int, default=100, help="draws per SummEval pair of systems")
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    print(f"95% intervals, equal expected human budget; python {platform.python_version()}")
    print(f"{'campaigns':<44} coverage active / uniform   half-width active / uniform   ratio")
    judges = {
        "biased judge (length, position), skill 1.5": dict(judge_skill=1.5),
        "biased judge, skill 4": dict(judge_skill=4.0),
        "unbiased judge, skill 4": dict(judge_skill=4.0, length_bias=0.0, position_bias=0.0),
    }
    for name, options in judges.items():
        c = judged_campaigns(n_campaigns=args.campaigns, n_items=1000, seed=51, **options)
        show(
            f"{name}, 100 of 1000", compare(zip(c.human, c.judge), 100, [c.true_win_rate] * len(c.human), rng)
        )
    campaigns = pair_campaigns(load_summeval())
    repeated = [c for c in campaigns for _ in range(args.subsets)]
    truths = [c.full_data_value for c in repeated]
    for budget in (20, 30, 50):
        pairs = [(c.human, c.proxy) for c in repeated]
        show(f"SummEval, ROUGE-1 proxy, {budget} of 100", compare(pairs, budget, truths, rng))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
