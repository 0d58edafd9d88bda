"""A real Chromium at a common laptop width (1280 x 800) on what a researcher and an annotator meet first
(issue 18, items 6 and 9): the verdict's figures are not cut, the Results tables show usernames and headers
in words and no "None", the Campaigns listing fits the page with one campaign's progress under it, Users
names who created an account; an annotator on a Portuguese campaign, while English ones are open too, reads
the menu in Portuguese, numbers written "2.000", and "Desfazer o último" whole. Screenshots:
screenshots/first-hour-*.png."""

from __future__ import annotations

import pytest
from helpers import run_folders
from helpers.browser import settle

from annotations.accounts import users
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging import assignment, judgments

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "velvet-harbor-pines-29"
NAMES = ("maria", "joao", "ana")
# Elements whose text overflows their box: what the browser draws cut, with an ellipsis or not.
CUT = """(selector) => [...document.querySelectorAll(selector)].flatMap(e => [e, ...e.querySelectorAll('*')])
    .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow !== 'visible')
    .map(e => e.innerText)"""
# The grids' accessible tables (a grid draws on a canvas): their header and cell texts, of the grids drawn
# now.
GRID_TEXT = """() => [...document.querySelectorAll("[data-testid='stDataFrame'] table")].map(t => ({
    headers: [...t.querySelectorAll('th')].map(h => h.textContent),
    cells: [...t.querySelectorAll('td')].map(c => c.textContent)}))"""
# A grid that scrolls sideways hides the columns past its right edge.
GRID_SCROLLS = """() => [...document.querySelectorAll("[data-testid='stDataFrame'] .dvn-scroller")]
    .map(s => s.scrollWidth > s.clientWidth + 1)"""


def _prepare(app, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("FT_ADMIN_PASSWORD", app.admin_password)

    def work(con):
        users.ensure_admin(con, printer=lambda line: None)
        (admin,) = con.execute("SELECT user_id FROM users WHERE username = 'admin'").fetchone()
        people = [users.create_user(con, n, PASSWORD, "annotator", created_by=admin) for n in NAMES]
        run = run_folders.write_run_folder(app.runs_dir / "summaries-of-news-articles-lora-r16", n_items=8)
        judged = create_campaign(
            con, CampaignConfig(name="Summaries", run_dir=str(run), k=2), created_by=admin
        )
        for number, person in enumerate(people):
            for i in range(5):
                pair = assignment.next_item(con, judged, person.user_id)
                if pair is None:
                    break
                choice = "tie" if i % 3 == 0 else "AB"[(number + i) % 2]
                judgments.submit(con, pair.token, person.user_id, choice, {"fluency": {"A": 3, "B": 4}})
        create_campaign(con, CampaignConfig(name="Resumos", run_dir=str(run), k=1, language="pt"))
        create_campaign(con, CampaignConfig(name="Stories", run_dir=str(run), k=1))  # the newest: English
        return {p.user_id: p.username for p in people}

    return app.prepare(work)


def _pick(page, option: str) -> None:
    page.get_by_role("combobox").first.click()
    page.get_by_role("option", name=option).first.click()
    settle(page, first_wait_ms=300)


def _tab(page, name: str) -> dict:
    page.get_by_role("tab", name=name).click()
    settle(page, first_wait_ms=500)
    grids = page.evaluate(GRID_TEXT)
    return {
        "headers": [h for g in grids for h in g["headers"]],
        "cells": [c for g in grids for c in g["cells"]],
    }


def test_first_hour_pages_at_a_laptop_width(app, browser_page, monkeypatch):
    ids = _prepare(app, monkeypatch)
    app.start()
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    app.login(page, "admin", app.admin_password)

    # Results: the verdict's figures whole; the tables in words, by username, without None
    page.get_by_role("link", name="Results").click()
    settle(page, first_wait_ms=300)
    _pick(page, "Summaries")
    page.get_by_text("How many more judgments?").wait_for(timeout=60_000)
    page.get_by_text("Computing statistics").wait_for(state="detached", timeout=60_000)
    settle(page, first_wait_ms=500)
    interval = page.locator("[data-testid='stMetricValue']").nth(1).inner_text()
    assert "–" in interval and "%" in interval.split("–")[1], interval
    assert page.evaluate(CUT, "[data-testid='stMetricValue']") == []
    app.screenshot(page, "first-hour-results-verdict")
    seen = {}
    for tab in ("Agreement", "Metrics vs humans", "Annotators"):
        seen[tab] = _tab(page, tab)
        if tab == "Metrics vs humans":  # the answer first, in one sentence and one table
            page.get_by_text("Do the automatic metrics track the humans?").wait_for()
        app.screenshot(page, f"first-hour-results-{tab.split()[0].lower()}")
        cells = seen[tab]["cells"]
        assert not {"None", "nan", "NaN"} & set(cells), tab
        assert not set(ids) & set(cells), tab
        assert not [h for h in seen[tab]["headers"] if "_" in h], (tab, seen[tab]["headers"])
    assert {"95% CI low", "95% CI high", "Krippendorff's alpha"} <= set(seen["Agreement"]["headers"])
    assert {"Annotator", "Median time per pair (s)", "Left chosen (p)"} <= set(seen["Annotators"]["headers"])
    assert set(NAMES) <= set(seen["Annotators"]["cells"])

    # Campaigns: the listing fits (no column past the right edge) and one campaign's progress is under it
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_text("Systems (A vs B)").first.wait_for(state="attached")
    _pick(page, "Summaries")
    page.get_by_text("have their k = 2 judgments").wait_for()
    settle(page, first_wait_ms=500)
    app.screenshot(page, "first-hour-campaigns")
    assert page.evaluate(GRID_SCROLLS)[0] is False
    headers = page.evaluate(GRID_TEXT)[0]["headers"]
    assert headers[-2:] == ["Systems (A vs B)", "Outputs from"], headers  # every column, the last ones too
    assert page.get_by_text("at the pace so far").count() == 1

    # Users: who created each account, by name
    page.get_by_role("link", name="Users").click()
    page.get_by_text("Create an account").wait_for()
    settle(page, first_wait_ms=500)
    accounts = page.evaluate(GRID_TEXT)[0]
    assert (
        "Created by" in accounts["headers"] and accounts["cells"].count("admin") >= 4
    )  # its name, 3 created
    app.screenshot(page, "first-hour-users")
    page.context.clear_cookies()  # another person, in a fresh tab without the researcher's session cookie

    # An annotator picks the Portuguese campaign while English ones are open: the menu follows it
    app.login(page, "maria", PASSWORD)
    page.get_by_role("heading", name="Annotate").wait_for()
    _pick(page, "Resumos")
    page.get_by_role("heading", name="Anotar").wait_for()
    sidebar = page.get_by_test_id("stSidebar")
    for text in ("Anotar", "Senha", "Conectado como maria (anotador)", "Sair"):
        sidebar.get_by_text(text, exact=True).first.wait_for()
    assert sidebar.get_by_text("Log out").count() == 0 and sidebar.get_by_text("Annotate").count() == 0
    page.get_by_text("Comentário (opcional, no máximo 2.000 caracteres)").wait_for()
    page.get_by_role("button", name="A é melhor").click()
    settle(page)
    page.get_by_role("button", name="Enviar").click()
    page.get_by_text("Salvo.").wait_for()
    undo = page.get_by_role("button", name="Desfazer o último")
    undo.wait_for()
    settle(page, first_wait_ms=300)
    assert page.evaluate(CUT, "[data-testid='stMain'] button") == []
    assert "Desfazer o último" in undo.inner_text()
    app.screenshot(page, "first-hour-annotate-pt")
    sidebar.get_by_role("link", name="Senha").click()  # the page's box is gone there: the tab remembers
    page.get_by_role("heading", name="Senha").wait_for()
    sidebar.get_by_text("Sair", exact=True).wait_for()
    page.get_by_text("Nova senha (pelo menos 12 caracteres)").wait_for()
    app.screenshot(page, "first-hour-password-pt")
