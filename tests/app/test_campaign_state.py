"""The campaign's stopping rule and sequential state on the Campaigns page (pages/campaign_state.py, and
its two fields in pages/campaign_form.py), with AppTest on real stores: set on the campaign when it is
created, shown beside the progress with the planner, editable there, and the reason of a campaign that
closed itself."""

from __future__ import annotations

import dataclasses
import math
from statistics import NormalDist

import pytest
from helpers import synthetic
from helpers.login_as import login_as
from helpers.run_folders import write_run_folder

from annotations.campaigns import CampaignConfig, campaign_config, create_campaign, list_campaigns
from annotations.campaigns.queries import campaign_status
from annotations.judging import assignment, judgments


def _captions(at) -> list[str]:
    """The captions as shown (escape_markdown's backslashes taken out)."""
    return [c.value.replace("\\", "") for c in at.caption]


def _campaigns_page(open_page, researcher):
    at = open_page("campaigns")
    login_as(at, researcher)
    return at.run()


def test_the_stopping_rule_is_set_when_the_campaign_is_created(open_page, app_env, researcher):
    at = _campaigns_page(open_page, researcher)
    assert not at.exception, at.exception
    field = {f.name: f for f in dataclasses.fields(CampaignConfig)}["equivalence_margin"]
    margin = at.number_input(key="equivalence_margin")
    assert margin.value == field.default and (margin.min, margin.max) == (0.0, 0.5)
    coin_flip = math.ceil((NormalDist().inv_cdf(0.975) * 0.5 / 0.05) ** 2)
    assert any(f"about {coin_flip:,} human-judged items at most" in c for c in _captions(at))
    margin.set_value(0.1).run()
    at.checkbox(key="close_when_decided").check().run()
    at.button(key="create").click().run()
    assert not at.exception and "created" in at.success[0].value
    config = campaign_config(app_env, list_campaigns(app_env).campaign_id.iloc[0])
    assert config.equivalence_margin == 0.1 and config.close_when_decided


def test_the_overview_shows_the_state_and_the_planner_and_saves_the_rule(
    open_page, app_env, researcher, tmp_path
):
    run_dir = write_run_folder(tmp_path / "runs" / "run-2", n_items=24)
    cid = synthetic.fill_store(app_env, run_dir, n_annotators=4, name="judged campaign")
    at = _campaigns_page(open_page, researcher)
    assert not at.exception, at.exception
    states = [m.value.replace("\\", "") for m in list(at.success) + list(at.info)]
    assert any(
        s.startswith("After 24 items: ") and ("you may stop" in s or "Keep going" in s) for s in states
    )
    assert any("±δ = 0.05 (Waudby-Smith & Ramdas 2024): every look is valid" in c for c in _captions(at))
    plan = next(c for c in _captions(at) if c.startswith("For a 95% interval of ±5%"))
    assert "(from the 24 judged so far)" in plan and "with the" in plan  # the run folder's scores: a proxy
    at.number_input(key=f"plan_target:{cid}").set_value(0.1).run()
    assert any(c.startswith("For a 95% interval of ±10%") for c in _captions(at))
    at.number_input(key=f"margin:{cid}").set_value(0.2)
    at.checkbox(key=f"close_when_decided:{cid}").check()
    at.button[[b.label for b in at.button].index("Save the stopping rule")].click().run()
    assert not at.exception, at.exception
    config = campaign_config(app_env, cid)
    assert config.equivalence_margin == 0.2 and config.close_when_decided
    assert any("±δ = 0.2 (Waudby-Smith" in c for c in _captions(at))


@pytest.fixture
def closed_itself(app_env, tmp_path):
    run_dir = write_run_folder(tmp_path / "runs" / "run-3", n_items=30)
    cid = create_campaign(
        app_env, CampaignConfig(name="stops", run_dir=str(run_dir), k=1, close_when_decided=True)
    )
    while (pair := assignment.next_item(app_env, cid, "ann-1")) is not None:
        (left,) = app_env.execute(
            "SELECT shown_left FROM assignments WHERE assignment_id = ?", [pair.token]
        ).fetchone()
        judgments.submit(app_env, pair.token, "ann-1", "A" if left == "finetuned" else "B")
    return cid


def test_a_campaign_that_closed_itself_says_why_and_reopens(open_page, researcher, app_env, closed_itself):
    reason = campaign_status(app_env, closed_itself).reason
    assert reason.startswith("closed automatically: decided — the fine-tune is better")
    at = _campaigns_page(open_page, researcher)
    at.selectbox[0].set_value(closed_itself).run()
    assert f"Closed: {reason}." in _captions(at)
    at.button(key="reopen_campaign").click().run()
    assert not at.exception, at.exception
    assert any("no longer closes by itself" in s.value for s in at.success)
    assert campaign_status(app_env, closed_itself).status == "active"
    assert not campaign_config(app_env, closed_itself).close_when_decided


def test_annotators_of_a_campaign_that_closed_itself_are_told_no_campaign_is_open(
    open_page, annotator, closed_itself
):
    at = open_page("annotate")
    login_as(at, annotator)
    at.run()
    assert not at.exception, at.exception
    assert any("No campaign is open right now" in m.value for m in at.info)
