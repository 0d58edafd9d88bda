"""The web server around the pages (Streamlit's `st.App`): the session-cookie routes, and the store opened at
start.

`streamlit run streamlit_app.py` finds the `st.App` in streamlit_app.py and serves it. Building it opens the
store first (`open_store_or_exit`), so a second app pointed at a DuckDB file that another process holds stops
with one line in its terminal, naming the holder, instead of serving tracebacks to visitors; and it makes
every request go through the entry point's login gate and navigation (`navigation_only`).

Routes (both answer only same-origin `fetch` calls that pages/shared.py puts in the page; a request that a
browser marks cross-site, by `Sec-Fetch-Site` or by an `Origin` other than the host asked, gets 403 and
changes nothing):
- `POST /_ft/session` (body: a login's one-use ticket): sets the session cookie, HttpOnly, SameSite=Strict,
  Path=/, Max-Age = the session's remaining lifetime, and Secure when the page is served over https (directly,
  or behind a proxy that says so in `X-Forwarded-Proto` / `Forwarded`, read only with `FT_TRUST_PROXY=1`).
- `POST /_ft/forget`: drops the cookie when its session has ended (logout, expiry, revocation); a live one
  stays.

Every HTTP request also passes `Guard` (a middleware of the `st.App`): `/_stcore/metrics` answers 404
(Streamlit's counters of sessions and caches are nobody's business outside), `/media/...` (downloads the pages
made, images) needs the cookie of a live session, and every response says it may be framed only by the app
itself (`Content-Security-Policy: frame-ancestors 'self'`, `X-Frame-Options: SAMEORIGIN`), with
`X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin` (an invitation link's token never leaves
in a Referer).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from streamlit.runtime.pages_manager import PagesManager

from annotations.accounts import logins, sessions
from annotations.errors import StoreError
from annotations.store import backup
from pages.shared import store

_MAX_BODY = 256  # a ticket is 43 characters


def navigation_only() -> None:
    """Serve pages only through streamlit_app.py's `st.navigation`, from the very first request.

    Until some run calls `st.navigation`, Streamlit treats a `pages/` folder beside the entry point as the old
    (v1) multipage layout: the first visitor after a start who opens e.g. `/jobs` would get pages/jobs.py run
    on its own, outside the login gate, with every file of pages/ listed in the sidebar. `st.navigation`
    clears this same class flag on its first call; we clear it before the first request.
    """
    PagesManager.uses_pages_directory = False


# What the researcher pages import beyond Streamlit and pandas (about a second: docs/benchmarks.md): imported
# once in the background when the server starts, so the first click on Results after a start does not pay
# for it.
WARM_MODULES = (
    "altair",
    "scipy.stats",
    "annotations.report.analysis_stages",
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
    threads at once (the results page computes its statistics on two, beside the pages' own and the event
    loop), and BLAS threads on top of those oversubscribe the cores and spin waiting for work: on 2 cores a
    cold results page at 100,000 judgments used 0.6 CPU seconds less in the server and drew every tab 0.25
    s sooner (bench/analysis_scale.py). The statistics are the same to the bit (their sums are exact
    whatever the BLAS threads: ft_core/resampling.py). Training and generation run in their own processes
    (jobs/), which this does not touch."""
    import numpy  # noqa: F401 - its BLAS must be loaded for threadpoolctl to find it
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # for the process's life: nothing restores it


def system_allocator_for_arrow() -> None:
    """Let pyarrow (pandas' string columns, the frames read from DuckDB) allocate with the C library's
    malloc instead of its bundled jemalloc, which hands freed pages back to the kernel within a second and
    takes fresh ones for the next frame. A first touch of a page is expensive on a virtual machine
    (Firecracker here), and a cold results page touches a few hundred MB: the first analysis in a fresh
    process spent several times the system time with jemalloc (docs/benchmarks.md). malloc keeps and reuses
    what it has. Values are not affected."""
    import pyarrow

    pyarrow.set_memory_pool(pyarrow.system_memory_pool())


def proxy_headers_only_when_trusted() -> None:
    """Let the web server (uvicorn) rewrite a request's scheme and client address from `X-Forwarded-Proto`
    / `X-Forwarded-For` only with `FT_TRUST_PROXY=1`. Uvicorn does it by default for any peer on 127.0.0.1,
    so anything that relays requests from this machine would let the sender choose the scheme (a Secure
    cookie) and the address the login throttle counts; FT_TRUST_PROXY is the one switch. `streamlit run`
    has built uvicorn's config before it imports the app, but wraps the app in uvicorn's
    ProxyHeadersMiddleware only after: the class it takes is made to trust no peer
    (tests/app/test_server_http.py checks it over real HTTP)."""
    if logins.trusts_proxy():
        return
    os.environ["FORWARDED_ALLOW_IPS"] = ""  # for a server built after this
    import uvicorn.config
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    class TrustNoPeer(ProxyHeadersMiddleware):
        def __init__(self, app: ASGIApp, trusted_hosts: object = None) -> None:
            super().__init__(app, trusted_hosts=[])

    uvicorn.config.ProxyHeadersMiddleware = TrustNoPeer


def open_store_or_exit() -> None:
    """Open the store now and start the backup schedule; when that fails (another process holds the file, a
    bad FT_BACKUP_* setting), print one line and exit 1. Files the app creates from here on (the store's WAL,
    backups, uploads) are the service user's alone, as the systemd unit's UMask=0077 makes them."""
    os.umask(os.umask(0o077) | 0o077)
    try:
        backup.ensure_schedule(store())  # the scheduled backups (FT_BACKUP_*), one thread per process
    except (StoreError, backup.BackupError) as e:
        print(f"error: the app does not start: {e}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def is_https(request: Request) -> bool:
    """Whether the browser reached us over https: directly, or through our own proxy that says so (its
    `X-Forwarded-Proto` / `Forwarded` headers are read only with `FT_TRUST_PROXY=1`: anyone can send them)."""
    if request.url.scheme == "https":
        return True
    if not logins.trusts_proxy():
        return False
    forwarded_proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    forwarded = request.headers.get("forwarded", "").lower().replace(" ", "")
    return forwarded_proto == "https" or "proto=https" in forwarded


def is_cross_site(request: HTTPConnection) -> bool:
    """Whether a browser says this request comes from another site: `Sec-Fetch-Site` other than
    same-origin, or an `Origin` whose host is not the one asked (`Host`, or the proxy's `X-Forwarded-Host`
    when it is trusted). A client that sends neither (curl, a script) is no browser a login CSRF could ride
    on."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() != "same-origin":
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = request.headers.get("host", "")
    if logins.trusts_proxy():
        host = request.headers.get("x-forwarded-host", host).split(",")[0].strip()
    return origin == "null" or urlsplit(origin).netloc.lower() != host.lower()


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
    if is_cross_site(request):  # a login CSRF: another site's page posting a ticket of its own
        return _no_store(Response(status_code=403))
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
    if is_cross_site(request):
        return _no_store(Response(status_code=403))
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


_METRICS = re.compile(r"(^|/)_stcore/metrics/?$")
# Streamlit's media endpoint, `[/base-url]/media/<file id>`, never its bundled assets under `/static/media/`
# (the fonts and icons every page, the login page included, loads before any session exists)
_MEDIA = re.compile(r"(^|/)(?<!static/)media/")
SECURITY_HEADERS = {
    "content-security-policy": "frame-ancestors 'self'",
    "x-frame-options": "SAMEORIGIN",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class Guard:
    """Pure ASGI middleware around every HTTP request of the server (websockets pass untouched): closes
    `/_stcore/metrics`, serves `/media/...` only to a browser holding a live session's cookie, and adds
    SECURITY_HEADERS to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        refused = None
        if _METRICS.search(path):
            refused = Response(status_code=404)
        elif _MEDIA.search(path) and not await _live_cookie(HTTPConnection(scope)):
            refused = _no_store(Response(status_code=403))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        if refused is not None:
            await refused(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)


async def _live_cookie(connection: HTTPConnection) -> bool:
    token = connection.cookies.get(sessions.COOKIE_NAME)
    return bool(token) and await run_in_threadpool(sessions.resume, store(), token) is not None


MIDDLEWARE = [Middleware(Guard)]
