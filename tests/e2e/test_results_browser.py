"""A real Chromium on the Results page and on the slide deck: the verdict and every tab are drawn, the
Agreement tab of a one-annotator campaign says what is needed, one click downloads the deck, and every
chart of the deck's single HTML file renders (naturalWidth > 0). Screenshots: screenshots/results-*.png,
screenshots/slides-*.png."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from helpers import run_folders, synthetic

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SETTLED = """() => !document.body.innerText.includes('Computing statistics')
    && document.querySelectorAll("[data-stale='true']").length === 0"""  # this run's elements only, all drawn
EVERY_IMAGE_RENDERED = """() => Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"""


def _campaigns(app):
    def work(con):
        many = synthetic.fill_store(
            con,
            run_folders.write_run_folder(app.runs_dir / "run-many", n_items=16),
            n_annotators=4,
            name="four readers",
        )
        solo = synthetic.fill_store(
            con,
            run_folders.write_run_folder(app.runs_dir / "run-solo", n_items=10),
            n_annotators=1,
            left_biased=(),
            name="one reader",
        )
        return many, solo

    return app.prepare(work)


def _open_results(page, current: str | None = None, campaign_label: str | None = None, caption: str = ""):
    """Open Results (the newest campaign first), or switch from the campaign named `current` to another whose
    caption says `caption`; returns once every stage is drawn."""
    if campaign_label:
        page.get_by_role("combobox").first.click()  # the Campaign box, showing `current`
        page.get_by_role("option", name=campaign_label).click()
        page.get_by_role("tab", name="Verdict").click()  # the tab open before stays open
    else:
        page.get_by_role("link", name="Results").click()
    page.get_by_text("win rate (drop)").first.wait_for(timeout=60_000)
    page.get_by_text("How many more judgments?").wait_for(timeout=60_000)
    page.get_by_text("Computing statistics").wait_for(
        state="detached", timeout=60_000
    )  # the progress line goes


def test_results_page_slides_download_and_one_annotator_agreement(app, browser_page, tmp_path):
    many, solo = _campaigns(app)
    app.start()
    page = app.login(browser_page, "admin", app.admin_password)

    # the newest campaign has one annotator: the Agreement tab explains what is needed instead of empty
    # sections
    _open_results(page)
    page.get_by_text("by 1 annotator;").wait_for()  # the one-annotator campaign is the one shown
    page.get_by_role("tab", name="Agreement").click()
    # (the same sentence is also a bullet of the verdict's plain-words reading, on the first tab)
    page.get_by_test_id("stAlertContentInfo").get_by_text("a second annotator on the same items").wait_for()
    page.get_by_text("second judgments still needed").first.wait_for(state="attached")  # the grid is a canvas
    assert page.get_by_text("Leave one annotator out").count() == 0
    assert page.get_by_text("Fleiss").count() == 0
    app.screenshot(page, "results-agreement-one-annotator")

    # four annotators: verdict, agreement, and the slides in one click
    _open_results(page, f"one reader ({solo})", f"four readers ({many})", caption="by 4 annotators;")
    page.get_by_text(
        "by 4 annotators;"
    ).wait_for()  # every annotator of this campaign counts, not the last one's
    app.screenshot(page, "results-verdict")
    page.get_by_role("tab", name="Agreement").click()
    page.get_by_text("Leave one annotator out").wait_for()
    page.get_by_role("tab", name="Export").click()
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name="Download slides (.zip)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    names = archive.namelist()
    assert f"{many}-slides/deck.html" in names and f"{many}-slides/deck.md" in names
    assert sum(n.endswith(".png") for n in names) == 5
    deck = tmp_path / "deck.html"
    deck.write_bytes(archive.read(f"{many}-slides/deck.html"))

    # the deck's HTML alone, offline: every chart decodes and has a width
    page.goto(deck.as_uri())
    images = page.evaluate(EVERY_IMAGE_RENDERED)
    assert len(images) == 5 and all(complete and width > 0 for _, complete, width in images), images
    app.screenshot(page, "slides-deck")
