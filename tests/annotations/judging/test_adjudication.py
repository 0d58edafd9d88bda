"""Adjudication (annotations/judging/adjudication.py, migration 016): a blind pair whose sides vary, a
decision de-randomized and stored apart from the judgments (which stay byte for byte as they were), the
latest decision per item, and the most disputed items first (annotations.stats.competence.disagreements)."""

from __future__ import annotations

import random

import pytest
from helpers.small_campaigns import fill_decided

from annotations import store
from annotations.errors import AnnotationError
from annotations.judging import adjudication
from annotations.judging.judgments import judgments_frame
from annotations.stats import competence


def _judgments_table(con):
    return store.read(con).execute("SELECT * FROM judgments ORDER BY judgment_id").fetchall()


@pytest.fixture
def disputed(con, run_folder):
    """12 items judged by 3 annotators: items 0-3 split 2:1, the others unanimous for finetuned."""

    def decide(item_id, annotator):
        split = int(item_id.split("-")[-1]) < 4
        return "base" if split and annotator == "ann-2" else "finetuned"

    return fill_decided(con, run_folder, decide=decide, n_annotators=3, k=3)


def test_disputed_items_come_first(con, disputed):
    table = competence.disagreements(judgments_frame(con, disputed))
    top = set(table["item_id"].head(4))
    assert len(top) == 4 and all(int(i.split("-")[-1]) < 4 for i in top), table
    assert table["majority_share"].head(4).tolist() == pytest.approx([2 / 3] * 4)
    assert (table["entropy"].iloc[4:] == 0).all()


def test_a_decision_is_stored_apart_and_changes_no_judgment(con, disputed):
    before = _judgments_table(con)
    item = competence.disagreements(judgments_frame(con, disputed))["item_id"].iloc[0]
    sides = set()
    for seed in range(20):
        pair = adjudication.blind_pair(con, disputed, item, random.Random(seed))
        sides.add(pair.shown_left)
        assert {pair.text_left, pair.text_right} and pair.text_left != pair.text_right
    assert sides == {"base", "finetuned"}  # the sides vary from view to view
    pair = adjudication.blind_pair(con, disputed, item, random.Random(1))
    adjudication.record(con, disputed, pair, "left", "researcher-1", note="  base is right  ")
    decided = adjudication.adjudications_frame(con, disputed)
    expected = [[item, pair.shown_left, "base is right"]]
    assert decided[["item_id", "winner", "note"]].values.tolist() == expected
    # a second decision on the same item: the latest counts, both are kept
    adjudication.record(con, disputed, pair, "tie", "researcher-1")
    decided = adjudication.adjudications_frame(con, disputed).set_index("item_id")
    assert decided.loc[item, "winner"] == "tie" and decided.loc[item, "n_decisions"] == 2
    assert _judgments_table(con) == before


def test_right_is_the_system_shown_right(con, disputed):
    item = judgments_frame(con, disputed)["item_id"].iloc[0]
    pair = adjudication.blind_pair(con, disputed, item, random.Random(0))
    adjudication.record(con, disputed, pair, "right", "r")
    assert adjudication.adjudications_frame(con, disputed)["winner"].iloc[0] == pair.shown_right


def test_bad_choice_and_unknown_item_are_one_line_errors(con, disputed):
    item = judgments_frame(con, disputed)["item_id"].iloc[0]
    pair = adjudication.blind_pair(con, disputed, item)
    with pytest.raises(AnnotationError, match="choice must be one of"):
        adjudication.record(con, disputed, pair, "A", "r")
    with pytest.raises(AnnotationError, match="lacks an output"):
        adjudication.blind_pair(con, disputed, "no-such-item")
    assert adjudication.adjudications_frame(con, disputed).empty


def test_exclusions_and_adjudications_in_the_sensitivity_table_delete_nothing(con, disputed):
    before = _judgments_table(con)
    frame = judgments_frame(con, disputed)
    table = competence.competence(frame)
    item = competence.disagreements(frame)["item_id"].iloc[0]
    pair = adjudication.blind_pair(con, disputed, item)
    adjudication.record(con, disputed, pair, "both_bad", "r")
    sensitivity = competence.sensitivity_table(
        frame, table, "dawid_skene", 0.99, adjudications=adjudication.adjudications_frame(con, disputed)
    )
    assert len(sensitivity) == 6
    assert _judgments_table(con) == before
    assert len(judgments_frame(con, disputed)) == len(frame)
