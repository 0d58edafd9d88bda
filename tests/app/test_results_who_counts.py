"""The Results page's "Who counts" block drives the page (issue 22, items 3 and 4): using the adjudicated
labels, excluding the low-competence participants or weighting them changes the headline verdict on the
Verdict tab, which then equals the block's own figure, the header says which choice is on, and no judgment
is changed."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.login_as import login_as
from helpers.small_campaigns import fill_decided

from annotations import store
from annotations.judging import adjudication
from annotations.judging.judgments import judgments_frame
from annotations.stats import competence
from pages.plain_text import escape_markdown

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


def _open(open_page, researcher, campaign_id):
    at = login_as(open_page("results"), researcher)
    at.run()
    assert not at.exception, at.exception
    at.toggle(key=f"competence:{campaign_id}").set_value(True).run()
    assert not at.exception, at.exception
    return at


def _intervals(at) -> tuple[str, str]:
    """(the headline's item interval on the Verdict tab, the block's), as shown."""
    shown = [m.value for m in at.metric if m.label.endswith("(items, Wilson)")]
    assert len(shown) == 2, shown
    return shown[0], shown[1]


def _headline(at) -> str:
    return next(m.value for m in at.metric if m.label.startswith("finetuned win rate ("))


def _header(at) -> str:
    return next(c.value for c in at.caption if "judgments on" in c.value)


def test_adjudicated_labels_change_the_headline_verdict(open_page, app_env, researcher, disputed):
    frame = judgments_frame(app_env, disputed)
    for item in sorted(frame["item_id"].unique())[:3]:  # the adjudicator sides with base on 3 split items
        pair = adjudication.blind_pair(app_env, disputed, item)
        adjudication.record(app_env, disputed, pair, "left" if pair.shown_left == "base" else "right", "r")
    before = _judgments_table(app_env)
    at = _open(open_page, researcher, disputed)
    everyone, _ = _intervals(at)
    assert "Who counts" not in _header(at)
    at.checkbox(key=f"use_adjudicated:{disputed}").check().run()
    assert not at.exception, at.exception
    headline, block = _intervals(at)
    assert headline == block and headline != everyone
    decided = adjudication.adjudications_frame(app_env, disputed)
    expected = competence.weighted_win_rate(
        competence.with_adjudications(frame, decided), "finetuned", "base"
    )
    assert headline == f"{expected.low:.1%} – {expected.high:.1%}"
    assert "Who counts: with 3 adjudicated items." in _header(at)
    verdict = next(m.value for m in at.markdown if "of decisive judgments" in m.value)  # in plain words
    assert "Who counts" in verdict and "with 3 adjudicated items" in verdict
    # off again: the page counts the judgments as given
    at.checkbox(key=f"use_adjudicated:{disputed}").uncheck().run()
    assert _intervals(at)[0] == everyone and "Who counts" not in _header(at)
    assert _judgments_table(app_env) == before


def test_excluding_and_weighting_change_the_headline_verdict(open_page, app_env, researcher, disputed):
    before = _judgments_table(app_env)
    frame = judgments_frame(app_env, disputed)
    table = competence.competence(frame).set_index("annotator_id")["mace"].sort_values()
    steps = [t for t in np.round(np.arange(0, 1.0001, 0.05), 2) if table.iloc[0] < t <= table.iloc[1]]
    assert steps, table  # a slider step with the least competent participant alone below it
    at = _open(open_page, researcher, disputed)
    everyone = _headline(at), _intervals(at)[0]
    at.radio(key=f"competence_use:{disputed}").set_value("exclude").run()
    at.slider(key=f"competence_threshold:{disputed}").set_value(float(steps[0])).run()
    assert not at.exception, at.exception
    headline, block = _intervals(at)
    assert headline == block and (_headline(at), headline) != everyone
    kept = frame[frame["annotator_id"] != table.index[0]]
    expected = competence.weighted_win_rate(kept, "finetuned", "base")
    assert headline == f"{expected.low:.1%} – {expected.high:.1%}"
    said = f"excluding 1 low-competence participant (MACE < {steps[0]:g})"
    assert escape_markdown(said) in _header(at)
    at.radio(key=f"competence_use:{disputed}").set_value("weight").run()
    assert not at.exception, at.exception
    headline, block = _intervals(at)
    assert headline == block
    assert "weighted by MACE competence" in _header(at)
    # a choice that leaves nobody: the page says so, counts everyone, and keeps the block to change it
    at.radio(key=f"competence_use:{disputed}").set_value("exclude").run()
    at.slider(key=f"competence_threshold:{disputed}").set_value(1.0).run()
    assert not at.exception, at.exception
    assert any("Who counts" in w.value and "count everyone" in w.value for w in at.warning)
    assert (_headline(at), _intervals(at)[0]) == everyone
    assert _judgments_table(app_env) == before
