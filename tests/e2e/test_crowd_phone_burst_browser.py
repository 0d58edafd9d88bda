# ruff: noqa: E501  (JavaScript embedded in strings: kept as written)
"""A real Chromium and crowd participants: on a phone (390x844, touch) a study's task shows the pair as the
Annotate page does (after every submit the new pair starts at its top, output A is on the first screen or one
scroll away, no keyboard hint); and three participants, each in a browser of their own, go through their study
links at the same time, each to the completion code, on three distinct accounts (one judging with the
desktop shortcuts A and Ctrl+Enter). Screenshots:
screenshots/crowd-phone-*.png (look at them); the positions are printed (pytest -s)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from helpers.browser import settle

from annotations.campaigns import CampaignConfig, create_campaign
from annotations.crowd import StudyConfig, open_study, participant_outcomes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
SCREEN = PHONE["height"]
SENTENCE = "The council approved the new budget after a long debate about school funding and road repairs. "
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"  # the screen as the phone shows it

# Where things are, in px from the top of the viewport, and how far the page is scrolled (the window, and
# Streamlit's own scrolling frame).
GEOMETRY = """() => {
    const shown = e => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);
        return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
    const main = document.querySelector("[data-testid='stMain']");
    const frames = [document.scrollingElement, main, document.querySelector("[data-testid='stAppViewContainer']")];
    const heading = letter => [...main.querySelectorAll('h3')].find(h => h.innerText.trim() === letter);
    const choices = [...main.querySelectorAll('.st-key-choice_bar button')];
    return {
        scrolled: Math.max(Math.round(window.scrollY), ...frames.filter(Boolean).map(e => Math.round(e.scrollTop))),
        headingA: Math.round(heading('A').getBoundingClientRect().top),
        choicesBottom: Math.max(...choices.map(b => Math.round(b.getBoundingClientRect().bottom))),
        hints: [...main.querySelectorAll('kbd')].filter(shown).map(e => e.textContent.trim()),
    };
}"""


def _study(app, quota: int, training: bool) -> tuple[str, str]:
    """A campaign of summarization-shaped pairs (a long source, a short output and a 30-line one), opened as
    a Prolific study; (campaign id, link path without the participant's parameters)."""
    rows = []
    for i in range(6):
        source = f"Article {i}.\n" + "\n".join(SENTENCE * 2 for _ in range(12))
        short = f"Summary {i}, short: " + SENTENCE * 3
        long = f"Summary {i}, long:\n" + "\n".join(SENTENCE for _ in range(30))
        rows.append({"item_id": f"item-{i}", "system": "zebra", "output": short, "source": source})
        rows.append({"item_id": f"item-{i}", "system": "otter", "output": long, "source": source})
    csv = app.runs_dir.parent / "crowd-phone.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)

    def work(con):
        campaign_id = create_campaign(
            con,
            CampaignConfig(name="crowd phone", source_file=str(csv), system_a="zebra", system_b="otter", k=3),
        )
        config = StudyConfig(
            platform="prolific",
            consent_text="This study asks you to compare short texts.",
            completion_code="PH0NE1",
            screen_out_code="SCR33N",
            training=[{"item_id": "item-5", "gold": "tie", "explanation": "Either is fine."}]
            if training
            else [],
            qualification=0.0,
            quota=quota,
            attention_every=0,
        )
        opened = open_study(con, campaign_id, config)
        return campaign_id, f"/?study={opened.study_id}&key={opened.secret}"

    return app.prepare(work)


def _participant(number: int) -> str:
    return f"&PROLIFIC_PID=5f1e2d3c4b5a6978879600{number:02d}&STUDY_ID=st1&SESSION_ID=se{number}"


def _tap_choice_and_submit(page, label: str, tap: bool) -> None:
    choice = page.locator(".st-key-choice_bar button").filter(has_text=label)
    choice.tap() if tap else choice.click()
    page.locator("[data-testid='stBaseButton-primary']", has_text=label).wait_for()
    settle(page)
    submit = page.locator(".st-key-submit_bar button").filter(has_text="Submit")
    submit.tap() if tap else submit.click()


def _judged(page, done: int, quota: int) -> None:
    page.get_by_text(f"{done} of {quota} pairs judged").wait_for()
    settle(page)
    page.wait_for_timeout(300)  # the scroll script runs when its element is drawn


def test_phone_study_participant_gets_each_new_pair_at_its_top_without_keyboard_hints(app, browser):
    quota = 3
    _campaign_id, link = _study(app, quota=quota, training=False)
    app.start()
    phone = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=1)
    try:
        page = phone.new_page()
        page.set_default_timeout(30_000)
        page.goto(app.url + link + _participant(1))
        page.get_by_role("button", name="I agree").tap()
        page.get_by_role("button", name="Begin").tap()
        _judged(page, 0, quota)
        SCREENSHOTS.mkdir(exist_ok=True)
        first = page.evaluate(GEOMETRY)
        print("first pair", json.dumps(first))
        page.screenshot(path=str(SCREENSHOTS / "crowd-phone-first-pair.png"))
        assert first["hints"] == [], ("a keyboard hint on a touch screen", first)
        assert 0 <= first["headingA"] < 2 * SCREEN, first  # output A on the first screen or one scroll away
        for done, label in enumerate(["A is better", "B is better", "Tie"], 1):
            # read on to the bottom (scores, comment), then submit from there
            page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollTo(0, 10000)")
            page.wait_for_timeout(200)
            assert page.evaluate(GEOMETRY)["scrolled"] > SCREEN / 2
            _tap_choice_and_submit(page, label, tap=True)
            if done == quota:
                break
            _judged(page, done, quota)
            after = page.evaluate(GEOMETRY)
            print(f"after submit {done}", json.dumps(after))
            if done == 1:
                page.screenshot(path=str(SCREENSHOTS / "crowd-phone-after-submit.png"))
            assert after["scrolled"] <= 5, ("the new pair did not start at its top", after)
            assert 0 <= after["headingA"] < 2 * SCREEN, after
            assert after["hints"] == [], ("a keyboard hint on a touch screen", after)
            assert page.get_by_text(re.compile("Ctrl")).filter(visible=True).count() == 0
        page.get_by_text("Thank you! You have completed the study.").wait_for()
        assert page.get_by_text("PH0NE1").count() == 1
        page.screenshot(path=str(SCREENSHOTS / "crowd-phone-complete.png"))
        html = page.content().lower()
        assert "zebra" not in html and "otter" not in html, "a system name reached the browser"
    finally:
        phone.close()


def test_three_participants_through_their_links_at_the_same_time_each_to_the_completion_code(app, browser):
    quota, people = 2, 3
    campaign_id, link = _study(app, quota=quota, training=True)
    app.start()
    contexts = [browser.new_context(viewport={"width": 1200, "height": 1000}) for _ in range(people)]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(30_000)
        # every step is taken by all three before the next: their sessions, phases and pairs overlap
        for number, page in enumerate(pages):
            page.goto(app.url + link + _participant(number))
        for page in pages:
            page.get_by_role("button", name="I agree").click()
        for page in pages:
            page.get_by_role("button", name="Begin").click()
        for page in pages:
            page.get_by_text("Training pair 1 of 1").wait_for()
            _tap_choice_and_submit(page, "Tie", tap=False)
        for page in pages:
            page.get_by_role("button", name="Next").click()
        for done in range(quota):
            for number, page in enumerate(pages):
                _judged(page, done, quota)
                if number == 0 and done == 0:  # a desktop keeps the Annotate page's shortcuts
                    page.get_by_role("heading", name="Study").click()  # focus outside any input
                    page.keyboard.press("a")
                    page.get_by_text("Your choice: A is better").wait_for()
                    page.keyboard.press("Control+Enter")
                    continue
                _tap_choice_and_submit(page, ["A is better", "B is better", "Tie"][number], tap=False)
        for number, page in enumerate(pages):
            page.get_by_text("Thank you! You have completed the study.").wait_for()
            assert page.get_by_text("PH0NE1").count() == 1
            app.screenshot(page, f"crowd-burst-complete-{number}")
    finally:
        for context in contexts:
            context.close()
    app.stop()
    con = app.store()
    try:
        outcomes = participant_outcomes(con, campaign_id)
        assert len(outcomes) == people and set(outcomes.outcome) == {"complete"}
        assert list(outcomes.judged) == [quota] * people
        accounts = con.execute("SELECT count(*), count(DISTINCT user_id) FROM crowd_accounts").fetchone()
        assert accounts == (people, people)
        bound = con.execute("SELECT count(DISTINCT bound_session_id) FROM crowd_participants").fetchone()[0]
        assert bound == people
    finally:
        con.close()
