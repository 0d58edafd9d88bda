"""Real-browser fixtures: the app in a subprocess on a free port, and a headless Debian Chromium driven by
Playwright.

Reuse in any tests/e2e test:

    def test_something(app, browser_page):
        app.prepare(lambda con: ...)            # optional: write to the store BEFORE the app starts
        app.start()                             # streamlit run streamlit_app.py on a free port
        page = app.login(browser_page, "admin", app.admin_password)   # lands on the first page of the role
        # the login survives reloads and new tabs of the context (a session cookie); app.log_out(page) ends it
        page.get_by_role("link", name="Campaigns").click()
        app.screenshot(page, "campaigns")       # saved under screenshots/ (git-ignored): look at it
        app.stop()                              # the app holds the only read-write connection ...
        con = app.store()                       # ... so read the DuckDB file after stopping it

`app` points FT_APP_DB and FT_RUNS_DIR into tmp_path (`app.db_path`, `app.runs_dir`) and sets
FT_ADMIN_PASSWORD (`app.admin_password`), so the first researcher `admin` can log in. `app.output()` gives the
server's log. Tests are skipped with a clear reason when /usr/bin/chromium is missing (`bash .ci/setup
--with-browser`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from helpers.streamlit_server import free_port, stop_process, streamlit_command, wait_until_healthy

from annotations import store

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"


class StreamlitApp:
    """One app process with its own store and runs folder in tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.db_path = tmp_path / "app.duckdb"
        self.runs_dir = tmp_path / "runs"
        self.runs_dir.mkdir(exist_ok=True)
        self.admin_password = "e2e-granite-falcon-52"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tmp_path / "streamlit.log"
        self._process: subprocess.Popen | None = None
        self.extra_env: dict[str, str] = {}  # e.g. FT_SESSION_IDLE_HOURS for one test

    def prepare(self, work: Callable[[duckdb.DuckDBPyConnection], object]) -> object:
        """Run `work(con)` on the store before the app starts (create campaigns, users ...)."""
        assert self._process is None, "prepare() must run before start(): the app holds the only connection"
        con = store.connect(self.db_path)
        try:
            return work(con)
        finally:
            con.close()

    def environment(self) -> dict[str, str]:
        return dict(
            os.environ,
            FT_APP_DB=str(self.db_path),
            FT_RUNS_DIR=str(self.runs_dir),
            FT_ADMIN_PASSWORD=self.admin_password,
            **self.extra_env,
        )

    def command(self, port: int | None = None) -> list[str]:
        """`streamlit run streamlit_app.py` as the README says, on this app's (or the given) port."""
        return streamlit_command(port or self.port)

    def start(self, timeout: float = 60) -> None:
        self._process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.environment(),
            stdout=self._log.open("a"),
            stderr=subprocess.STDOUT,
        )
        wait_until_healthy(self._process, self.url, timeout, self.output)

    def stop(self) -> None:
        stop_process(self._process)
        self._process = None

    def store(self) -> duckdb.DuckDBPyConnection:
        """The store, for checks after stop()."""
        assert self._process is None, "stop() the app first: it holds the only read-write connection"
        return store.connect(self.db_path)

    def output(self) -> str:
        return self._log.read_text() if self._log.exists() else ""

    def login(self, page, username: str, password: str, path: str = ""):
        """Open the app in `page`, log in, wait until the role's first page is drawn; returns the page."""
        page.goto(f"{self.url}/{path}")
        username_box = page.get_by_role("textbox", name="Username")
        username_box.wait_for()
        not_found = page.get_by_text(
            "Page not found"
        )  # a page hidden before login: Streamlit says so in a dialog
        page.wait_for_timeout(300)
        if not_found.count():
            page.keyboard.press("Escape")
            not_found.wait_for(state="detached")
        username_box.fill(username)
        page.get_by_role("textbox", name="Password", exact=True).fill(password)
        page.get_by_role("button", name="Log in").click()
        page.get_by_text(f"Logged in as {username}").wait_for(timeout=30_000)
        return page

    def login_as_another(self, page, username: str, password: str) -> None:
        """Log in as another person on the same page: the login survives a reload, so the cookie goes."""
        page.context.clear_cookies()
        page.goto(self.url)
        page.get_by_role("textbox", name="Username").fill(username)
        page.get_by_role("textbox", name="Password", exact=True).fill(password)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name="Log out").wait_for(timeout=30_000)

    def log_out(self, page) -> None:
        """Click the sidebar's Log out and wait for the login form (the session cookie outlives a reload)."""
        not_found = page.get_by_text("Page not found")  # after opening a page the role may not see
        if not_found.count():
            page.keyboard.press("Escape")
            not_found.wait_for(state="detached")
        page.get_by_role("button", name="Log out").click()
        page.get_by_role("textbox", name="Username").wait_for()

    def screenshot(self, page, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        size = page.viewport_size
        page.set_viewport_size(
            {"width": size["width"], "height": 2000}
        )  # Streamlit scrolls inside its own frame
        page.wait_for_timeout(300)
        page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size(size)
        return path


@pytest.fixture
def app(tmp_path):
    server = StreamlitApp(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def browser_page(browser):
    """A fresh browser context (no cookies, no session) and page, 1400x1000."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
