"""A real Chromium: a Prolific participant arrives by the study link, consents, passes training, judges to
completion (an attention check on the way) and sees the completion code; a reload mid-task resumes where they
were; the same link copied into a fresh browser is refused and acts in nobody's name."""

from __future__ import annotations

import re

import pytest
from helpers.browser import settle
from helpers.run_folders import write_run_folder

from annotations.campaigns import CampaignConfig, create_campaign
from annotations.crowd import StudyConfig, open_study, participant_outcomes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PARAMS = "&PROLIFIC_PID=5f1e2d3c4b5a69788796a5b4&STUDY_ID=st1&SESSION_ID=se1"


def _study(app) -> tuple[str, str]:
    def work(con):
        run = write_run_folder(app.runs_dir / "run-1", n_items=6, systems=("zebra", "otter"))
        campaign_id = create_campaign(
            con,
            CampaignConfig(
                name="crowd",
                run_dir=str(run),
                system_a="zebra",
                system_b="otter",
                k=1,
                gold_rate=0.0,
                repeat_rate=0.0,
            ),
        )
        config = StudyConfig(
            platform="prolific",
            consent_text="This study asks you to compare short texts. Your answers are stored without your "
            "name.",
            completion_code="C0MPL3",
            screen_out_code="SCR33N",
            training=[
                {"item_id": "item-000", "gold": "tie", "explanation": "Both outputs say the same thing."}
            ],
            qualification=1.0,
            quota=3,
            attention_every=2,
        )
        opened = open_study(con, campaign_id, config)
        return campaign_id, f"/?study={opened.study_id}&key={opened.secret}{PARAMS}"

    return app.prepare(work)


def _choose_and_submit(page, label: str) -> None:
    """Click a choice of the pair's choice bar (as on the Annotate page), wait for it to show, then Submit."""
    page.locator(".st-key-choice_bar button").filter(has_text=label).click()
    page.locator("[data-testid='stBaseButton-primary']", has_text=label).wait_for()
    settle(page)
    page.locator(".st-key-submit_bar button").filter(has_text="Submit").click()
    settle(page)


def test_prolific_participant_from_link_to_completion_code(app, browser, browser_page):
    campaign_id, path = _study(app)
    app.start()
    page = browser_page
    page.goto(app.url + path)
    page.get_by_role("button", name="I agree").wait_for()
    app.screenshot(page, "crowd-consent")
    page.get_by_role("button", name="I agree").click()
    page.get_by_role("button", name="Begin").click()
    page.get_by_text("Training pair 1 of 1").wait_for()
    _choose_and_submit(page, "Tie")
    page.get_by_text("Correct.").wait_for()
    app.screenshot(page, "crowd-training-feedback")
    page.get_by_role("button", name="Next").click()
    page.get_by_text("0 of 3 pairs judged").wait_for()
    _choose_and_submit(page, "A is better")
    page.get_by_text("1 of 3 pairs judged").wait_for()
    first_pair = page.locator("[data-testid='stText']").all_inner_texts()

    page.reload()  # mid-task: the same participant, the same pair, nothing lost
    page.get_by_text("1 of 3 pairs judged").wait_for()
    settle(page)
    assert page.locator("[data-testid='stText']").all_inner_texts() == first_pair
    app.screenshot(page, "crowd-task-after-reload")
    _choose_and_submit(page, "B is better")

    page.get_by_text("This is an attention check").first.wait_for()
    instruction = page.get_by_text("This is an attention check").first.inner_text()
    asked = re.search(r"“(.+)”", instruction).group(1)
    app.screenshot(page, "crowd-attention-check")
    _choose_and_submit(page, asked)
    page.get_by_text("2 of 3 pairs judged").wait_for()
    _choose_and_submit(page, "Tie")
    page.get_by_text("Thank you! You have completed the study.").wait_for()
    assert page.get_by_text("C0MPL3").count() == 1
    back = page.get_by_role("link", name="Back to the panel")
    assert back.get_attribute("href") == "https://app.prolific.com/submissions/complete?cc=C0MPL3"
    app.screenshot(page, "crowd-complete")

    # the link copied into another browser (no cookie): refused, and no code, no account
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        stranger = other.new_page()
        stranger.goto(app.url + path)
        stranger.get_by_text("You have already started this study in another browser").wait_for()
        assert stranger.get_by_text("C0MPL3").count() == 0
        app.screenshot(stranger, "crowd-copied-link-refused")
    finally:
        other.close()
    app.stop()
    con = app.store()
    try:
        row = participant_outcomes(con, campaign_id).iloc[0]
        assert (row.outcome, row.judged, row.attention_total, row.attention_passed) == ("complete", 3, 1, 1)
        assert row.refused_arrivals == 1
        assert con.execute("SELECT count(*) FROM crowd_accounts").fetchone()[0] == 1
    finally:
        con.close()
