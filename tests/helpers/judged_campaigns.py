"""Simulated campaigns with a known win rate and a biased LLM judge beside the humans, vectorised over
campaigns: for the prediction-powered and sequential tests and for bench/ppi_simulation.py.

Each item has a latent quality gap g (fine-tune minus base) and a length gap (the fine-tune writes longer).
Each of `k` annotators perceives g plus noise and calls a tie inside a band; the item's human label is the
mean of their calls (win 1, tie 1/2, loss 0), so the true win rate (the expected label of an item) is known in
closed form. The judge sees the same pair in one random order and prefers the longer output and the first
position: its probability tracks the humans but is biased, which is what PPI must correct.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

TIE_BAND = 0.3  # |perceived gap| below this is judged a tie
NOISE = 1.0  # sd of an annotator's perception noise


@dataclass
class JudgedCampaigns:
    human: np.ndarray  # (campaigns, items): each item's mean human label, tie = 1/2
    judge: np.ndarray  # (campaigns, items): the judge's probability that the fine-tune is better
    true_win_rate: float


def true_win_rate(advantage: float) -> float:
    """The expected item label: P(perceived gap > band) + P(|perceived gap| < band) / 2, perceived ~ N(adv,
    1 + NOISE^2)."""
    sd = np.sqrt(1 + NOISE**2)
    win = sps.norm.sf(TIE_BAND, advantage, sd)
    tie = sps.norm.cdf(TIE_BAND, advantage, sd) - sps.norm.cdf(-TIE_BAND, advantage, sd)
    return float(win + tie / 2)


def judged_campaigns(
    n_campaigns: int,
    n_items: int,
    advantage: float = 0.2,  # mean latent gap; 0: no true difference
    k: int = 3,
    judge_skill: float = 1.5,  # weight of the quality gap in the judge's logit (0: the judge is noise)
    length_bias: float = 0.8,  # weight of the length gap
    position_bias: float = 0.6,  # logit bonus for whichever output is shown first
    seed: int = 0,
) -> JudgedCampaigns:
    """`n_campaigns` independent campaigns of `n_items` items each."""
    rng = np.random.default_rng(seed)
    shape = (n_campaigns, n_items)
    gap = rng.normal(advantage, 1.0, shape)
    length_gap = rng.normal(0.5, 1.0, shape)
    perceived = gap[..., None] + rng.normal(0, NOISE, (*shape, k))
    calls = np.where(perceived > TIE_BAND, 1.0, np.where(perceived < -TIE_BAND, 0.0, 0.5))
    finetune_first = rng.random(shape) < 0.5
    logit = (
        judge_skill * gap
        + length_bias * length_gap
        + position_bias * np.where(finetune_first, 1, -1)
        + rng.normal(0, 1, shape)
    )
    return JudgedCampaigns(calls.mean(axis=2), 1 / (1 + np.exp(-logit)), true_win_rate(advantage))
