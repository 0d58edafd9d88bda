"""`login_as(at, user)`: log a user in on an AppTest the way the login page does, with a real session row;
`app_page(name)`: an AppTest of one page file; `open_as(name, user)`: that page as the user first sees it.

A page finds its user through the session id in the tab's state, checked against the store on every run
(pages/shared.py); setting a bare user id in the state logs nobody in.
"""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).resolve().parents[2]


def login_as(at, user):
    """Start a session for `user` in the store the pages use and give `at` its id; returns `at`."""
    from annotations.accounts import sessions
    from pages.shared import SESSION_KEY, store

    at.session_state[SESSION_KEY] = sessions.start(store(), user.user_id).session_id
    return at


def app_page(name: str):
    """An AppTest of one page file (pages/<name>.py) or the entry point ('streamlit_app')."""
    from streamlit.testing.v1 import AppTest

    path = APP / ("streamlit_app.py" if name == "streamlit_app" else f"pages/{name}.py")
    return AppTest.from_file(str(path), default_timeout=60)


def open_as(name: str, user):
    """pages/<name>.py as `user` first sees it: an AppTest logged in and run once."""
    return login_as(app_page(name), user).run()
