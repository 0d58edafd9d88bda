"""Prediction-powered win rates on real human data: SummEval's expert ratings as pairwise campaigns between
systems, ROUGE-1 as the proxy, many random subsets of human-labelled articles. The PPI interval covers the
full-data win rate about as often as the human-only one and is narrower on average (bench/ppi_summeval.py
has the full figures: all 11 references, more subsets, several sizes)."""

import numpy as np
import pytest
from helpers.summeval_pairs import DATA, load_summeval, pair_campaigns

from annotations.stats.ppi import ppi_mean

pytestmark = [
    pytest.mark.skipif(not DATA.exists(), reason="SummEval is not in ../shared/data"),
    pytest.mark.slow,  # ROUGE-1 of 1,600 summaries, and importing rouge_score's stemmer
]


def test_ppi_on_summeval_covers_as_often_and_is_narrower():
    campaigns = pair_campaigns(load_summeval(references=1))  # the first reference only: the test stays fast
    assert len(campaigns) == 120 and all(len(c.human) == 100 for c in campaigns)
    rng = np.random.default_rng(0)
    n_labelled, covered, human_covered, ratios = 30, [], [], []
    for campaign in campaigns:
        truth = campaign.full_data_value
        for _ in range(30):
            order = rng.permutation(100)
            labelled, unlabelled = order[:n_labelled], order[n_labelled:]
            r = ppi_mean(campaign.human[labelled], campaign.proxy[labelled], campaign.proxy[unlabelled])
            covered.append(r.ci_low <= truth <= r.ci_high)
            human_covered.append(r.human_ci_low <= truth <= r.human_ci_high)
            ratios.append(r.half_width / r.human_half_width if r.human_half_width else 1.0)
    coverage, human_coverage = np.mean(covered), np.mean(human_covered)
    print(
        f"coverage PPI {coverage:.3f}, human-only {human_coverage:.3f}, mean width ratio "
        f"{np.mean(ratios):.3f}"
    )
    assert coverage >= human_coverage - 0.01 and coverage >= 0.93
    assert np.mean(ratios) < 1.0 and np.quantile(ratios, 0.99) < 1.05
