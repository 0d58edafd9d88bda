"""annotations.stats.judges on constructed data whose answers are known: kappa against sklearn's
`cohen_kappa_score` (an independent implementation of Cohen 1960), flip rate, the longer-output share, ECE by
hand, and the sentence that calls a judge weak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.small_campaigns import decided_frames
from sklearn.metrics import cohen_kappa_score

from annotations.errors import AnnotationError
from annotations.stats.judges import (
    agreement,
    calibration,
    flip_rate,
    human_majority,
    judge_card,
    longer_share,
)


def verdicts_for(items, winner, consistent=True, p=0.5, length_a=40, length_b=40) -> pd.DataFrame:
    """One judge's verdict frame (as judge_verdicts_frame gives) with per-item values from callables or constants."""

    def value(v, i):
        return v(i) if callable(v) else v

    return pd.DataFrame(
        {
            "item_id": [f"item-{i:03d}" for i in items],
            "winner": [value(winner, i) for i in items],
            "consistent": [value(consistent, i) for i in items],
            "p_system_b": [value(p, i) for i in items],
            "length_a": [value(length_a, i) for i in items],
            "length_b": [value(length_b, i) for i in items],
        }
    )


def test_kappa_and_accuracy_match_sklearn_and_the_count():
    rng = np.random.default_rng(3)
    labels = np.array(["base", "finetuned", "tie"])
    human = pd.Series(labels[rng.integers(0, 3, 200)])
    judge = human.where(rng.random(200) < 0.6, pd.Series(labels[rng.integers(0, 3, 200)]))
    a = agreement(human, judge, n_boot=400)
    assert a.n_items == 200
    assert a.accuracy == pytest.approx((human == judge).mean())
    assert a.kappa == pytest.approx(cohen_kappa_score(human, judge))
    assert a.kappa_ci[0] < a.kappa < a.kappa_ci[1] and a.accuracy_ci[0] < a.accuracy < a.accuracy_ci[1]


def test_perfect_agreement_is_kappa_one_and_a_constant_pair_is_undefined():
    human = pd.Series(["base", "finetuned"] * 10)
    perfect = agreement(human, human, n_boot=200)
    assert perfect.kappa == 1.0 and perfect.accuracy == 1.0 and perfect.accuracy_ci == (1.0, 1.0)
    constant = agreement(pd.Series(["base"] * 5), pd.Series(["base"] * 5), n_boot=50)
    assert constant.kappa is None and constant.accuracy == 1.0


def test_human_majority_counts_ties_and_both_bad_as_half():
    votes = {
        0: ["finetuned", "finetuned"],
        1: ["base", "tie"],
        2: ["finetuned", "base"],
        3: ["both_bad", "tie"],
    }
    judgments, _, _ = decided_frames(n_items=4, decide=lambda i, a: votes[i][int(a[-1])])
    m = human_majority(judgments).set_index("item_id")
    assert list(m["human"]) == ["finetuned", "base", "tie", "tie"]
    assert list(m["human_share"]) == [1.0, 0.25, 0.5, 0.5]


def test_flip_rate_counts_pairs_whose_orders_disagree():
    v = verdicts_for(range(8), "tie", consistent=lambda i: [True, False, True, None][i % 4])
    assert flip_rate(v) == (pytest.approx(2 / 6), 6)


def test_longer_share_among_decided_pairs_with_different_lengths():
    winner = pd.Series(["base", "finetuned", "finetuned", "tie", "base"])
    a = pd.Series([50, 10, 30, 10, 20])  # the last pair has equal lengths: left out
    b = pd.Series([10, 40, 60, 90, 20])
    assert longer_share(winner, a, b, "base", "finetuned") == (1.0, 3)
    assert longer_share(
        pd.Series(["base", "base"]), pd.Series([1, 2]), pd.Series([5, 6]), "base", "finetuned"
    ) == (0.0, 2)


def test_ece_by_hand_and_a_calibrated_judge_has_none():
    # bin [0.1, 0.2): p 0.1 and 0.15 vs shares 0 and 0 -> gap 0.125, weight 2/4; bin [0.9, 1]: p 0.9 and 1.0
    # vs shares 1 and 0.5 -> gap |0.95 - 0.75| = 0.2, weight 2/4
    c = calibration(pd.Series([0.1, 0.15, 0.9, 1.0]), pd.Series([0.0, 0.0, 1.0, 0.5]))
    assert c.ece == pytest.approx(0.5 * 0.125 + 0.5 * 0.2) and list(c.bins["n"]) == [2, 2]
    assert calibration(pd.Series([0.25, 0.25, 0.75]), pd.Series([0.0, 0.5, 0.75])).ece == pytest.approx(0.0)
    with pytest.raises(AnnotationError, match="between 0 and 1"):
        calibration(pd.Series([1.5]), pd.Series([1.0]))


def test_a_judge_that_follows_the_annotators_is_not_weak_and_a_coin_is():
    decide = lambda i, a: "finetuned" if i % 3 else "base"  # noqa: E731
    judgments, _, _ = decided_frames(n_items=60, decide=decide)
    good = verdicts_for(range(60), lambda i: decide(i, "x"), p=lambda i: 0.9 if i % 3 else 0.1,
                        length_b=lambda i: 60 if i % 3 else 20)  # fmt: skip
    card = judge_card("good", judgments, good, n_boot=300)
    assert not card.weak and "tracks your annotators" in card.sentence
    assert card.agreement.kappa == 1.0 and card.flip_rate == 0.0 and card.n_pairs == 60
    assert card.longer_share == 1.0 and card.human_longer_share == 1.0  # both prefer the longer one here
    assert card.calibration.ece == pytest.approx(0.1)

    rng = np.random.default_rng(0)
    coin = rng.random(60) < 0.5
    noisy = verdicts_for(range(60), lambda i: "finetuned" if coin[i] else "base",
                         consistent=lambda i: bool(i % 2), p=0.5)  # fmt: skip
    weak = judge_card("coin", judgments, noisy, n_boot=300)
    assert weak.agreement.kappa_ci[0] <= 0 <= weak.agreement.kappa_ci[1]
    assert weak.weak and "does not track your annotators" in weak.sentence
    assert "swap places in 50% of pairs" in weak.sentence


def test_a_card_without_human_judgments_is_a_clear_error():
    judgments, _, _ = decided_frames(n_items=2)
    with pytest.raises(AnnotationError, match="no human judgments yet"):
        judge_card("j", judgments.iloc[0:0], verdicts_for(range(2), "base"))
