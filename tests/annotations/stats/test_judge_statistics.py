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
from annotations.stats.agreement import krippendorff_alpha
from annotations.stats.judges import (
    agreement,
    calibration,
    flip_rate,
    human_majority,
    judge_card,
    longer_share,
)


def verdicts_for(items, winner, consistent=True, p=0.5, length_a=40, length_b=40) -> pd.DataFrame:
    """One judge's verdict frame (as judge_verdicts_frame gives) with per-item values from callables or
    constants."""

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
    good = verdicts_for(
        range(60),
        lambda i: decide(i, "x"),
        p=lambda i: 0.9 if i % 3 else 0.1,
        length_b=lambda i: 60 if i % 3 else 20,
    )
    card = judge_card("good", judgments, good, n_boot=300)
    assert not card.weak and "tracks your annotators" in card.sentence
    assert card.agreement.kappa == 1.0 and card.flip_rate == 0.0 and card.n_pairs == 60
    assert card.longer_share == 1.0 and card.human_longer_share == 1.0  # both prefer the longer one here
    assert card.calibration.ece == pytest.approx(0.1)

    rng = np.random.default_rng(0)
    coin = rng.random(60) < 0.5
    noisy = verdicts_for(
        range(60), lambda i: "finetuned" if coin[i] else "base", consistent=lambda i: bool(i % 2), p=0.5
    )
    weak = judge_card("coin", judgments, noisy, n_boot=300)
    assert weak.agreement.kappa_ci[0] <= 0 <= weak.agreement.kappa_ci[1]
    assert weak.weak and "does not track your annotators" in weak.sentence
    assert "swap places in 50% of pairs" in weak.sentence


def test_a_card_without_human_judgments_is_a_clear_error():
    judgments, _, _ = decided_frames(n_items=2)
    with pytest.raises(AnnotationError, match="no human judgments yet"):
        judge_card("j", judgments.iloc[0:0], verdicts_for(range(2), "base"))


def kappa_by_hand(x: list[str], y: list[str]) -> float:
    """Cohen (1960) written out: observed agreement against the agreement the two raters' marginals expect."""
    n = len(x)
    observed = sum(a == b for a, b in zip(x, y)) / n
    expected = sum((x.count(label) / n) * (y.count(label) / n) for label in set(x) | set(y))
    return (observed - expected) / (1 - expected)


# Twelve items; the judge's verdict and three annotators' labels ("b": finetuned, "a": base, "t": tie).
JUDGE = "bbbbaaaattbb"
PEOPLE = {"ann-0": "bbbbaaaattbb", "ann-1": "bbbaaaatttbb", "ann-2": "abtbbaaabtab"}
WORDS = {"a": "base", "b": "finetuned", "t": "tie"}


def labelled_frames():
    judgments, scores, _ = decided_frames(
        n_items=12, annotators=tuple(PEOPLE), decide=lambda i, a: WORDS[PEOPLE[a][i]]
    )
    verdicts = verdicts_for(range(12), lambda i: WORDS[JUDGE[i]])
    return judgments, scores, verdicts


def test_agreement_with_each_annotator_is_cohens_kappa_by_hand_beside_their_kappa_with_the_others():
    judgments, _, verdicts = labelled_frames()
    card = judge_card("j", judgments, verdicts, n_boot=300, min_items=10)
    table = card.per_annotator.set_index("annotator_id")
    assert list(table.index) == ["ann-0", "ann-1", "ann-2"] and list(table["n_items"]) == [12, 12, 12]
    judge = [WORDS[c] for c in JUDGE]
    for annotator, labels in PEOPLE.items():
        own = [WORDS[c] for c in labels]
        row = table.loc[annotator]
        assert row["kappa"] == pytest.approx(kappa_by_hand(own, judge))
        assert row["kappa"] == pytest.approx(cohen_kappa_score(own, judge))
        assert row["accuracy"] == pytest.approx(sum(a == b for a, b in zip(own, judge)) / 12)
        others = [[WORDS[c] for c in PEOPLE[o]] for o in PEOPLE if o != annotator]
        # every pair shares the 12 items, so the weighted mean is the plain mean of the two pairwise kappas
        assert row["human_kappa"] == pytest.approx(np.mean([kappa_by_hand(own, o) for o in others]))
        assert row["human_n"] == 24
    assert table.loc["ann-0", "kappa"] == 1.0  # ann-0 is the judge's copy
    low, high = table.loc["ann-1", "kappa_ci_low"], table.loc["ann-1", "kappa_ci_high"]
    assert low < table.loc["ann-1", "kappa"] < high

    # an annotator with fewer than min_items items shared with the judge gets no row; gold and repeats do not
    # count
    fewer = judgments[~((judgments["annotator_id"] == "ann-2") & (judgments["item_id"] > "item-008"))]
    fewer = fewer.assign(is_gold=(fewer["annotator_id"] == "ann-1") & (fewer["item_id"] == "item-000"))
    table = judge_card("j", fewer, verdicts, n_boot=100, min_items=10).per_annotator.set_index("annotator_id")
    assert list(table.index) == ["ann-0", "ann-1"] and table.loc["ann-1", "n_items"] == 11
    assert table.loc["ann-1", "kappa"] == pytest.approx(
        cohen_kappa_score([WORDS[c] for c in PEOPLE["ann-1"][1:]], judge[1:])
    )


def test_alpha_with_the_judge_is_krippendorffs_alpha_with_one_more_rater():
    import krippendorff

    judgments, _, verdicts = labelled_frames()
    card = judge_card("j", judgments, verdicts, n_boot=300)
    code = {"a": 0, "b": 1, "t": 2}
    humans = np.array([[code[c] for c in labels] for labels in PEOPLE.values()], dtype=float)
    with_judge = np.vstack([humans, [[code[c] for c in JUDGE]]])
    # the `krippendorff` package (Castro 2017), an independent implementation, on the reliability matrices
    assert card.alpha.humans.alpha == pytest.approx(
        krippendorff.alpha(humans, level_of_measurement="nominal")
    )
    assert card.alpha.with_judge.alpha == pytest.approx(
        krippendorff.alpha(with_judge, level_of_measurement="nominal")
    )
    # and our own engine on the long frame with the judge added as a rater, interval included
    long = pd.DataFrame(
        [
            (f"item-{i:03d}", rater, WORDS[labels[i]])
            for rater, labels in {**PEOPLE, "judge": JUDGE}.items()
            for i in range(12)
        ],
        columns=["item_id", "annotator_id", "value"],
    )
    direct = krippendorff_alpha(long, "nominal", n_boot=300, leave_one_out=False)
    assert (card.alpha.with_judge.alpha, card.alpha.with_judge.ci_low, card.alpha.with_judge.ci_high) == (
        pytest.approx(direct.alpha),
        pytest.approx(direct.ci_low),
        pytest.approx(direct.ci_high),
    )
    assert card.alpha.with_judge.n_annotators == 4 and card.alpha.humans.n_annotators == 3


def test_agreement_per_criterion_reads_the_preference_from_the_scores():
    judgments, scores, verdicts = labelled_frames()
    # criterion "fluency": each judgment scores the judge's choice higher (a tie: equal); "facts": the
    # opposite system higher on every item the judge decided, equal on its ties
    judge_of_item = dict(zip(verdicts["item_id"], verdicts["winner"]))
    rows = []
    for judgment in judgments.itertuples():
        verdict = judge_of_item[judgment.item_id]
        for system in ("base", "finetuned"):
            fluency = 1 if verdict in ("tie", system) else 0
            facts = 1 if verdict in ("tie",) or verdict != system else 0
            rows += [
                {
                    "judgment_id": judgment.judgment_id,
                    "item_id": judgment.item_id,
                    "annotator_id": judgment.annotator_id,
                    "criterion": c,
                    "system": system,
                    "score": v,
                }
                for c, v in (("fluency", fluency), ("facts", facts))
            ]
    card = judge_card("j", judgments, verdicts, n_boot=200, scores=pd.DataFrame(rows))
    table = card.per_criterion.set_index("criterion")
    assert list(table.index) == ["facts", "fluency"] and list(table["n_items"]) == [12, 12]
    assert table.loc["fluency", "accuracy"] == 1.0 and table.loc["fluency", "kappa"] == 1.0
    flipped = {"base": "finetuned", "finetuned": "base", "tie": "tie"}
    judge = list(verdicts["winner"])
    assert table.loc["facts", "accuracy"] == pytest.approx(2 / 12)  # only the two ties agree
    assert table.loc["facts", "kappa"] == pytest.approx(kappa_by_hand([flipped[v] for v in judge], judge))
    assert judge_card("j", judgments, verdicts, n_boot=50).per_criterion.empty  # no scores, no rows


def test_a_judge_that_agrees_beyond_chance_but_less_than_the_annotators_is_called_weak():
    decide = lambda i, a: "finetuned" if i % 2 else "base"  # noqa: E731
    judgments, _, _ = decided_frames(n_items=60, annotators=("ann-0", "ann-1", "ann-2"), decide=decide)
    # unanimous annotators (alpha 1); the judge agrees on 50 of 60 items, so its kappa is well above 0
    mostly = verdicts_for(range(60), lambda i: decide(i, "x") if i % 6 else "tie")
    card = judge_card("mostly", judgments, mostly, n_boot=300)
    assert card.agreement.kappa_ci[0] > 0
    assert card.alpha.humans.alpha == 1.0 and card.alpha.with_judge.alpha < 1.0
    assert card.weak and "weaker than your annotators" in card.sentence
    assert f"lowers Krippendorff's α from 1.00 to {card.alpha.with_judge.alpha:.2f}" in card.sentence
    # the same judge on annotators who disagree among themselves more than with it is not called weak
    noisy = lambda i, a: "tie" if (i + int(a[-1])) % 3 == 0 else decide(i, a)  # noqa: E731
    judgments, _, _ = decided_frames(n_items=60, annotators=("ann-0", "ann-1", "ann-2"), decide=noisy)
    exact = verdicts_for(range(60), lambda i: decide(i, "x"))
    card = judge_card("exact", judgments, exact, n_boot=300)
    assert card.alpha.with_judge.alpha > card.alpha.humans.alpha and not card.weak
