# ruff: noqa: E501  (JavaScript or code run in a subprocess, embedded in strings: kept as written)
"""A real Chromium at phone size (390x844, touch): the annotate page works with a thumb.

After every submit the next pair starts at its top (Streamlit's frame scrolled back up), output A's heading is
on the first screen, the choice buttons within the first two, and no keyboard hint ("Ctrl + Enter") shows on a
touch screen; tapping a choice leaves the view where it is; long texts are folded until "Show the whole
texts". On a desktop the hints stay and Ctrl+Enter still submits. Screenshots:
screenshots/phone-before-submit.png and phone-after-submit.png (look at them); the positions are printed
(pytest -s).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from helpers.browser import settle

from annotations.accounts.users import create_user
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging.judgments import judgments_frame

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "phone-kestrel-meadow-31"
PHONE = {"width": 390, "height": 844}
SCREEN = PHONE["height"]
SYSTEMS = ("zebra", "otter")  # distinctive: if either reaches the browser, the page is not blind
SENTENCE = "The council approved the new budget after a long debate about school funding and road repairs. "
LONG_LINES = 30
# the screen as the phone shows it (app.screenshot would stretch the viewport to 2,000 px)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def _campaign(app, n_items: int = 4) -> str:
    """Pairs shaped like a summarization study: a long source, then a short output and a 30-line one."""
    rows = []
    for i in range(n_items):
        source = f"Article {i}.\n" + "\n".join(SENTENCE * 2 for _ in range(12))
        short = f"Summary {i}, short: " + SENTENCE * 3
        long = f"Summary {i}, long:\n" + "\n".join(SENTENCE for _ in range(LONG_LINES))
        rows.append({"item_id": f"item-{i}", "system": "zebra", "output": short, "source": source})
        rows.append({"item_id": f"item-{i}", "system": "otter", "output": long, "source": source})
    csv = app.runs_dir.parent / "phone.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)

    def work(con):
        config = CampaignConfig(
            name="phone study", source_file=str(csv), system_a="zebra", system_b="otter", k=2
        )
        cid = create_campaign(con, config)
        create_user(con, "pia", PASSWORD, "annotator")
        create_user(con, "dan", PASSWORD, "annotator")
        return cid

    return app.prepare(work)


# Where things are, in px from the top of the viewport, and how far the page is scrolled (the window, and
# Streamlit's own scrolling frame: on a phone the page scrolls inside stMain).
GEOMETRY = """() => {
    const shown = e => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);
        return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
    const main = document.querySelector("[data-testid='stMain']");
    const frames = [document.scrollingElement, main, document.querySelector("[data-testid='stAppViewContainer']")];
    const top = e => Math.round(e.getBoundingClientRect().top);
    const bottom = e => Math.round(e.getBoundingClientRect().bottom);
    const heading = letter => [...main.querySelectorAll('h3')].find(h => h.innerText.trim() === letter);
    const buttons = [...main.querySelectorAll('button')];
    const choices = ['A is better', 'B is better', 'Tie', 'Both bad'].map(t => buttons.find(b => b.innerText.trim().startsWith(t)));
    const box = letter => main.querySelector(`[class*='-output-${letter}']`);
    return {
        scrolled: Math.max(Math.round(window.scrollY), ...frames.filter(Boolean).map(e => Math.round(e.scrollTop))),
        headingA: top(heading('A')), headingB: top(heading('B')),
        boxA: Math.round(box('A').getBoundingClientRect().height), boxB: Math.round(box('B').getBoundingClientRect().height),
        choicesTop: Math.min(...choices.map(top)), choicesBottom: Math.max(...choices.map(bottom)),
        submitTop: top(buttons.find(b => b.innerText.trim().startsWith('Submit'))),
        submitBottom: bottom(buttons.find(b => b.innerText.trim().startsWith('Submit'))),
        hints: [...main.querySelectorAll('kbd')].filter(shown).map(e => e.textContent.trim()),
    };
}"""


SCROLLERS = """() => [...document.querySelectorAll('*')].filter(e => e.scrollHeight > e.clientHeight + 20 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowY)).map(e => [e.tagName, e.dataset.testid, e.className.slice(0, 60), e.scrollTop, e.scrollHeight, e.clientHeight])"""  # noqa: E501


def _geometry(page) -> dict:
    return page.evaluate(GEOMETRY)


def _scroll_frame(page, y: int) -> None:
    """Scroll Streamlit's frame as a thumb would (to the bottom for a large y)."""
    page.evaluate("(y) => document.querySelector(\"[data-testid='stMain']\").scrollTo(0, y)", y)
    page.wait_for_timeout(200)


def _judged(page, number: int, total: int = 4) -> None:
    page.get_by_text(f"{number} / {total} judged").wait_for()
    settle(page)
    page.wait_for_timeout(300)  # the scroll script runs when its element is drawn


def test_phone_pairs_start_at_their_top_fold_long_texts_and_hide_keyboard_hints(app, browser):
    cid = _campaign(app)
    app.start()
    phone = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=1)
    page = phone.new_page()
    page.set_default_timeout(30_000)
    app.login(page, "pia", PASSWORD)
    SCREENSHOTS.mkdir(exist_ok=True)
    _judged(page, 0)
    assert page.evaluate("matchMedia('(hover: none) and (pointer: coarse)').matches"), "no touch emulation"
    first = _geometry(page)
    print("first pair", json.dumps(first))
    assert first["headingA"] < SCREEN and first["choicesBottom"] <= 2 * SCREEN, first
    assert first["hints"] == [], first

    # Long texts fold: the 30-line output gets a box of a third of the screen or less, until "Show the whole
    # texts".
    assert first["boxB"] <= SCREEN * 0.31 or first["boxA"] <= SCREEN * 0.31, first
    page.get_by_text("Show the whole texts").click()
    settle(page)
    unfolded = _geometry(page)
    assert max(unfolded["boxA"], unfolded["boxB"]) > LONG_LINES * 20, unfolded  # every line of the long one
    page.get_by_text("Show the whole texts").click()  # fold again
    settle(page)

    for number, label in enumerate(["A is better", "B is better", "Tie"], 1):
        # tapping a choice is a rerun of the same pair: the view stays where the annotator is
        _scroll_frame(page, 400)
        print("scrolled to 400", json.dumps(_geometry(page)), page.evaluate(SCROLLERS))
        page.get_by_role("button", name=label).tap()
        page.locator("[data-testid='stBaseButton-primary']", has_text=label).wait_for()
        settle(page)
        kept = _geometry(page)
        assert kept["scrolled"] >= 350, ("a choice scrolled the page away", kept)
        _scroll_frame(page, 10_000)  # read on to the scores and the comment at the bottom
        before = _geometry(page)
        if number == 1:
            print("before submit (scrolled to the bottom)", json.dumps(before))
            page.screenshot(path=str(SCREENSHOTS / "phone-before-submit.png"))
        assert before["scrolled"] > SCREEN, before
        assert 0 <= before["submitTop"] and before["submitBottom"] <= SCREEN, before  # Submit in reach
        page.get_by_role("button", name="Submit").tap()
        _judged(page, number)
        after = _geometry(page)
        print(f"after submit {number}", json.dumps(after))
        if number == 1:
            page.screenshot(path=str(SCREENSHOTS / "phone-after-submit.png"))
        assert after["scrolled"] <= 5, ("the new pair did not start at its top", after)
        assert 0 <= after["headingA"] < SCREEN, after
        assert 0 <= after["choicesTop"] and after["choicesBottom"] <= 2 * SCREEN, after
        assert after["hints"] == [], ("a keyboard hint on a touch screen", after)
        assert page.get_by_text(re.compile("Ctrl")).filter(visible=True).count() == 0
    html = page.content().lower()
    assert not any(system in html for system in SYSTEMS), "a system name reached the browser"
    phone.close()

    # A desktop keeps its hints and its shortcuts.
    desktop = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = desktop.new_page()
    page.set_default_timeout(30_000)
    app.login(page, "dan", PASSWORD)
    _judged(page, 0)
    assert "Ctrl + Enter" in _geometry(page)["hints"]
    page.get_by_role("heading", name="Annotate").click()  # focus outside any input: letters are shortcuts
    page.keyboard.press("b")
    page.get_by_text("Your choice: B is better").wait_for()
    page.keyboard.press("Control+Enter")
    _judged(page, 1)
    desktop.close()
    app.stop()

    con = app.store()
    frame = judgments_frame(con, cid)
    assert len(frame) == 4 and frame.choice.tolist().count("tie") == 1, frame[["choice", "winner"]]
    con.close()
