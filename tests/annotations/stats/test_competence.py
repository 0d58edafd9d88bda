"""Crowd quality (annotations/stats/competence.py): MACE and Dawid–Skene competence mapped back to the right
annotator (crowd-kit's arrays come in first-appearance order), straight-lining, the participant table with
the silent checks' outcomes, and the sensitivity table checked against `preference.win_rate`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.synthetic import make_campaign

from annotations.errors import AnnotationError, OptionError
from annotations.stats import competence, preference


def _labels_frame(seed: int = 3) -> pd.DataFrame:
    """A judgments frame of 40 items: `zed` (first to arrive) always right, `kim` right 80% of the time,
    `amy` (last, sorts first) clicks at random. Sorted names (amy, kim, zed) are the reverse of arrival."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(40):
        truth = rng.choice(["finetuned", "base"], p=[0.6, 0.4])
        other = "base" if truth == "finetuned" else "finetuned"
        said = {
            "zed": truth,
            "kim": truth if rng.random() < 0.8 else other,
            "amy": rng.choice(["finetuned", "base", "tie"]),
        }
        for annotator in ("zed", "kim", "amy"):
            left = "finetuned" if rng.random() < 0.5 else "base"
            right = "base" if left == "finetuned" else "finetuned"
            winner = said[annotator]
            choice = "tie" if winner == "tie" else ("left" if winner == left else "right")
            rows.append(
                {
                    "judgment_id": f"j-{i}-{annotator}",
                    "item_id": f"item-{i:02d}",
                    "annotator_id": annotator,
                    "system_a": "base",
                    "system_b": "finetuned",
                    "shown_left": left,
                    "shown_right": right,
                    "choice": choice,
                    "winner": winner,
                    "is_repeat": False,
                    "is_gold": False,
                    "duration_s": 30.0,
                    "left_length": 50,
                    "right_length": 50,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fitted() -> pd.DataFrame:
    """The competence table of `_labels_frame()` (MACE's restarts take seconds: fitted once)."""
    return competence.competence(_labels_frame())


def test_crowd_labels_are_one_per_item_and_annotator_with_ties_merged():
    frame = _labels_frame()
    frame.loc[0, "winner"] = "both_bad"
    labels = competence.crowd_labels(frame)
    assert list(labels.columns) == ["task", "worker", "label"]
    assert len(labels) == len(frame)
    assert labels.loc[0, "label"] == "tie"
    assert set(labels["label"]) <= {"finetuned", "base", "tie"}


def test_competence_belongs_to_the_annotator_who_earned_it_not_to_the_sorted_name(fitted):
    """Arrival order zed, kim, amy; sorted order amy, kim, zed. The random annotator must get the lowest
    competence under both models (a mapping by sorted name would hand amy zed's row and zed amy's)."""
    labels = competence.crowd_labels(_labels_frame())
    assert list(pd.factorize(labels["worker"])[1]) == ["zed", "kim", "amy"]
    table = fitted.set_index("annotator_id")
    for measure in competence.MEASURES:
        assert table[measure].idxmin() == "amy", (measure, table)
    assert table.loc["zed", "mace"] > 0.6 and table.loc["amy", "mace"] < 0.3
    assert table.loc["zed", "dawid_skene"] > 0.85 and table["dawid_skene"].idxmax() == "zed"
    assert (table["n_items"] == 40).all()


def test_mace_mapping_matches_crowd_kit_spamming_rows_by_first_appearance():
    """Independently of our mapping: crowd-kit's row for a worker is its position in pd.factorize."""
    from crowdkit.aggregation import MACE

    labels = competence.crowd_labels(_labels_frame())
    ours = competence.mace_competence(labels, seed=0)
    model = MACE(n_restarts=competence.MACE_RESTARTS, n_iter=50, random_state=0).fit(labels)
    arrival = list(dict.fromkeys(labels["worker"]))  # first appearance, written without pd.factorize
    for row, worker in enumerate(arrival):
        assert ours[worker] == pytest.approx(model.spamming_[row, 1])


def test_dawid_skene_accuracy_is_the_prior_weighted_diagonal():
    from crowdkit.aggregation import DawidSkene

    labels = competence.crowd_labels(_labels_frame())
    ours = competence.dawid_skene_accuracy(labels)
    model = DawidSkene(n_iter=100).fit(labels)
    for worker in ("zed", "kim", "amy"):
        expected = 0.0
        for (who, said), row in model.errors_.iterrows():
            if who == worker:
                expected += model.priors_[said] * row[said]
        assert ours[worker] == pytest.approx(expected)


def test_competence_needs_overlap():
    frame = _labels_frame()
    alone = frame.groupby("item_id").head(1)
    with pytest.raises(AnnotationError, match="at least two annotators"):
        competence.competence(alone)


def test_straight_lining_flags_always_the_same_side_and_the_same_system():
    frame = _labels_frame()
    mine = frame["annotator_id"] == "amy"
    frame.loc[mine, "choice"] = "left"
    frame.loc[mine, "winner"] = frame.loc[mine, "shown_left"]
    lines = competence.straight_lining(frame).set_index("annotator_id")
    assert lines.loc["amy", "same_side"] == "left" and lines.loc["amy", "same_side_share"] == 1.0
    table = competence.participant_table(frame).set_index("annotator_id")
    assert "straight-lining (100% left)" in table.loc["amy", "flags"]
    assert not table.loc["kim", "flagged"]
    assert table.loc["amy", "left_share"] == 1.0  # position bias from quality.position_bias
    # always the same system (sides random): its own flag
    frame.loc[frame["annotator_id"] == "kim", "winner"] = "finetuned"
    table = competence.participant_table(frame).set_index("annotator_id")
    assert "always the same system (100% finetuned)" in table.loc["kim", "flags"]


def test_participant_table_shows_competence_and_check_outcomes_when_given(fitted):
    frame = _labels_frame()
    plain = competence.participant_table(frame)
    assert "attention_passed" not in plain.columns and "mace" not in plain.columns
    checks = pd.DataFrame(
        {"user_id": ["zed", "amy"], "attention_passed": [True, False], "gold_accuracy": [1.0, 0.25]}
    )
    table = competence.participant_table(frame, fitted, checks).set_index("annotator_id")
    assert table.loc["amy", "gold_accuracy"] == 0.25 and table.loc["zed", "attention_passed"]
    assert "failed an attention check" in table.loc["amy", "flags"]
    assert pd.isna(table.loc["kim", "attention_passed"])
    assert {"mace", "dawid_skene"} <= set(table.columns)
    # no check answered (None) is not a failure; numpy's False is one (the crowd room's frame may hold either)
    mixed = checks.assign(attention_passed=pd.Series([None, np.bool_(False)], dtype=object))
    flags = competence.participant_table(frame, checks=mixed).set_index("annotator_id")["flags"]
    assert "attention" not in flags["zed"] and "failed an attention check" in flags["amy"]
    with pytest.raises(AnnotationError, match="attention_passed"):
        competence.participant_table(frame, checks=checks.drop(columns="attention_passed"))


def test_too_fast_flag():
    frame = _labels_frame()
    frame.loc[frame["annotator_id"] == "kim", "duration_s"] = 1.0
    table = competence.participant_table(frame).set_index("annotator_id")
    assert "too fast (100% of judgments)" in table.loc["kim", "flags"]


@pytest.mark.parametrize("tie_policy", preference.TIE_POLICIES)
def test_unweighted_rate_is_the_verdicts_item_interval(tie_policy):
    used = make_campaign(n_items=60, seed=4).judgments
    used = used[~used["is_repeat"] & ~used["is_gold"]]
    reference = preference.win_rate(used, tie_policy=tie_policy, n_boot=0)
    ours = competence.weighted_win_rate(used, "finetuned", "base", None, tie_policy)
    assert ours.win_rate == pytest.approx(reference.item_share)
    assert (ours.low, ours.high) == pytest.approx((reference.item_low, reference.item_high))
    assert ours.n_items == reference.n_items_used


def test_sensitivity_table_with_and_without_low_competence_participants(fitted):
    frame, table = _labels_frame(), fitted
    low = competence.below_threshold(table, "mace", 0.5)
    assert low == ["amy"]
    sensitivity = competence.sensitivity_table(frame, table, "mace", 0.5).set_index("participants")
    assert len(sensitivity) == 3
    everyone = preference.win_rate(frame, n_boot=0)
    without = preference.win_rate(frame[frame["annotator_id"] != "amy"], n_boot=0)
    assert sensitivity.iloc[0]["win_rate"] == pytest.approx(everyone.item_share)
    assert sensitivity.iloc[2]["win_rate"] == pytest.approx(without.item_share)
    assert sensitivity.iloc[2]["n_annotators"] == 2 and sensitivity.iloc[0]["n_annotators"] == 3
    # weighting with weights 1 and 0 is excluding
    weights = pd.Series({"zed": 1.0, "kim": 1.0, "amy": 0.0})
    weighted = competence.weighted_win_rate(frame, "finetuned", "base", weights)
    assert weighted.win_rate == pytest.approx(without.item_share)
    with pytest.raises(OptionError):
        competence.below_threshold(table, "mace", 1.5)
    with pytest.raises(OptionError):
        competence.sensitivity_table(frame, table, "majority")


def test_adjudicated_labels_replace_their_items_and_leave_the_judgments_alone(fitted):
    frame = _labels_frame()
    before = frame.copy()
    items = sorted(frame["item_id"].unique())[:10]
    decided = pd.DataFrame({"item_id": items, "winner": ["base"] * 10})
    replaced = competence.with_adjudications(frame, decided)
    pd.testing.assert_frame_equal(frame, before)
    assert len(replaced) == len(frame) - 10 * 3 + 10
    assert (replaced.set_index("item_id").loc[items, "winner"] == "base").all()
    sensitivity = competence.sensitivity_table(frame, fitted, adjudications=decided)
    assert len(sensitivity) == 6
    expected = preference.win_rate(replaced, n_boot=0).item_share
    row = sensitivity[sensitivity["participants"] == "all participants, adjudicated labels where they exist"]
    assert row["win_rate"].iloc[0] == pytest.approx(expected)
    assert row["win_rate"].iloc[0] < sensitivity["win_rate"].iloc[0]
    assert row["n_annotators"].iloc[0] == 3  # the adjudicator is not counted as a participant
