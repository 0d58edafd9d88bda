"""How many more judgments? For the researcher deciding whether to keep annotating: the current interval
half-widths of the win rate and of alpha, how many items (at the current number of judgments per item) would
bring the win-rate interval under a target half-width, and how many would detect a given win-rate difference
from a coin flip; and the planner of a campaign (`human_items_needed`): human-judged items for a target
half-width, with and without a prediction-powered proxy.

The per-item standard deviation comes from the win rate's item interval (Wilson score with the item as the
unit, annotations.stats.preference), so the correlation between judgments of the same item (the design effect;
Kish 1965, "Survey Sampling") is already in it, and a campaign whose items all agree still gets an honest,
non-zero width. Sample sizes use the normal approximation for a one-sample test of a mean (Chow, Shao & Wang
2008, "Sample Size Calculations in Clinical Research", section 3.1).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

from annotations.stats.agreement import AlphaResult
from annotations.stats.ppi import PPIResult, StatsInputError
from annotations.stats.preference import WinRateResult


def items_for_half_width(target_half_width: float, sd_per_item: float, confidence: float = 0.95) -> int:
    """Items n with z * sd / sqrt(n) <= target half-width."""
    z = sps.norm.ppf(1 - (1 - confidence) / 2)
    return math.ceil((z * sd_per_item / target_half_width) ** 2)


def items_to_detect(
    difference: float, sd_per_item: float, significance: float = 0.05, power: float = 0.8
) -> int:
    """Items n for a two-sided test at `significance` to detect a mean shift `difference` with `power`."""
    z = sps.norm.ppf(1 - significance / 2) + sps.norm.ppf(power)
    return math.ceil((z * sd_per_item / difference) ** 2)


@dataclass
class MoreJudgments:
    """Where the campaign stands and what more annotation would buy."""

    n_items: int
    judgments_per_item: float  # current k: judgments of the pair per item, ties included
    win_rate_half_width: float | None  # current, of the item interval (Wilson score, the item as the unit)
    alpha_half_width: float | None
    sd_per_item: float | None  # win-rate standard deviation per item, design effect included
    target_half_width: float
    items_for_target: int | None  # total items needed at the current k
    more_items_for_target: int | None
    detect_difference: float  # win rate 0.5 + this
    power: float
    significance: float
    items_to_detect: int | None
    more_items_to_detect: int | None
    alpha_target_half_width: float
    items_for_alpha_target: int | None
    more_items_for_alpha_target: int | None
    reason: str | None = None
    confidence: float = 0.95  # coverage of the intervals whose half-widths these are
    method: str = (
        "normal approximation with the per-item SD of the item interval (Wilson score, n = items; design "
        "effect included)"
    )

    def to_dict(self) -> dict:
        return asdict(self)


def more_judgments(
    win: WinRateResult,
    alpha: AlphaResult | None = None,
    target_half_width: float = 0.05,
    detect_difference: float = 0.05,
    power: float = 0.8,
    significance: float = 0.05,
    alpha_target_half_width: float = 0.05,
) -> MoreJudgments:
    """Current half-widths and the items needed (at the current judgments per item) for the targets."""
    z = sps.norm.ppf(1 - (1 - win.confidence) / 2)
    k = win.n_judgments / win.n_items if win.n_items else 0.0
    half = win.half_width
    result = MoreJudgments(
        n_items=win.n_items,
        judgments_per_item=k,
        win_rate_half_width=half,
        alpha_half_width=alpha.half_width if alpha else None,
        sd_per_item=None,
        target_half_width=target_half_width,
        items_for_target=None,
        more_items_for_target=None,
        detect_difference=detect_difference,
        power=power,
        significance=significance,
        items_to_detect=None,
        more_items_to_detect=None,
        alpha_target_half_width=alpha_target_half_width,
        items_for_alpha_target=None,
        more_items_for_alpha_target=None,
        confidence=win.confidence,
    )
    if half is None or win.n_items == 0:
        result.reason = win.reason or "no win-rate interval yet: collect judgments first"
    elif half == 0:
        result.reason = (
            "every item has the same outcome: the interval has zero width, so no projection is possible"
        )
    else:
        sd = half / z * math.sqrt(win.n_items)
        result.sd_per_item = sd
        result.items_for_target = items_for_half_width(target_half_width, sd, win.confidence)
        result.more_items_for_target = max(0, result.items_for_target - win.n_items)
        result.items_to_detect = items_to_detect(detect_difference, sd, significance, power)
        result.more_items_to_detect = max(0, result.items_to_detect - win.n_items)
    if alpha is not None and alpha.half_width:
        needed = math.ceil(alpha.n_units * (alpha.half_width / alpha_target_half_width) ** 2)
        result.items_for_alpha_target = needed
        result.more_items_for_alpha_target = max(0, needed - alpha.n_units)
    return result


@dataclass
class AgreementPlan:
    """What agreement needs when it cannot be measured yet (or only loosely): items judged by two annotators.

    `items_needed[w]` is the number of items with two independent judgments that would give the preference's
    alpha a 95% interval of half-width about w, if the annotators agree at `assumed_alpha` and choose the
    outcomes in the shares seen so far. Cohen's (1960) large-sample standard error of kappa,
    sqrt(p_o (1 - p_o) / (n (1 - p_e)^2)), with p_o = alpha (1 - p_e) + p_e; for two raters alpha is close to
    Scott's pi and kappa (Krippendorff 2004, "Content Analysis", 2nd ed., section 11.3)."""

    n_annotators: int
    n_items: int  # items judged at least once
    n_items_overlapping: int  # items judged by at least two different annotators
    assumed_alpha: float
    chance_agreement: float | None  # p_e from the outcome shares so far
    items_needed: dict[float, int]  # half-width -> items with two judgments
    more_judgments: dict[float, int]  # half-width -> second judgments still missing
    reason: str | None = None  # why no plan (e.g. every judgment has the same outcome)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["items_needed"] = {str(k): v for k, v in self.items_needed.items()}
        out["more_judgments"] = {str(k): v for k, v in self.more_judgments.items()}
        return out


def agreement_plan(
    ratings,
    half_widths: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2),
    assumed_alpha: float = 0.667,
    confidence: float = 0.95,
) -> AgreementPlan:
    """How many items need a second, independent judgment for the preference's alpha to have an interval of
    each half-width. `ratings`: item_id, annotator_id, value (the preference, ties as a category)."""
    per_item = ratings.groupby("item_id")["annotator_id"].nunique()
    shares = ratings["value"].astype(str).value_counts(normalize=True)
    p_e = float((shares**2).sum()) if len(shares) else None
    plan = AgreementPlan(
        n_annotators=int(ratings["annotator_id"].nunique()),
        n_items=int(len(per_item)),
        n_items_overlapping=int((per_item >= 2).sum()),
        assumed_alpha=assumed_alpha,
        chance_agreement=p_e,
        items_needed={},
        more_judgments={},
    )
    if p_e is None or p_e >= 1:
        plan.reason = "every judgment so far has the same outcome, so chance agreement cannot be estimated"
        return plan
    z = sps.norm.ppf(1 - (1 - confidence) / 2)
    p_o = assumed_alpha * (1 - p_e) + p_e
    for w in half_widths:
        n = math.ceil(p_o * (1 - p_o) * (z / (w * (1 - p_e))) ** 2)
        plan.items_needed[w] = n
        plan.more_judgments[w] = max(0, n - plan.n_items_overlapping)
    return plan


CONSERVATIVE_SD = 0.5  # the largest standard deviation of a label in [0, 1]: a coin flip, p = 1/2


@dataclass(frozen=True)
class HumanItemsPlan:
    """Human-judged items a win-rate interval of `target_half_width` needs, without and with the proxy."""

    target_half_width: float
    confidence: float
    items_human_only: int
    items_with_proxy: int | None  # None: no proxy measured against human labels yet
    variance_ratio: float | None  # human-only variance / prediction-powered variance on the current data
    n_judged: int  # human-judged items the figures come from
    conservative: bool  # True: no usable human data, so the human-only figure assumes p = 1/2

    def to_dict(self) -> dict:
        return asdict(self)


def human_items_needed(
    target_half_width: float,
    confidence: float = 0.95,
    labels=None,
    ppi: PPIResult | None = None,
) -> HumanItemsPlan:
    """Items n with z * sd / sqrt(n) <= `target_half_width` (normal approximation; Chow, Shao & Wang 2008,
    sec. 3.1): sd from the human `labels` in [0, 1] (one per judged item), or the conservative 1/2 when there
    are fewer than two or they are all equal. With a prediction-powered result on the same data, the proxy
    divides that by the variance ratio it achieved, n_with = n_without * (PPI variance / human-only
    variance) = n_without * n_labelled / effective_n (Angelopoulos et al. 2023; PPI++ eq. 4 with lambda
    tuned), never more than n_without (lambda = 0 is always allowed)."""
    if not 0 < target_half_width < 0.5:
        raise StatsInputError(f"target half-width must be between 0 and 0.5, got {target_half_width}")
    if not 0 < confidence < 1:
        raise StatsInputError(f"confidence must be between 0 and 1, got {confidence}")
    y = np.asarray([] if labels is None else labels, dtype=float)
    sd = float(np.std(y, ddof=1)) if len(y) >= 2 else 0.0
    conservative = sd == 0.0
    human_only = items_for_half_width(target_half_width, CONSERVATIVE_SD if conservative else sd, confidence)
    ratio = with_proxy = None
    if ppi is not None and not conservative and ppi.effective_n > 0:
        ratio = ppi.effective_n / ppi.n_labelled
        with_proxy = min(human_only, math.ceil(human_only / ratio))
    return HumanItemsPlan(target_half_width, confidence, human_only, with_proxy, ratio, len(y), conservative)
