"""The Adjudicate page (pages/adjudicate.py) and the Results "Who counts" block (pages/results_competence.py)
with AppTest on a real judged store: researcher-only; the disputed items listed without the systems'
names; a decision stored apart from the judgments; Results' choice to use the adjudicated labels changes the
verdict shown, and excluding low-competence participants deletes no judgment."""

from __future__ import annotations

import pytest
from helpers.login_as import login_as
from helpers.small_campaigns import fill_decided

from annotations import store
from annotations.judging import adjudication
from annotations.judging.judgments import judgments_frame
from annotations.stats import competence

N_ITEMS = 8


def _decide(item_id, annotator):
    """Items 0-3: ann-2 says base, the others finetuned; items 4-7 unanimous for finetuned."""
    return "base" if int(item_id.split("-")[-1]) < 4 and annotator == "ann-2" else "finetuned"


@pytest.fixture
def disputed(app_env, tmp_path, run_writer):
    run_dir = run_writer(
        tmp_path / "runs" / "run-2", n_items=N_ITEMS, output_text=lambda system, i: f"answer {i} of a model"
    )
    return fill_decided(app_env, run_dir, decide=_decide, n_annotators=3, k=3)


def _judgments_table(con):
    return store.read(con).execute("SELECT * FROM judgments ORDER BY judgment_id").fetchall()


def _page_text(at) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "title", "text", "info", "success")
        for e in getattr(at, kind)
    ]
    parts += [str(b.label) for b in at.button] + [str(s.options) for s in at.selectbox]
    parts += [df.value.to_string() for df in at.dataframe]
    return "\n".join(map(str, parts))


def test_annotators_cannot_open_it(open_page, app_env, annotator):
    at = login_as(open_page("adjudicate"), annotator)
    at.run()
    assert "do not have access" in at.error[0].value and len(at.title) == 0


def test_decide_a_disputed_item_blind(open_page, app_env, researcher, disputed):
    before = _judgments_table(app_env)
    at = login_as(open_page("adjudicate"), researcher)
    at.run()
    assert not at.exception, at.exception
    listed = at.dataframe[0].value
    assert len(listed) == 4 and set(listed["entropy"].round(3)) == {0.918}  # 2:1 over two labels
    text = _page_text(at)
    for system in ("base", "finetuned"):
        assert system not in text, system
    item = at.selectbox(key="adjudicate_item").value
    held = at.session_state["adjudicate_pair"][2]
    assert {at.text[-2].value, at.text[-1].value} == {held.text_left, held.text_right}
    at.text_input(key="adjudicate_note").input("A reads better")
    at.button(key="adjudicate::left").click().run()
    assert not at.exception, at.exception
    assert "saved" in at.success[0].value
    decided = adjudication.adjudications_frame(app_env, disputed)
    assert decided[["item_id", "winner", "note"]].values.tolist() == [
        [item, held.shown_left, "A reads better"]
    ]
    assert len(at.dataframe[0].value) == 3  # the decided item left the list of undecided ones
    assert _judgments_table(app_env) == before


def _results_with_competence(open_page, researcher):
    at = login_as(open_page("results"), researcher)
    at.run()
    assert not at.exception, at.exception
    at.toggle(key=f"competence:{at.selectbox(key='campaign').value}").set_value(True).run()
    assert not at.exception, at.exception
    return at


def _chosen_rate(at) -> str:
    return next(m.value for m in at.metric if m.label.endswith("win rate, as chosen"))


def test_results_uses_adjudicated_labels_when_asked(open_page, app_env, researcher, disputed):
    frame = judgments_frame(app_env, disputed)
    for item in sorted(frame["item_id"].unique())[:4]:  # the adjudicator sides with base on the split items
        pair = adjudication.blind_pair(app_env, disputed, item)
        adjudication.record(app_env, disputed, pair, "left" if pair.shown_left == "base" else "right", "r")
    at = _results_with_competence(open_page, researcher)
    everyone = _chosen_rate(at)
    expected = competence.weighted_win_rate(frame, "finetuned", "base").win_rate
    assert everyone == f"{expected:.1%}"
    at.checkbox(key=f"use_adjudicated:{disputed}").check().run()
    assert not at.exception, at.exception
    adjudicated = competence.with_adjudications(frame, adjudication.adjudications_frame(app_env, disputed))
    assert (
        _chosen_rate(at) == f"{competence.weighted_win_rate(adjudicated, 'finetuned', 'base').win_rate:.1%}"
    )
    assert _chosen_rate(at) == "50.0%"  # 4 items for base, 4 for finetuned
    sensitivity = next(df.value for df in at.dataframe if "participants" in df.value.columns)
    assert len(sensitivity) == 6


def test_results_excludes_low_competence_without_deleting(open_page, app_env, researcher, disputed):
    before = _judgments_table(app_env)
    at = _results_with_competence(open_page, researcher)
    at.radio(key=f"competence_use:{disputed}").set_value("exclude").run()
    at.slider(key=f"competence_threshold:{disputed}").set_value(1.0).run()  # everyone is below 1
    assert not at.exception, at.exception
    assert _chosen_rate(at) == "n/a"
    assert any("Excluded from the verdict" in c.value for c in at.caption)
    at.radio(key=f"competence_use:{disputed}").set_value("weight").run()
    assert not at.exception and _chosen_rate(at) != "n/a"
    participants = next(df.value for df in at.dataframe if "same_side_share" in df.value.columns)
    assert {"mace", "dawid_skene"} <= set(participants.columns) and len(participants) == 3
    assert _judgments_table(app_env) == before
