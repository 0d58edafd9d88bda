"""Prediction-powered win rates on real human data: SummEval's expert ratings as pairwise campaigns between
its 16 systems (120 pairs, 100 articles each; tests/helpers/summeval_pairs.py), ROUGE-1 against the best of 11
references as the proxy, many random subsets of human-labelled articles. Prints, side by side, how often the
PPI and the human-only 95% intervals cover the full-data win rate and their mean half-widths.

    python bench/ppi_summeval.py [--subsets 200] [--labelled 20 30 50]
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

from helpers.summeval_pairs import load_summeval, pair_campaigns  # noqa: E402

from annotations.stats.ppi import ppi_mean  # noqa: E402


def run(campaigns, n_labelled: int, subsets: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    rows = []
    for campaign in campaigns:
        truth, n_items = campaign.full_data_value, len(campaign.human)
        for _ in range(subsets):
            order = rng.permutation(n_items)
            labelled, unlabelled = order[:n_labelled], order[n_labelled:]
            r = ppi_mean(campaign.human[labelled], campaign.proxy[labelled], campaign.proxy[unlabelled])
            rows.append(
                (
                    r.ci_low <= truth <= r.ci_high,
                    r.human_ci_low <= truth <= r.human_ci_high,
                    r.half_width,
                    r.human_half_width,
                    r.lam,
                    r.effective_n,
                )
            )
    rows = np.array(rows, dtype=float)
    return dict(
        zip(
            ["ppi coverage", "human coverage", "ppi half", "human half", "lambda", "effective n"],
            rows.mean(0),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--subsets", type=int, default=200, help="random labelled subsets per pair of systems"
    )
    parser.add_argument("--labelled", type=int, nargs="+", default=[20, 30, 50])
    parser.add_argument("--references", type=int, default=11)
    args = parser.parse_args()
    started = time.perf_counter()
    frame = load_summeval(references=args.references)
    print(f"SummEval: ROUGE-1 of {len(frame)} summaries in {time.perf_counter() - started:.0f} s")
    print(f"{args.subsets} subsets x 120 system pairs; 95% intervals; python {platform.python_version()}")
    print("human label       humans  coverage PPI / human  half-width PPI / human  ratio  lambda  eff. n")
    for rating in ("overall", "relevance"):
        campaigns = pair_campaigns(frame, rating)
        correlation = np.nanmean(
            [np.corrcoef(c.human, c.proxy)[0, 1] for c in campaigns if c.human.std() > 0]
        )
        for n in args.labelled:
            r = run(campaigns, n, args.subsets, seed=n)
            print(
                f"{rating:<16} {n:>7}  {r['ppi coverage']:>12.3f} / {r['human coverage']:.3f}"
                f"  {r['ppi half']:>14.4f} / {r['human half']:.4f}  {r['ppi half'] / r['human half']:>5.3f}"
                f"  {r['lambda']:>6.3f}  {r['effective n']:>6.1f}",
                flush=True,
            )
        print(f"{'':<16} (mean correlation of the proxy with the human label per pair: {correlation:.3f})")
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
