"""The app as a real server for scripts that drive browsers without pytest (bench/annotation_browser.py):
start `streamlit run streamlit_app.py` on a free port with its own store and runs folder, wait until it
answers, log a browser page in, stop it. The same approach as tests/e2e/conftest.py's StreamlitApp, without
fixtures.

    server = StreamlitServer(folder)          # FT_APP_DB, FT_RUNS_DIR and FT_ADMIN_PASSWORD point into folder
    con = db.connect(server.db_path); ...; con.close()   # prepare the store before the app holds it
    server.start()
    ...                                       # Playwright pages on server.url (CHROMIUM, CHROMIUM_ARGS)
    server.stop()
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen | None) -> None:
    """Terminate a test server (kill it after 20 s) unless it has already ended."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(process: subprocess.Popen, url: str, timeout: float, output) -> None:
    """Return once the Streamlit server at `url` answers its health check; RuntimeError with the server's
    output (`output()`) when it exits first or does not answer within `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{output()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer within {timeout}s:\n{output()}")


def streamlit_command(port: int) -> list[str]:
    """`streamlit run streamlit_app.py` headless on 127.0.0.1:`port`, without usage statistics or file
    watcher."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


def readme_streamlit() -> Path:
    """The README's `.venv/bin/streamlit`; where the venv lives elsewhere, the one beside this interpreter."""
    readme = ROOT / ".venv" / "bin" / "streamlit"
    return readme if readme.exists() else Path(sys.executable).parent / "streamlit"


def start_as_readme(
    folder: Path, port: int, admin_password: str, log_path: Path, timeout: float = 120
) -> subprocess.Popen:
    """The app started exactly as the README's first command starts it (`.venv/bin/streamlit run
    streamlit_app.py`, no flag). Only what the README leaves open is set, through the environment: a store and
    runs folder in `folder`, the admin password and the port. Returns once the app answers; RuntimeError with
    its log (written to `log_path`) when it does not, the app stopped."""
    env = dict(
        os.environ,
        FT_APP_DB=str(folder / "app.duckdb"),
        FT_RUNS_DIR=str(folder / "runs"),
        FT_ADMIN_PASSWORD=admin_password,
        STREAMLIT_SERVER_PORT=str(port),
    )
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(readme_streamlit()), "run", "streamlit_app.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(process, f"http://127.0.0.1:{port}", timeout, log_path.read_text)
    except RuntimeError:
        stop_process(process)
        raise
    return process


class StreamlitServer:
    """One app process with its own store and runs folder under `folder`."""

    def __init__(self, folder: Path, admin_password: str = "bench-granite-harbor-7f3c-lantern") -> None:
        self.db_path = folder / "app.duckdb"
        self.runs_dir = folder / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.admin_password = admin_password
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "streamlit.log"
        self._process: subprocess.Popen | None = None
        self.root = ROOT  # the checkout that runs (bench/anonymous_load.py runs the code before too)

    def start(self, timeout: float = 90) -> None:
        env = dict(
            os.environ,
            FT_APP_DB=str(self.db_path),
            FT_RUNS_DIR=str(self.runs_dir),
            FT_ADMIN_PASSWORD=self.admin_password,
        )
        with self.log_path.open("w") as log:
            self._process = subprocess.Popen(
                streamlit_command(self.port), cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_until_healthy(self._process, self.url, timeout, self.output)

    @property
    def pid(self) -> int:
        assert self._process is not None, "start() first"
        return self._process.pid

    def stop(self) -> None:
        stop_process(self._process)
        self._process = None

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


async def log_in(page, url: str, username: str, password: str) -> None:
    """Open the app in a Playwright (async) page and log in; returns once the role's first page is drawn."""
    await page.goto(url)
    username_box = page.get_by_role("textbox", name="Username")
    await username_box.wait_for()
    await page.wait_for_timeout(300)
    not_found = page.get_by_text(
        "Page not found"
    )  # a page hidden before login: Streamlit says so in a dialog
    if await not_found.count():
        await page.keyboard.press("Escape")
        await not_found.wait_for(state="detached")
    await username_box.fill(username)
    await page.get_by_role("textbox", name="Password", exact=True).fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_text(f"Logged in as {username}").wait_for(timeout=60_000)
