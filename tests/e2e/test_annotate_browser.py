"""A real Chromium: an annotator judges pairs with the keyboard, edits one; the store holds the right winners.

Also: an output holding <script>, HTML and Markdown shows as plain text, and an annotator cannot reach a
researcher page by its URL. Screenshots go to screenshots/ (annotate.png, untrusted.png).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.browser import settle
from helpers.run_folders import write_run_folder

from annotations.accounts.users import create_user
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging.judgments import judgments_frame

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


# Distinctive system names: if either ever reaches the browser, the page is not blind.
SYSTEMS = ("zebra", "otter")
WORD = {"zebra": "alpha", "otter": "omega"}


def _campaign(app, output_text, n_items=5, k=1):
    def work(con):
        run = write_run_folder(
            app.runs_dir / "run-e2e", n_items=n_items, systems=SYSTEMS, output_text=output_text
        )
        cid = create_campaign(
            con, CampaignConfig(name="e2e", run_dir=str(run), system_a="zebra", system_b="otter", k=k)
        )
        create_user(con, "anna", "velvet-harbor-pines-29", "annotator")
        return cid

    return app.prepare(work)


def _outputs(page) -> tuple[str, str]:
    columns = page.locator("[data-testid='stColumn']").filter(has=page.locator("h3"))
    return columns.nth(0).locator("[data-testid='stText']").inner_text(), columns.nth(1).locator(
        "[data-testid='stText']"
    ).inner_text()


def _next_outputs(page, previous: str | None) -> tuple[str, str]:
    """The two outputs once the page has settled on a pair other than `previous`."""
    for _ in range(100):
        settle(page)
        text_a, text_b = _outputs(page)
        if text_a != previous:
            return text_a, text_b
        page.wait_for_timeout(100)
    raise AssertionError(f"the pair did not change after {previous!r}")


def _system_of(text: str) -> str:
    return next(system for system, word in WORD.items() if word in text)


def test_annotator_judges_with_the_keyboard_and_edits_one(app, browser_page):
    cid = _campaign(app, lambda system, i: f"Summary {i}, variant {WORD[system]}.")
    app.start()
    page = app.login(browser_page, "anna", "velvet-harbor-pines-29")
    page.get_by_role("heading", name="Annotate").wait_for()
    expected, text_a = {}, None
    for number, key in enumerate(["a", "b", "t", "a"], 1):
        page.get_by_text(f"{number - 1} / 5 judged").wait_for()
        text_a, text_b = _next_outputs(page, text_a)
        item = re.search(r"Summary (\d+)", text_a).group(1)
        expected[item] = {"a": _system_of(text_a), "b": _system_of(text_b), "t": "tie"}[key]
        page.get_by_role("heading", name="Annotate").click()  # focus outside any input: letters are shortcuts
        page.keyboard.press(key)
        page.get_by_text(re.compile(r"Your choice: (A is better|B is better|Tie)")).wait_for()
        if number == 1:
            app.screenshot(page, "annotate")
        page.keyboard.press("Control+Enter")
        page.get_by_text(f"{number} / 5 judged").wait_for()
        settle(page)
    last_judged = text_a

    # Edit the last judgment: undo (U), choose B instead, save.
    page.get_by_role("heading", name="Annotate").click()
    page.keyboard.press("u")
    page.get_by_text("You are editing an earlier judgment").wait_for()
    settle(page)
    text_a, text_b = _outputs(page)
    assert text_a == last_judged  # "undo" reopened the pair judged last
    edited_item = re.search(r"Summary (\d+)", text_a).group(1)
    page.get_by_role("heading", name="Annotate").click()
    page.keyboard.press("b")
    page.get_by_text("Your choice: B is better").wait_for()
    page.keyboard.press("Control+Enter")
    page.get_by_text("Edit saved (version 2).").wait_for()
    expected[edited_item] = _system_of(text_b)

    html = page.content().lower()
    assert not any(system in html for system in SYSTEMS), "a system name reached the browser"
    assert not any(system in page.url for system in SYSTEMS)
    app.stop()

    con = app.store()
    frame = judgments_frame(con, cid).set_index("item_id")
    assert len(frame) == 4
    for item, winner in expected.items():
        assert frame.loc[f"item-{int(item):03d}", "winner"] == winner, (
            item,
            expected,
            frame[["shown_left", "choice", "winner", "version"]].to_dict(),
        )
    assert frame.loc[f"item-{int(edited_item):03d}", "version"] == 2
    assert (frame.version == 1).sum() == 3
    con.close()


def test_untrusted_output_is_text_and_annotators_cannot_open_researcher_pages(app, browser_page):
    evil = (
        "<script>window.pwned=1;alert('x')</script> **bold** <b>tag</b> [link](http://example.com) <img "
        'src=x onerror="window.pwned=2">'
    )
    _campaign(app, lambda system, i: evil + f" ({WORD[system]})", n_items=2)
    app.start()
    dialogs = []
    browser_page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page = app.login(browser_page, "anna", "velvet-harbor-pines-29")
    shown = page.locator("[data-testid='stText']").filter(
        has_text="<script>window.pwned=1;alert('x')</script>"
    )
    shown.first.wait_for()
    assert shown.count() == 2
    app.screenshot(page, "untrusted")
    assert page.evaluate("window.pwned === undefined")
    assert dialogs == []
    main = page.locator("[data-testid='stMain']")
    assert main.locator("img[src='x']").count() == 0
    assert main.locator("strong", has_text="bold").count() == 0
    assert main.locator("b", has_text="tag").count() == 0
    assert main.locator("a[href='http://example.com']").count() == 0

    # The menu offers an annotator nothing else ...
    assert page.locator("[data-testid='stSidebarNav']").get_by_text("Campaigns").count() == 0
    # ... and the researcher page's address leads back to Annotate, never to the page (the login survives).
    page.goto(f"{app.url}/campaigns")
    page.get_by_role("heading", name="Annotate").wait_for()
    assert page.get_by_text("New campaign").count() == 0
    # Control: a researcher does reach it.
    app.log_out(page)
    page = app.login(page, "admin", app.admin_password, path="campaigns")
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_text("New campaign").wait_for()


def test_u_after_the_last_pair_edits_the_last_judgment(app, browser_page):
    """The keyboard path of the undo: after the last pair the page says nothing is left, and U still reopens
    the last judgment; B and Ctrl+Enter save version 2."""
    cid = _campaign(app, lambda system, i: f"Summary {i}, variant {WORD[system]}.", n_items=2)
    app.start()
    page = app.login(browser_page, "anna", "velvet-harbor-pines-29")
    text_a = None
    for number in (1, 2):
        page.get_by_text(f"{number - 1} / 2 judged").wait_for()
        text_a, _ = _next_outputs(page, text_a)
        page.get_by_role("heading", name="Annotate").click()
        page.keyboard.press("a")
        page.get_by_text("Your choice: A is better").wait_for()
        page.keyboard.press("Control+Enter")
        page.get_by_text(f"{number} / 2 judged").wait_for()
    page.get_by_text("Nothing left to judge").wait_for()
    settle(page)
    page.get_by_role("heading", name="Annotate").click()
    page.keyboard.press("u")
    page.get_by_text("You are editing an earlier judgment").wait_for()
    settle(page)
    edited_a, edited_b = _outputs(page)
    assert edited_a == text_a  # the pair judged last
    page.get_by_role("heading", name="Annotate").click()
    page.keyboard.press("b")
    page.get_by_text("Your choice: B is better").wait_for()
    page.keyboard.press("Control+Enter")
    page.get_by_text("Edit saved (version 2).").wait_for()
    page.get_by_text("Nothing left to judge").wait_for()
    app.stop()

    con = app.store()
    frame = judgments_frame(con, cid).set_index("item_id")
    number = int(re.search(r"Summary (\d+)", edited_a).group(1))
    item = f"item-{number:03d}"
    assert frame.loc[item, "version"] == 2 and frame.loc[item, "winner"] == _system_of(edited_b)
    con.close()
