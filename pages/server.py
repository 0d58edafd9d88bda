"""The web server around the pages (Streamlit's `st.App`): the session-cookie routes, and the store opened at start.

`streamlit run streamlit_app.py` finds the `st.App` in streamlit_app.py and serves it. Building it opens the store
first (`open_store_or_exit`), so a second app pointed at a DuckDB file that another process holds stops with one
line in its terminal, naming the holder, instead of serving tracebacks to visitors; and it makes every request go
through the entry point's login gate and navigation (`navigation_only`).

Routes (both answer only same-origin `fetch` calls that pages/shared.py puts in the page):
- `POST /_ft/session` (body: a login's one-use ticket): sets the session cookie, HttpOnly, SameSite=Strict, Path=/,
  Max-Age = the session's remaining lifetime, and Secure when the page is served over https (directly, or behind a
  proxy that says so in `X-Forwarded-Proto` / `Forwarded`).
- `POST /_ft/forget`: drops the cookie when its session has ended (logout, expiry, revocation); a live one stays.
"""

from __future__ import annotations

import importlib
import sys
import threading

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from streamlit.runtime.pages_manager import PagesManager

from annotations import backup, sessions
from annotations.errors import StoreError
from pages.shared import store

_MAX_BODY = 256  # a ticket is 43 characters


def navigation_only() -> None:
    """Serve pages only through streamlit_app.py's `st.navigation`, from the very first request.

    Until some run calls `st.navigation`, Streamlit treats a `pages/` folder beside the entry point as the old
    (v1) multipage layout: the first visitor after a start who opens e.g. `/jobs` would get pages/jobs.py run on
    its own, outside the login gate, with every file of pages/ listed in the sidebar. `st.navigation` clears this
    same class flag on its first call; we clear it before the first request.
    """
    PagesManager.uses_pages_directory = False


# What the researcher pages import beyond Streamlit and pandas (about 0.9 s on 2 cores): imported once in the
# background when the server starts, so the first click on Results after a start does not pay for it.
WARM_MODULES = (
    "altair",
    "scipy.stats",
    "annotations.stats.stages",
    "annotations.stats.faithfulness",
    "annotations.report",
    "annotations.report.results_cache",
    "annotations.campaigns.facets",
)


def warm_imports() -> threading.Thread:
    """Import WARM_MODULES in a daemon thread; returns it (tests join it). A module that fails to import here
    fails again, with its message, where a page imports it."""

    def work() -> None:
        for name in WARM_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the page that needs it reports it
                pass

    thread = threading.Thread(target=work, name="ft-warm-imports", daemon=True)
    thread.start()
    return thread


def one_blas_thread() -> None:
    """Let numpy's BLAS use one thread in this process. The server already works on the cores from several
    threads at once (the results page computes its statistics on two, beside the pages' own and the event loop),
    and BLAS threads on top of those oversubscribe the cores and spin waiting for work: on 2 cores a cold results
    page at 100,000 judgments used 0.6 CPU seconds less in the server and drew every tab 0.25 s sooner
    (bench/analysis_scale.py). The statistics are the same to the bit (their sums are exact whatever the BLAS
    threads: annotations/stats/bootstrap.py). Training and generation run in their own processes (jobs/), which
    this does not touch."""
    import numpy  # noqa: F401 - its BLAS must be loaded for threadpoolctl to find it
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # for the process's life: nothing restores it


def system_allocator_for_arrow() -> None:
    """Let pyarrow (pandas' string columns, the frames read from DuckDB) allocate with the C library's malloc
    instead of its bundled jemalloc, which hands freed pages back to the kernel within a second and takes fresh
    ones for the next frame. A first touch of a page is expensive on a virtual machine (Firecracker here), and a
    cold results page touches a few hundred MB: the first analysis in a fresh process (bench/analysis_scale.py's
    100,000 judgments, six runs each) spent 0.15-1.3 s of system time with jemalloc, 0.13-0.22 s with malloc,
    and 1.8-3.0 against 1.8 CPU seconds. malloc keeps and reuses what it has. Values are not affected."""
    import pyarrow

    pyarrow.set_memory_pool(pyarrow.system_memory_pool())


def open_store_or_exit() -> None:
    """Open the store now and start the backup schedule; when that fails (another process holds the file, a
    bad FT_BACKUP_* setting), print one line and exit 1."""
    try:
        backup.ensure_schedule(store())  # the scheduled backups (FT_BACKUP_*), one thread per process
    except (StoreError, backup.BackupError) as e:
        print(f"error: the app does not start: {e}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def is_https(request: Request) -> bool:
    """Whether the browser reached us over https (directly or through a proxy that says so)."""
    forwarded_proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    forwarded = request.headers.get("forwarded", "").lower().replace(" ", "")
    return request.url.scheme == "https" or forwarded_proto == "https" or "proto=https" in forwarded


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


async def _read_small_body(request: Request) -> str | None:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            return None
    return body.decode("ascii", errors="replace").strip()


async def issue_session_cookie(request: Request) -> Response:
    ticket = await _read_small_body(request)
    cookie = await run_in_threadpool(sessions.issue_cookie, store(), ticket) if ticket else None
    if cookie is None:
        return _no_store(Response(status_code=403))
    response = Response(status_code=204)
    response.set_cookie(
        sessions.COOKIE_NAME,
        cookie.token,
        max_age=cookie.max_age,
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="strict",
    )
    return _no_store(response)


async def drop_dead_cookie(request: Request) -> Response:
    token = request.cookies.get(sessions.COOKIE_NAME)
    response = _no_store(Response(status_code=204))
    if token and await run_in_threadpool(sessions.resume, store(), token) is None:
        response.delete_cookie(
            sessions.COOKIE_NAME, path="/", secure=is_https(request), httponly=True, samesite="strict"
        )
    return response


ROUTES = [
    Route("/_ft/session", issue_session_cookie, methods=["POST"]),
    Route("/_ft/forget", drop_dead_cookie, methods=["POST"]),
]
