"""What every page shares: the store connection, the logged-in user, and the role guard.

Use at the top of a page:

    from pages.shared import require_role, store
    user = require_role("researcher")          # stops the page for anyone else (a URL cannot bypass it)
    con = store()                              # the app's single read-write DuckDB connection

API (keep it small):
- `store()`: the cached connection to `$FT_APP_DB` (default data/app.duckdb), migrations applied; the first call
  on an empty store creates the researcher `admin` and prints its password once (`$FT_ADMIN_PASSWORD` sets it).
  Pass it to `annotations.*` functions; they take cursors per thread themselves.
- `runs_dir()`: `$FT_RUNS_DIR` (default runs/) as a Path.
- `current_user()`: the logged-in `annotations.users.User`, or None.
- `require_role(*roles)`: the user when their role is allowed, else an error on the page and `st.stop()`.
- `link(page, label, icon)`: a link to another page; plain text where the page runs alone (AppTest of one file).
- `log_in(user)`, `log_out()`: keep only the user id in `st.session_state` (never anything about systems).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import streamlit as st
from streamlit.errors import StreamlitAPIException

from annotations import db, users
from annotations.users import User

_USER_KEY = "user_id"


@st.cache_resource(show_spinner=False)
def _open_store(path: str) -> duckdb.DuckDBPyConnection:
    con = db.connect(path)
    users.ensure_admin(con)
    return con


def store() -> duckdb.DuckDBPyConnection:
    """The app's one read-write connection to the DuckDB store (cached for the process)."""
    return _open_store(str(db.default_path().resolve()))


def runs_dir() -> Path:
    """Where run folders live: `$FT_RUNS_DIR`, default `runs/` under the project."""
    env = os.environ.get("FT_RUNS_DIR")
    return Path(env) if env else db.PROJECT_ROOT / "runs"


def current_user() -> User | None:
    """The logged-in user (re-read from the store, so a disabled account is logged out at once)."""
    user_id = st.session_state.get(_USER_KEY)
    if not user_id:
        return None
    user = users.get_user(store(), user_id)
    if user is None:
        st.session_state.pop(_USER_KEY, None)
    return user


def require_role(*roles: str) -> User:
    """Return the current user if their role is in `roles`; otherwise say so and stop the page."""
    user = current_user()
    if user is None:
        st.error("Please log in first.")
        st.stop()
    if user.role not in roles:
        st.error("You do not have access to this page.")
        st.stop()
    return user


def log_in(user: User) -> None:
    """Remember the user for this browser session."""
    st.session_state[_USER_KEY] = user.user_id


def log_out() -> None:
    """Forget the user and everything this session remembered."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def link(page: str, label: str, icon: str) -> None:
    """A link to another page; plain text where the page runs alone (AppTest of one file)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:
        st.markdown(f"{label}: the **{page.split('/')[-1][:-3].capitalize()}** page")
