"""`login_as(at, user)`: log a user in on an AppTest the way the login page does, with a real session row.

A page finds its user through the session id in the tab's state, checked against the store on every run
(pages/shared.py); setting a bare user id in the state logs nobody in.
"""

from __future__ import annotations


def login_as(at, user):
    """Start a session for `user` in the store the pages use and give `at` its id; returns `at`."""
    from annotations.accounts import sessions
    from pages.shared import SESSION_KEY, store

    at.session_state[SESSION_KEY] = sessions.start(store(), user.user_id).session_id
    return at
