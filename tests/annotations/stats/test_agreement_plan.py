"""The agreement plan (annotations.stats.power.agreement_plan): how many items need a second judgment for
alpha to have an interval of a given width. Checked by simulation against the `krippendorff` package: with
that many items judged by two annotators who agree at the assumed alpha, the spread of alpha matches the
planned half-width."""

import krippendorff
import numpy as np
import pandas as pd

from annotations.stats.power import agreement_plan


def one_annotator(n_items=40, shares=(0.6, 0.3, 0.1), seed=0):
    rng = np.random.default_rng(seed)
    values = rng.choice(["finetuned", "base", "tie"], size=n_items, p=shares)
    return pd.DataFrame(
        {"item_id": [f"i{i}" for i in range(n_items)], "annotator_id": "ann-0", "value": values}
    )


def test_one_annotator_gets_a_plan_with_no_overlap_yet():
    plan = agreement_plan(one_annotator())
    assert plan.n_annotators == 1 and plan.n_items == 40 and plan.n_items_overlapping == 0
    assert plan.reason is None
    # narrower intervals need more items; nothing overlaps yet, so every one still needs a second judgment
    needed = [plan.items_needed[w] for w in (0.05, 0.1, 0.15, 0.2)]
    assert needed == sorted(needed, reverse=True) and needed[-1] > 10
    assert plan.more_judgments == plan.items_needed


def test_overlapping_items_already_judged_count():
    ratings = one_annotator()
    second = ratings.iloc[:15].assign(annotator_id="ann-1")
    plan = agreement_plan(pd.concat([ratings, second]))
    assert plan.n_items_overlapping == 15
    assert plan.more_judgments[0.1] == plan.items_needed[0.1] - 15


def test_every_judgment_alike_gives_a_reason_not_a_number():
    ratings = one_annotator().assign(value="tie")
    plan = agreement_plan(ratings)
    assert plan.items_needed == {} and "same outcome" in plan.reason


def test_planned_items_give_the_planned_interval_width_by_simulation():
    shares = np.array([0.6, 0.3, 0.1])
    plan = agreement_plan(one_annotator(n_items=400, shares=tuple(shares), seed=1), assumed_alpha=0.667)
    n = plan.items_needed[0.1]
    # two raters who agree at alpha = 0.667 with these shares: with probability a the second copies the first,
    # else both draw independently (then alpha = a for large n)
    rng = np.random.default_rng(7)
    p_e = float((shares**2).sum())
    alphas = []
    for _ in range(300):
        first = rng.choice(3, size=n, p=shares)
        copy = rng.random(n) < 0.667
        second = np.where(copy, first, rng.choice(3, size=n, p=shares))
        alphas.append(
            krippendorff.alpha(reliability_data=np.vstack([first, second]), level_of_measurement="nominal")
        )
    half_width = 1.96 * np.std(alphas)
    assert abs(np.mean(alphas) - 0.667) < 0.03
    assert 0.08 < half_width < 0.12, (n, half_width, p_e)
