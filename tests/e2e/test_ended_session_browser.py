"""A real Chromium, after the session ended in another tab (issue 20, items 5 and 6): the Results tab that
drew the Download button makes no export any more, the `/media/...` URL of an earlier download answers 403
to a client without the cookie and to everyone once the session ended, and the Train page's upload writes
no file."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
from helpers import run_folders, synthetic
from helpers.browser import settle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _status(url: str, cookie: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def _wait_for_line(app, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in app.output():
            return
        time.sleep(0.3)
    raise AssertionError(f"no {text!r} in the server log:\n{app.output()[-3000:]}")


def test_an_ended_sessions_results_tab_downloads_nothing_and_its_media_is_gone(app, browser_page):
    app.prepare(
        lambda con: synthetic.fill_store(
            con, run_folders.write_run_folder(app.runs_dir / "run-1", n_items=8), n_annotators=2, name="two"
        )
    )
    app.start()
    page = app.login(browser_page, "admin", app.admin_password)
    page.get_by_role("link", name="Results").click()
    page.get_by_text("How many more judgments?").wait_for(timeout=90_000)
    page.get_by_role("tab", name="Export").click()
    with page.expect_download(timeout=120_000) as first:
        page.get_by_role("button", name="Download export (.zip)").click()
    url = first.value.url
    assert "/media/" in url and first.value.path().stat().st_size > 0  # the download works while logged in
    cookie = "; ".join(
        f"{c['name']}={c['value']}" for c in page.context.cookies() if c["name"] == "ft_session"
    )
    assert _status(url) == 403  # the URL alone, without the cookie: before, Streamlit served it to anyone

    other = page.context.new_page()  # a second tab of the same browser logs out: the session ends everywhere
    other.goto(app.url)
    other.get_by_text("Logged in as admin").wait_for()
    app.log_out(other)
    assert _status(url, cookie) == 403  # the ended session's cookie opens nothing

    downloads = []
    page.on("download", lambda download: downloads.append(download))
    page.get_by_role("button", name="Download export (.zip)").click()  # the old tab, still showing the button
    _wait_for_line(app, "the session that drew this button has ended")
    page.wait_for_timeout(1000)
    assert downloads == []


def test_an_upload_after_the_session_ended_writes_no_file(app, browser_page, tmp_path):
    data = tmp_path / "data"
    (data / "tiny").mkdir(parents=True)
    (data / "tiny" / "train.jsonl").write_text('{"source": "a b c", "target": "a"}\n')
    app.extra_env["FT_DATA_DIR"] = str(data)
    app.start()
    page = app.login(browser_page, "admin", app.admin_password)
    page.get_by_role("link", name="Train").click()
    page.get_by_text("Ready to launch").wait_for(timeout=60_000)
    page.get_by_role("tab", name="Data", exact=True).click()
    page.get_by_text("Upload a file").click()
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    chooser.wait_for(state="attached")
    settle(page)

    other = page.context.new_page()
    other.goto(app.url)
    other.get_by_text("Logged in as admin").wait_for()
    app.log_out(other)

    upload = tmp_path / "late.jsonl"
    upload.write_text('{"source": "x y z", "target": "x"}\n')
    chooser.set_input_files(str(upload))
    page.get_by_role("textbox", name="Username").wait_for(timeout=60_000)  # the tab's next run: the login
    assert not (data / "uploads").exists() or not any((data / "uploads").iterdir())
