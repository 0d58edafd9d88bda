"""How long the Results page's Certainty block takes to compute (`annotations.stats.certainty.certainty`: the
confidence sequence, the prediction-powered interval and sequence, the planner), by campaign size, with an
automatic score and with an LLM judge as the proxy. The figure behind `pages/results_certainty.ON_UP_TO` (the
block is on at the first visit up to that many judgments).

Campaigns are synthetic (tests/helpers/synthetic.py: k = 3, 10% gold, 10% repeats); half the items are
judged by humans so that the prediction-powered parts run; the judge's probability is a logistic of the first
metric's difference. Each size: median of --repeats runs.

    .venv/bin/python bench/certainty_speed.py
    .venv/bin/python bench/certainty_speed.py --items 120 1200 3000 12000 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the test helpers: tests/helpers/

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from helpers.synthetic import make_campaign  # noqa: E402

from annotations.stats.certainty import certainty, judge_proxy, metric_preference, proxy_metrics  # noqa: E402


def judge_frame(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    difference = metric_preference(metrics, metric, "finetuned", "base")
    p = 1 / (1 + np.exp(-4 * (difference.to_numpy() - 0.5)))
    return pd.DataFrame(
        {
            "judge": "bench-judge",
            "item_id": difference.index,
            "system_a": "base",
            "system_b": "finetuned",
            "p_system_b": p,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[120, 1200, 3000, 12000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"{'judgments':>10} {'score proxy s':>14} {'judge proxy s':>14}")
    for n_items in args.items:
        campaign = make_campaign(n_items=n_items, seed=7)
        judged_items = sorted(campaign.judgments["item_id"].unique())[: n_items // 2]
        judgments = campaign.judgments[campaign.judgments["item_id"].isin(judged_items)]
        metric = proxy_metrics(campaign.metrics)[0]
        judges = judge_frame(campaign.metrics, metric)
        times = {"score": [], "judge": []}
        for _ in range(args.repeats):
            for kind, proxy in (("score", metric), ("judge", judge_proxy("bench-judge"))):
                start = time.perf_counter()
                result = certainty(judgments, campaign.metrics, proxy, judges=judges)
                times[kind].append(time.perf_counter() - start)
                assert result.ppi is not None and result.ppi_sequence is not None
        print(
            f"{len(judgments):>10,} {statistics.median(times['score']):>14.3f} "
            f"{statistics.median(times['judge']):>14.3f}"
        )
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
