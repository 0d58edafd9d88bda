"""A real Chromium on the Adjudicate page (pages/adjudicate.py): the disputed items and the pair are drawn
without any system's name anywhere in the page (its text and its HTML), before and after a decision, and the
decision is stored. Screenshots: screenshots/adjudicate-*.png (look at them)."""

from __future__ import annotations

import pytest
from helpers import run_folders
from helpers.small_campaigns import fill_decided

from annotations.judging import adjudication

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SYSTEMS = ("zephyr-base-7b", "orchid-tuned-7b")  # names that no other word on the page contains


def _campaign(app):
    def work(con):
        run_dir = run_folders.write_run_folder(
            app.runs_dir / "run-adj",
            n_items=6,
            systems=SYSTEMS,
            output_text=lambda system, i: f"Answer number {i}, written by one of two models.",
        )

        def decide(item_id, annotator):
            split = int(item_id.split("-")[-1]) < 3 and annotator == "ann-2"
            return SYSTEMS[0] if split else SYSTEMS[1]

        scores = {SYSTEMS[0]: 2, SYSTEMS[1]: 5}
        return fill_decided(
            con,
            run_dir,
            decide=decide,
            n_annotators=3,
            k=3,
            scores=scores,
            system_a=SYSTEMS[0],
            system_b=SYSTEMS[1],
        )

    return app.prepare(work)


def _names_nowhere(page) -> None:
    text, html = page.inner_text("body"), page.content()
    for name in SYSTEMS:
        assert name not in text and name not in html, name


def test_adjudicate_page_is_blind(app, browser_page):
    campaign_id = _campaign(app)
    app.start()
    page = app.login(browser_page, "admin", app.admin_password)
    page.get_by_role("link", name="Adjudicate").click()
    page.get_by_text("Which output is better?").wait_for(timeout=60_000)
    page.get_by_text("Answer number").first.wait_for()
    _names_nowhere(page)
    app.screenshot(page, "adjudicate-pair")
    page.get_by_role("button", name="A is better").click()
    page.get_by_text("saved").wait_for(timeout=30_000)
    page.get_by_text("Which output is better?").wait_for()
    # the box names the item now shown (the next one), not the one just decided
    page.get_by_text("Answer number 1,").first.wait_for()
    shown = page.evaluate(
        """() => { const box = [...document.querySelectorAll("[data-testid='stSelectbox']")].pop();
                   return box.querySelector('input') ? box.querySelector('input').value
                        + ' ' + box.textContent : box.textContent; }"""
    )
    assert "item-001" in shown and "item-000" not in shown, shown
    _names_nowhere(page)
    app.screenshot(page, "adjudicate-after-decision")

    # Results: the verdict with the adjudicated label
    page.get_by_role("link", name="Results").click()
    page.get_by_text("Computing statistics").wait_for(state="detached", timeout=120_000)
    page.get_by_text("Annotator competence and adjudicated labels").click()
    page.get_by_text("win rate, as chosen").wait_for(timeout=120_000)
    page.get_by_text("Use adjudicated labels where they exist (1 item)").click()
    # the sensitivity table gains the adjudicated rows (a canvas grid: its cells are attached, not visible)
    page.get_by_text("all participants, adjudicated labels").first.wait_for(state="attached", timeout=60_000)
    # the choice drives the whole page: the header (and the verdict in plain words) say it is on
    page.get_by_text("Who counts: with 1 adjudicated item").first.wait_for(timeout=120_000)
    page.get_by_text("Computing statistics").wait_for(state="detached", timeout=120_000)
    page.get_by_text("Who counts: with 1 adjudicated item").first.scroll_into_view_if_needed()
    app.screenshot(page, "results-who-counts-verdict")
    intervals = page.evaluate(
        """() => [...document.querySelectorAll("[data-testid='stMetricValue']")].map(e => e.textContent)
                 .filter(t => t.includes(' – '))"""
    )
    # the headline's item interval (first) equals the block's figure (last): one choice for the page
    assert len(intervals) >= 2 and intervals[0] == intervals[-1], intervals
    page.get_by_text("win rate, as chosen").scroll_into_view_if_needed()
    app.screenshot(page, "results-who-counts")
    app.stop()
    con = app.store()
    decided = adjudication.adjudications_frame(con, campaign_id)
    assert len(decided) == 1 and decided["winner"].iloc[0] in SYSTEMS
