"""The Campaigns page's "Humans where the judge is unsure" section (pages/campaign_active.py) and its mark on
Results, with AppTest on a real store: without an imported judge it only says how to get one; with one, the
switch draws once and says what it drew; annotators then get only drawn items, and Results' Certainty block
shows the weighted interval with the judge as proxy and offers no stop."""

from __future__ import annotations

import pytest
from helpers.judge_verdicts import write_judge
from helpers.login_as import login_as

from annotations.campaigns import CampaignConfig, create_campaign, import_judge
from annotations.campaigns.active_selection import active_draws_frame
from annotations.judging import assignment, judgments

N_ITEMS = 24


@pytest.fixture
def with_judge(app_env, tmp_path, run_writer):
    run_dir = run_writer(tmp_path / "runs" / "run-2", n_items=N_ITEMS)
    config = CampaignConfig(name="judged", run_dir=str(run_dir), k=2, gold_rate=0.0, repeat_rate=0.0)
    cid = create_campaign(app_env, config)
    write_judge(run_dir, "judge-1", N_ITEMS, p_finetuned=lambda i: 0.95 if i % 2 else 0.55)
    import_judge(app_env, cid, "judge-1")
    return cid


def _switch_button(at):
    return next(b for b in at.button if b.label.startswith("Let humans judge only these"))


def test_without_a_judge_the_section_says_how_to_get_one(open_page, researcher, campaign):
    at = open_page("campaigns")
    login_as(at, researcher)
    at.run()
    assert not at.exception, at.exception
    assert "Humans where the judge is unsure" in [h.value for h in at.subheader]
    assert any("Once an LLM judge's verdicts are imported" in c.value for c in at.caption)
    assert not [b for b in at.button if b.label.startswith("Let humans judge only these")]


def test_the_switch_draws_once_and_results_weighs_by_it(open_page, app_env, researcher, with_judge):
    at = open_page("campaigns")
    login_as(at, researcher)
    at.run()
    at.number_input(key=f"active_budget:{with_judge}").set_value(8)
    _switch_button(at).click().run()
    assert not at.exception, at.exception
    said = [m.value for m in at.success]
    assert any(s.startswith("humans judge ") and "of 24 items" in s for s in said), said
    assert not [
        b for b in at.button if b.label.startswith("Let humans judge only these")
    ]  # switched: no form
    draws = active_draws_frame(app_env, with_judge)
    drawn = set(draws.loc[draws.drawn, "item_id"])
    assert draws["probability"].sum() == pytest.approx(8) and len(drawn) >= 2

    served = set()
    for annotator in ("ann-0", "ann-1"):
        while (pair := assignment.next_item(app_env, with_judge, annotator)) is not None:
            served.add(assignment.own_assignment(app_env, pair.token, annotator).item_id)
            judgments.submit(app_env, pair.token, annotator, "B")
    assert served == drawn

    at = open_page("results")
    login_as(at, researcher)
    at.run()
    at.toggle(key=f"certainty:{with_judge}").set_value(True).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="certainty_judge").options == ["judge 'judge-1'"]
    assert any("least sure of, each weighted by 1 / its probability" in c.value for c in at.caption)
    assert any("No stop is offered here" in m.value for m in at.info)
    assert not any("confidence sequence of the win rate after" in c.value for c in at.caption)
