"""Sample sizes against statsmodels' power solver, and the projection checked by actually collecting that many
items in a synthetic campaign."""

import math

import numpy as np
import pandas as pd
import pytest
from helpers.synthetic import make_campaign
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint

from annotations.stats import agreement, power, preference


@pytest.mark.parametrize("difference,sd", [(0.05, 0.5), (0.1, 0.35), (0.2, 0.8)])
def test_items_to_detect_matches_statsmodels(difference, sd):
    # one-sample z test: NormalIndPower with ratio=0 solves n for effect size d / sd
    expected = NormalIndPower().solve_power(effect_size=difference / sd, alpha=0.05, power=0.8, ratio=0)
    assert power.items_to_detect(difference, sd) == math.ceil(expected)


def test_items_for_half_width_is_the_inverted_interval():
    n = power.items_for_half_width(0.05, 0.5)
    assert 1.959964 * 0.5 / math.sqrt(n) <= 0.05 < 1.959964 * 0.5 / math.sqrt(n - 1)


def test_projection_holds_when_the_items_are_collected():
    small = make_campaign(n_items=150, k=3, left_biased=(), seed=11).judgments
    plan = power.more_judgments(preference.win_rate(small, n_boot=2000), target_half_width=0.03)
    assert plan.items_for_target > 150 and plan.more_items_for_target == plan.items_for_target - 150
    assert plan.judgments_per_item == pytest.approx(len(small) / 150)
    # collect that many items (same process, another seed) and look at the interval we get
    big = make_campaign(n_items=plan.items_for_target, k=3, left_biased=(), seed=12).judgments
    achieved = preference.win_rate(big, n_boot=2000).half_width
    assert achieved == pytest.approx(0.03, rel=0.2)


def test_alpha_projection_and_degenerate_cases():
    c = make_campaign(n_items=120, seed=13)
    firsts = c.judgments[~c.judgments["is_repeat"]]
    alpha = agreement.krippendorff_alpha(firsts.rename(columns={"winner": "value"}), "nominal")
    plan = power.more_judgments(
        preference.win_rate(c.judgments), alpha, alpha_target_half_width=alpha.half_width / 2
    )
    assert plan.items_for_alpha_target == pytest.approx(4 * alpha.n_units, abs=1)
    empty = pd.DataFrame({"item_id": [], "shown_left": [], "shown_right": [], "winner": []})
    nothing = power.more_judgments(preference.win_rate(empty, "finetuned", "base"))
    assert nothing.items_for_target is None and nothing.reason
    unanimous = pd.DataFrame(
        {
            "item_id": np.arange(10),
            "shown_left": "base",
            "shown_right": "finetuned",
            "winner": "finetuned",
        }
    )
    # every item won: the bootstrap collapses, the item interval (Wilson, n = 10 items) does not, and the plan
    # reads that honest width, never "already within ±0"
    won = preference.win_rate(unanimous, "finetuned", "base")
    flat = power.more_judgments(won)
    low, _ = proportion_confint(10, 10, alpha=0.05, method="wilson")
    assert flat.win_rate_half_width == pytest.approx((1 - low) / 2) and flat.win_rate_half_width > 0.1
    assert flat.reason is None and flat.items_for_target > 10 and flat.more_items_for_target > 0
