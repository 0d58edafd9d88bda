"""What every page shares: the store connection, the logged-in user, and the role guard.

Use at the top of a page:

    from pages.shared import require_role, store
    user = require_role("researcher")          # stops the page for anyone else (a URL cannot bypass it)
    con = store()                              # the app's single read-write DuckDB connection

API (keep it small):
- `store()`: the process's connection to `$FT_APP_DB` (default data/app.duckdb), migrations applied; the first
  call on an empty store creates the researcher `admin` and prints its password once (`$FT_ADMIN_PASSWORD`
  sets it). Pass it to `annotations.*` functions; they take cursors per thread themselves. The web server
  opens it before the first request (pages/server.py), so a second app on a held file stops at once.
- `runs_dir()`: `$FT_RUNS_DIR` (default runs/) as a Path.
- `current_user()`: the logged-in `annotations.accounts.users.User`, or None. Checked against the sessions
  table on every call: a session revoked elsewhere (logout in another tab, account disabled, password changed)
  or expired logs this tab out at its next action.
- `require_role(*roles)`: the user when their role is allowed, else an error on the page and `st.stop()`.
- `signed_in(callback)`: wraps a widget callback so it does nothing once the session has ended (Streamlit runs
  callbacks before the page script, so a page's own `require_role` comes too late for them).
- `while_signed_in(data)`: wraps a download button's deferred data function (`st.download_button(data=...)`),
  which Streamlit runs on the click outside any script run, so it refuses once the session that drew the
  button ended.
- `link(page, label, icon)`: a link to another page; plain text where the page runs alone (AppTest of one
  file).
- `log_in(user)`, `log_out()`: start / end the session. The tab keeps only the session id in
  `st.session_state`;
  the browser gets an HttpOnly cookie through `cookie_exchange()` (see annotations/accounts/sessions.py).
- `client()`: the visitor's address for the login throttle (annotations/accounts/logins.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec

import duckdb
import streamlit as st
from streamlit.errors import StreamlitAPIException

from annotations.accounts import logins, sessions, users
from annotations.accounts.users import User
from annotations.errors import AuthError
from annotations.store import connect as connect_store
from annotations.store import default_target
from jobs import processes

# Options a page sends to the browser in one select box: the Results page's example browser lists this many
# items and takes any other item id typed by hand (30,000 options cost the browser tens of MB and a visible
# pause per visit: docs/benchmarks.md).
LISTED_ITEMS = 200

SESSION_KEY = "session_id"
_USER_KEY = "user_id"  # who the session belongs to, for display; the session id is what is checked
_TICKET_KEY = "_cookie_ticket"
_FORGET_KEY = "_forget_cookie"
_DROPPED_KEY = "_cookie_dropped"
_STORES: dict[str, duckdb.DuckDBPyConnection] = {}
_STORES_LOCK = threading.Lock()

P = ParamSpec("P")


def _open_store(path: str) -> duckdb.DuckDBPyConnection:
    # A plain process-wide cache rather than st.cache_resource: the web server opens the store at import time,
    # outside any script run, and the pages must get that same connection.
    with _STORES_LOCK:
        if path not in _STORES:
            con = connect_store(path)
            users.ensure_admin(con)
            _STORES[path] = con
        return _STORES[path]


def store() -> duckdb.DuckDBPyConnection:
    """The app's one read-write connection to the store (cached for the process): the DuckDB file, or the
    PostgreSQL store `FT_APP_DB` names."""
    target = default_target()
    return _open_store(target if isinstance(target, str) else str(target.resolve()))


def runs_dir() -> Path:
    """Where run folders live: `$FT_RUNS_DIR`, default `runs/` under the project (the scheduler's too)."""
    return processes.runs_dir()


def client() -> str:
    """The visitor's address as the login throttle counts it ('local' for loopback)."""
    ip_address, headers = st.context.ip_address, st.context.headers
    return logins.client_address(ip_address if isinstance(ip_address, str) else None, headers)


def _forget_session() -> None:
    for key in (SESSION_KEY, _USER_KEY, _TICKET_KEY):
        st.session_state.pop(key, None)


def current_user() -> User | None:
    """The logged-in user, or None; the session is checked against the store on every call."""
    con = store()
    session_id = st.session_state.get(SESSION_KEY)
    cookie = st.context.cookies.get(sessions.COOKIE_NAME)
    cookie = cookie if isinstance(cookie, str) else ""  # AppTest has no browser: no cookies
    # The tab that logged in knows its session; a reload, a new tab or a restarted app finds it by the cookie.
    session = sessions.check(con, session_id) if session_id else sessions.resume(con, cookie)
    user = users.get_user(con, session.user_id) if session else None
    if user is None:
        _forget_session()
        if (session_id or cookie) and not st.session_state.get(_DROPPED_KEY):
            # The session ended: ask the server (once per tab) to drop the browser's cookie if it is dead.
            st.session_state[_FORGET_KEY] = st.session_state[_DROPPED_KEY] = True
        return None
    st.session_state[SESSION_KEY] = session.session_id
    st.session_state[_USER_KEY] = user.user_id
    return user


def require_role(*roles: str) -> User:
    """Return the current user if their role is in `roles`; otherwise say so and stop the page."""
    user = current_user()
    if user is None:
        st.error("Please log in first.")
        st.stop()
    if user.must_change_password:
        st.error("Please choose a new password first.")
        st.stop()
    if user.role not in roles:
        st.error("You do not have access to this page.")
        st.stop()
    return user


def signed_in(callback: Callable[P, None]) -> Callable[P, None]:
    """`on_click=signed_in(f)`: run `f` only while this tab's session is live (else the page shows the
    login)."""

    @wraps(callback)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        session_id = st.session_state.get(SESSION_KEY)
        if session_id and sessions.check(store(), session_id) is not None:
            callback(*args, **kwargs)

    return guarded


def while_signed_in(data: Callable[[], bytes]) -> Callable[[], bytes]:
    """`st.download_button(data=while_signed_in(f))`: make the file only while the session that drew the
    button is live. Streamlit runs the function on the click, in a thread of its own without this tab's
    state, so the session is taken now and checked then; an ended one raises AuthError (the button says the
    download failed)."""
    session_id = st.session_state.get(SESSION_KEY)

    @wraps(data)
    def guarded() -> bytes:
        if not session_id or sessions.check(store(), session_id) is None:
            raise AuthError("the session that drew this button has ended: log in again")
        return data()

    return guarded


def _drop_media() -> None:
    """Forget the files this tab's runs put in Streamlit's media store (images, downloads ready to fetch):
    what no other tab uses goes at once. `/media/...` needs a live session's cookie anyway
    (pages/server.py)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return
    media = Runtime.instance().media_file_mgr
    media.clear_session_refs(ctx.session_id)
    media.remove_orphaned_files()


def log_in(user: User, started: sessions.NewSession | None = None) -> None:
    """Start a session for this user (or take one just `started`, as a study's first arrival makes it): this
    tab keeps its id; the browser gets its cookie at the next rerun."""
    started = started or sessions.start(store(), user.user_id, client())
    st.session_state[SESSION_KEY] = started.session_id
    st.session_state[_USER_KEY] = user.user_id
    st.session_state[_TICKET_KEY] = started.ticket
    st.session_state.pop(_FORGET_KEY, None)
    st.session_state.pop(_DROPPED_KEY, None)


def log_out() -> None:
    """End the session everywhere (every tab that shares it) and forget everything this tab remembered."""
    session_id = st.session_state.get(SESSION_KEY)
    if session_id:
        sessions.revoke(store(), session_id, "logout")
    _drop_media()
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[_FORGET_KEY] = st.session_state[_DROPPED_KEY] = True


def cookie_exchange() -> None:
    """Once after a login: trade the ticket for the HttpOnly cookie. Once after a logout: drop the cookie.

    Both are requests to the app's own routes (pages/server.py), sent by a one-line script in the page, so the
    cookie is set by the server's response (HttpOnly: no script can read it) and never holds the ticket. The
    server drops a cookie only when its session has ended, never one that another tab's new login just set.
    """
    ticket = st.session_state.pop(_TICKET_KEY, None)
    forget = st.session_state.pop(_FORGET_KEY, None)
    if ticket:
        body = (
            f"fetch('/_ft/session', {{method: 'POST', body: {json.dumps(ticket)}, credentials: "
            "'same-origin'});"
        )
    elif forget:
        body = "fetch('/_ft/forget', {method: 'POST', credentials: 'same-origin'});"
    else:
        return
    st.html(f"<script>{body}</script>", unsafe_allow_javascript=True, width="content")


def link(page: str, label: str, icon: str) -> None:
    """A link to another page; plain text where the page runs alone (AppTest of one file)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:
        st.markdown(f"{label}: the **{page.split('/')[-1][:-3].capitalize()}** page")
