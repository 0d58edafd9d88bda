"""Takes the screenshots of the README and docs/tutorial.md from a store in which the demo has run.

First run the demo as a new user meets it, keeping its store, then point this script at that folder:

    .venv/bin/python bench/demo_end_to_end.py --keep /tmp/demo
    .venv/bin/python docs/take_screenshots.py /tmp/demo

It starts the app with the README's command on that store (FT_APP_DB, FT_RUNS_DIR), logs a headless Chromium
in as `admin` (the bench's password) for Home, Train, Campaigns and Results, and as `demo-annotator-3` (given
a new password first) for Annotate, and writes docs/img/*.png as 256-colour PNGs (each well under 200 KB).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers.streamlit_server import CHROMIUM, CHROMIUM_ARGS, free_port, start_as_readme, stop_process  # noqa: E402

IMAGES = ROOT / "docs" / "img"
ADMIN_PASSWORD = "bench-granite-harbor-7f3c-lantern"  # bench/demo_end_to_end.py's
ANNOTATOR = "demo-annotator-3"  # the demo account left for a person to judge by hand
ANNOTATOR_PASSWORD = "docs-shot-cobalt-meadow-41"


def save(page, name: str) -> None:
    """A full-page screenshot as a 256-colour PNG."""
    from PIL import Image

    page.wait_for_timeout(1500)  # let charts and fragments settle
    raw = IMAGES / f"{name}.raw.png"
    page.screenshot(path=str(raw), full_page=False)
    image = Image.open(raw).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    image.save(IMAGES / f"{name}.png", optimize=True)
    raw.unlink()
    print(f"docs/img/{name}.png {(IMAGES / f'{name}.png').stat().st_size // 1024} KB", flush=True)


def log_in(page, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text(f"Logged in as {username}").wait_for(timeout=120_000)


def idle(page) -> None:
    """Wait until Streamlit says it is no longer running the page."""
    page.wait_for_timeout(500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=120_000)


def open_page(page, title: str) -> None:
    """Click the sidebar's link to a page and wait for its title."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
    idle(page)


def shoot(url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        researcher = browser.new_page(viewport={"width": 1280, "height": 860})
        log_in(researcher, url, "admin", ADMIN_PASSWORD)
        idle(researcher)
        save(researcher, "home")
        for name, title in (("train", "Train"), ("campaigns", "Campaigns")):
            open_page(researcher, title)
            save(researcher, name)
        open_page(researcher, "Results")
        researcher.get_by_role("tab", name="Verdict").wait_for(timeout=180_000)
        idle(researcher)
        save(researcher, "results")
        annotator = browser.new_page(viewport={"width": 1280, "height": 1560})  # the source and both outputs
        log_in(annotator, url, ANNOTATOR, ANNOTATOR_PASSWORD)
        idle(annotator)
        save(annotator, "annotate")
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="the folder bench/demo_end_to_end.py --keep wrote (app.duckdb, runs/)")
    args = parser.parse_args()
    folder = Path(args.folder)
    if not (folder / "app.duckdb").exists():
        raise SystemExit(
            f"error: {folder / 'app.duckdb'} not found: run bench/demo_end_to_end.py --keep first"
        )
    from annotations.accounts.users import set_password
    from annotations.store import connect

    con = connect(folder / "app.duckdb")
    set_password(con, ANNOTATOR, ANNOTATOR_PASSWORD)
    con.close()
    IMAGES.mkdir(parents=True, exist_ok=True)
    port = free_port()
    app = start_as_readme(folder, port, ADMIN_PASSWORD, folder / "screenshots.log")
    try:
        shoot(f"http://127.0.0.1:{port}")
    finally:
        stop_process(app)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
