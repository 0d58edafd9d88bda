# ruff: noqa: E501  (JavaScript or code run in a subprocess, embedded in strings: kept as written)
"""A real Chromium: user strings are text on every page that shows them.

A Markdown image pointing at a local HTTP server (standing in for an outside URL), a link, `$x^2$` and a
<script> go in as a campaign name, system names, a run name, a criterion name and description, instructions,
usernames and a comment; each page that shows them is opened as a researcher (and Annotate as an annotator).
Nowhere may an image from those strings, KaTeX, a script, a link to the server, bold or italics made of them
appear, and the server must get no request. Screenshots: screenshots/user-strings-*.png.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import threading
import time

import pandas as pd
import pytest
from helpers.browser import settle

from annotations.accounts.users import create_user
from annotations.campaigns import CampaignConfig, Criterion, create_campaign
from annotations.judging import assignment, judgments

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "Vq3-lantern-orbit-77"
ANNOTATOR = "__ann__@example.org"  # what the username rules allow: bold and an e-mail autolink if unescaped
RUN_NAME = "![r](pixel.png) $x^2$ __runbold__ <script>window.pwned_run=1<\\script>"  # a folder name: no '/'


class _CountingServer:
    """A local HTTP server that records every path requested from it (the 'outside' URL)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                hits.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def outside():
    server = _CountingServer()
    yield server
    server.close()


def hostile(port: int, tag: str) -> str:
    return (
        f"![x](http://127.0.0.1:{port}/{tag}.png) [link](http://127.0.0.1:{port}/{tag}) $x^2$ "
        f"<script>window.pwned_{tag}=1</script>"
    )


def _shown(page) -> str:
    """The text of the page as a person reads it (without the invisible word joiners that break autolinks)."""
    return page.locator("#root").inner_text().replace("\u2060", "")


def _assert_only_text(page, port: int, where: str) -> None:
    settle(page, first_wait_ms=200)
    found = page.evaluate(
        """(port) => ({
            images: [...document.images].map(i => i.src).filter(s => s.includes(port) || s.includes('pixel')),
            katex: document.querySelectorAll('.katex, .katex-display, math').length,
            scripts: [...document.querySelectorAll('#root script')].filter(s => s.textContent.includes('pwned')).length,
            links: [...document.querySelectorAll('#root a')].map(a => a.href)
                .filter(h => h.includes(port) || h.startsWith('mailto:') || h.includes('pixel')),
            pwned: Object.keys(window).filter(k => k.startsWith('pwned')),
            emphasis: [...document.querySelectorAll('#root strong, #root em, #root b, #root i')]
                .map(e => e.textContent).filter(t => /^(ann|crit|runbold)$/.test(t)),
        })""",
        str(port),
    )
    assert found == {"images": [], "katex": 0, "scripts": 0, "links": [], "pwned": [], "emphasis": []}, (
        where,
        found,
    )


def _login(app, page, username: str, password: str) -> None:
    app.login_as_another(page, username, password)
    settle(page, first_wait_ms=200)


def _open_instructions(page) -> None:
    expander = page.locator("[data-testid='stExpander']").filter(has_text="Instructions").first
    expander.wait_for()
    if expander.locator("details[open]").count() == 0:
        expander.locator("summary").click()
    settle(page, first_wait_ms=200)


def _open(page, name: str) -> None:
    page.get_by_role("link", name=name, exact=True).first.click()
    settle(page, first_wait_ms=200)


def _prepare(app, port: int) -> dict[str, str]:
    strings = {tag: hostile(port, tag) for tag in ("campaign", "sysA", "sysB", "crit", "instr", "comment")}
    rows = [
        {
            "item_id": f"doc {i}",
            "system": strings[s],
            "output": f"text {i} from {s[-1]}",
            "source": f"source {i}",
        }
        for i in range(6)
        for s in ("sysA", "sysB")
    ]
    csv = app.runs_dir.parent / "hostile.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    run = app.runs_dir / RUN_NAME  # a run being trained from a terminal: Jobs and Runs list it by its name
    run.mkdir()
    status = {"state": "running", "step": 5, "total_steps": 10, "started_at": time.time(), "pid": os.getpid()}
    (run / "status.json").write_text(json.dumps(status))

    def work(con):
        create_campaign(
            con,
            CampaignConfig(
                name="plain first", source_file=str(csv), system_a=strings["sysA"], system_b=strings["sysB"]
            ),
        )
        cid = create_campaign(
            con,
            CampaignConfig(
                name=strings["campaign"],
                source_file=str(csv),
                system_a=strings["sysA"],
                system_b=strings["sysB"],
                criteria=[Criterion("__crit__", strings["crit"])],
                instructions=strings["instr"],
                k=2,
            ),
        )
        annotators = [
            create_user(con, name, PASSWORD, "annotator") for name in (ANNOTATOR, "second.annotator")
        ]
        for number, annotator in enumerate(annotators):
            for i in range(5):
                pair = assignment.next_item(con, cid, annotator.user_id)
                choice = "A" if (i + number) % 3 else "B"
                scores = {"__crit__": {"A": 1 + i % 5, "B": 5 - i % 5}}
                judgments.submit(
                    con, pair.token, annotator.user_id, choice, scores, comment=strings["comment"]
                )
        return cid

    app.prepare(work)
    return strings


def test_user_strings_stay_text_on_every_page(app, browser_page, outside, tmp_path):
    port = outside.port
    strings = _prepare(app, port)
    app.start()
    requested: list[str] = []
    browser_page.on("request", lambda request: requested.append(request.url))
    page = browser_page

    # The annotator: the sidebar's username, the campaign picker, instructions, the criterion.
    _login(app, page, ANNOTATOR, PASSWORD)
    _open_instructions(page)
    _assert_only_text(page, port, "annotate (annotator)")
    shown = _shown(page)
    assert f"Logged in as {ANNOTATOR}" in shown and strings["instr"] in shown and strings["crit"] in shown
    app.screenshot(page, "user-strings-annotate")

    _login(app, page, "admin", app.admin_password)
    _assert_only_text(page, port, "home")

    _open(page, "Results")
    page.locator("[data-testid='stMetric']").first.wait_for()
    assert strings["sysB"] in _shown(page)  # the verdict sentence and the win-rate label name the system
    _assert_only_text(page, port, "results: verdict")
    page.get_by_role("tab", name="Examples").click()
    settle(page, first_wait_ms=200)
    assert strings["sysA"] in _shown(page)
    _assert_only_text(page, port, "results: examples")
    app.screenshot(page, "user-strings-results")

    _open(page, "Annotate")
    _open_instructions(page)
    assert strings["crit"] in _shown(page) and strings["instr"] in _shown(page)
    _assert_only_text(page, port, "annotate (researcher)")

    _open(page, "Campaigns")
    page.get_by_test_id("stRadioGroup").get_by_text("A CSV/JSONL file").click()
    # the new campaign's uploader (a chosen campaign's crowd-study form has one for training items)
    outputs_upload = page.get_by_test_id("stFileUploader").filter(has_text="CSV or JSONL with item_id")
    outputs_upload = outputs_upload.locator("input[type='file']")
    outputs_upload.set_input_files(str(app.runs_dir.parent / "hostile.csv"))
    page.get_by_role("combobox", name="System A", exact=True).wait_for()
    name_box = page.get_by_label("Name", exact=True)
    name_box.fill(hostile(port, "created"))
    name_box.press("Enter")
    settle(page, first_wait_ms=200)
    page.get_by_role("button", name="Create campaign").click()
    page.get_by_text("Annotators see it on their Annotate page").wait_for()
    assert f"Campaign '{hostile(port, 'created')}' created" in _shown(page)
    _assert_only_text(page, port, "campaigns")
    app.screenshot(page, "user-strings-campaigns")

    _open(page, "Users")
    page.get_by_role("textbox", name="Username", exact=True).fill("__new__@example.org")
    page.get_by_label(re.compile("^Password")).first.fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_text(re.compile("Created annotator")).wait_for()
    assert "Created annotator '__new__@example.org'" in _shown(page)
    _assert_only_text(page, port, "users")

    _open(page, "Jobs")
    page.get_by_text("started outside the app").wait_for()
    assert RUN_NAME in _shown(page)
    _assert_only_text(page, port, "jobs")

    _open(page, "Runs")
    page.get_by_text("Continue a run").wait_for()
    _assert_only_text(page, port, "runs")

    _open(page, "Train")
    page.get_by_role("tab", name="Optimization", exact=True).click()
    box = page.get_by_label("Learning rate", exact=True)
    box.fill(hostile(port, "train"))
    box.press("Enter")
    page.get_by_text("learning_rate must be of type float").wait_for()
    assert hostile(port, "train") in _shown(page)
    _assert_only_text(page, port, "train")

    assert outside.hits == [], outside.hits
    assert [url for url in requested if str(port) in url or "pixel" in url] == []
