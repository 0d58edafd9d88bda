"""A real Chromium: a login survives a reload, a new tab and a restarted app, and comes back to the same
pair and campaign; logging out in one tab logs out the others at their next click (and that click stores
nothing); an expired or revoked session asks for the password; the cookie is HttpOnly, SameSite=Strict,
Secure behind https; a second app on the same DuckDB file refuses to start with one line."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from helpers.browser import settle
from helpers.run_folders import write_run_folder

from annotations.accounts import users
from annotations.accounts.sessions import COOKIE_NAME
from annotations.campaigns import CampaignConfig, create_campaign

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "velvet-harbor-pines-29"


def _two_campaigns_and_anna(app) -> dict[str, str]:
    """Two open campaigns whose outputs name their campaign ('first' / 'second'), and the annotator anna."""

    def work(con):
        ids = {}
        for name in ("first", "second"):
            run = write_run_folder(
                app.runs_dir / f"run-{name}",
                n_items=6,
                systems=("zebra", "otter"),
                output_text=lambda system, i, name=name: f"{name} campaign, item {i}, {system[::-1]}",
            )
            ids[name] = create_campaign(
                con, CampaignConfig(name=name, run_dir=str(run), system_a="zebra", system_b="otter", k=1)
            )
        users.create_user(con, "anna", PASSWORD, "annotator")
        return ids

    return app.prepare(work)


def _pair(page) -> tuple[str, str]:
    """The two texts on the annotate page, once it has settled."""
    page.get_by_role("heading", name="Annotate").wait_for()
    columns = page.locator("[data-testid='stColumn']").filter(has=page.locator("h3"))
    columns.nth(1).locator("[data-testid='stText']").wait_for()
    settle(page)
    return tuple(columns.nth(n).locator("[data-testid='stText']").inner_text() for n in (0, 1))


def _session_cookie(context) -> dict:
    for _ in range(50):  # the page trades its ticket for the cookie right after the login
        found = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {COOKIE_NAME} cookie in {context.cookies()}")


def _choose_campaign(page, name: str) -> None:
    page.get_by_role("combobox").first.click()
    page.get_by_role("option", name=name).click()
    settle(page)


def _login_form(page):
    return page.get_by_role("textbox", name="Username")


def test_login_survives_reload_new_tab_and_restart_on_the_same_pair(app, browser_page):
    _two_campaigns_and_anna(app)
    app.start()
    page = app.login(browser_page, "anna", PASSWORD)
    _choose_campaign(page, "second")  # not the default: the campaign must survive too
    pair = _pair(page)
    assert pair[0].startswith("second campaign")
    assert "campaign=" in page.url and "second" not in page.url.split("campaign=")[1]  # an opaque id, no name

    cookie = _session_cookie(page.context)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    assert cookie["expires"] > time.time() + 6 * 86400  # lives as long as the session may (7 days)
    assert page.evaluate("document.cookie").find(COOKIE_NAME) == -1  # no script in the page can read it

    page.reload()
    assert _pair(page) == pair and _login_form(page).count() == 0
    page.get_by_text("Logged in as anna").wait_for()

    other_tab = page.context.new_page()
    other_tab.goto(page.url)
    assert _pair(other_tab) == pair
    other_tab.close()

    address, context = page.url, page.context
    page.close()  # (an open page would reconnect by itself as soon as the app is back)
    app.stop()
    app.start()  # a restarted app on the same store
    page = context.new_page()
    page.goto(address)  # the first request after the start, on a page's address: still through the login gate
    assert _pair(page) == pair and _login_form(page).count() == 0
    page.get_by_text("Logged in as anna").wait_for()
    nav = page.locator("[data-testid='stSidebarNav']")
    assert nav.get_by_text("shared").count() == 0 and nav.get_by_text("server").count() == 0
    app.screenshot(page, "session_after_restart")


def test_logging_out_in_one_tab_logs_out_the_other_at_its_next_click(app, browser_page):
    _two_campaigns_and_anna(app)
    app.start()
    first = app.login(browser_page, "anna", PASSWORD)
    _pair(first)
    _session_cookie(first.context)
    second = first.context.new_page()
    second.goto(app.url)
    _pair(second)
    second.get_by_role("button", name="A is better").click()  # a choice made before the logout ...
    settle(second)

    app.log_out(first)
    second.get_by_role("button", name="Submit").click()  # ... is not stored after it
    _login_form(second).wait_for()
    settle(second)
    assert second.get_by_text("Logged in as").count() == 0
    second.reload()  # the cookie's session is over too
    _login_form(second).wait_for()

    app.stop()
    con = app.store()
    assert con.execute("SELECT count(*) FROM judgments").fetchone() == (0,)
    assert con.execute("SELECT revoked_reason FROM sessions").fetchall() == [("logout",)]
    con.close()


def test_an_expired_session_asks_for_the_password(app, browser_page):
    _two_campaigns_and_anna(app)
    app.extra_env["FT_SESSION_IDLE_HOURS"] = str(4 / 3600)  # four seconds unused end a session
    app.start()
    page = app.login(browser_page, "anna", PASSWORD)
    _pair(page)
    _session_cookie(page.context)
    page.wait_for_timeout(5000)
    page.get_by_role("button", name="Skip").click()
    _login_form(page).wait_for()
    page.reload()
    _login_form(page).wait_for()


def test_a_revoked_session_asks_for_the_password_after_a_restart(app, browser_page):
    ids = _two_campaigns_and_anna(app)
    assert ids
    app.start()
    page = app.login(browser_page, "anna", PASSWORD)
    _pair(page)
    _session_cookie(page.context)
    app.stop()
    con = app.store()
    anna = users.list_users(con).query("username == 'anna'").user_id.iloc[0]
    users.set_active(con, anna, False)  # a researcher disables the account (here through the store)
    con.close()
    app.start()
    page.reload()
    _login_form(page).wait_for()


def test_the_cookie_is_secure_when_a_proxy_says_https(app, browser):
    app.extra_env["FT_TRUST_PROXY"] = "1"  # our own proxy in front (without it the header is not believed)
    app.start()
    context = browser.new_context(extra_http_headers={"X-Forwarded-Proto": "https"})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        app.login(page, "admin", app.admin_password)
        cookie = _session_cookie(context)
        assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    finally:
        context.close()


def test_a_second_app_on_the_same_store_refuses_to_start_with_one_line(app, browser_page):
    app.start()
    with socket.socket() as s:  # a free port for the second app
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    second = subprocess.run(
        app.command(port), cwd=ROOT, env=app.environment(), capture_output=True, text=True, timeout=120
    )
    output = second.stdout + second.stderr
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert second.returncode != 0, output
    assert len(errors) == 1 and "held by another process" in errors[0] and "PID" in errors[0], output
    assert "Traceback" not in output and "StoreError" not in output
    with pytest.raises(OSError):  # it serves nothing
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
    # the first app keeps working
    page = app.login(browser_page, "admin", app.admin_password)
    page.get_by_role("heading", name="Did the fine-tune help?").wait_for()


def test_a_wrong_password_is_refused_throttled_and_logged_on_one_line(app, browser_page):
    app.extra_env["FT_LOGIN_BACKOFF_SECONDS"] = "30"  # the second try lands in the back-off on a busy machine
    app.start()
    browser_page.goto(app.url)
    form = _login_form(browser_page)
    form.wait_for()
    form.fill("admin")
    browser_page.get_by_role("textbox", name="Password", exact=True).fill("not-the-password")
    browser_page.get_by_role("button", name="Log in").click()
    browser_page.get_by_text("Wrong username or password").wait_for()
    browser_page.get_by_role("textbox", name="Password", exact=True).fill(app.admin_password)
    browser_page.get_by_role("button", name="Log in").click()  # within the back-off: refused, even if right
    browser_page.get_by_text("Too many failed logins").wait_for()
    lines = [line for line in app.output().splitlines() if "failed login for 'admin'" in line]
    assert len(lines) == 1 and "from local" in lines[0]


def test_the_first_request_after_a_start_goes_through_the_login_gate(app, browser_page):
    """Before any run called st.navigation, Streamlit would run pages/jobs.py on its own (the old `pages/`
    layout), outside the gate and with every file of pages/ in the sidebar."""
    app.start()
    browser_page.goto(f"{app.url}/jobs")  # the very first request of this server
    _login_form(browser_page).wait_for()
    settle(browser_page)
    assert browser_page.locator("[data-testid='stSidebarNav']").count() == 0
    assert browser_page.get_by_text("Please log in first").count() == 0
