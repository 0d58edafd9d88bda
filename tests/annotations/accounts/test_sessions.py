"""Sessions: only hashes are stored, a ticket is traded once for the cookie's token, idle and absolute expiry,
revocation of one session or of every session of a user."""

from __future__ import annotations

from datetime import timedelta

import pytest

from annotations import store
from annotations.accounts import sessions, users

PASSWORD = "velvet-harbor-pines-29"
SETTINGS = sessions.SessionSettings(idle=timedelta(hours=1), lifetime=timedelta(days=2))


@pytest.fixture
def user(con):
    return users.create_user(con, "sam", PASSWORD)


def _all_values(con) -> str:
    return " ".join(str(v) for row in con.execute("SELECT * FROM sessions").fetchall() for v in row)


def test_the_store_keeps_only_hashes_and_a_ticket_is_traded_once(con, user):
    started = sessions.start(con, user.user_id, "10.0.0.7", SETTINGS)
    cookie = sessions.issue_cookie(con, started.ticket, SETTINGS)
    assert cookie is not None and len(cookie.token) >= 40 and cookie.token != started.ticket
    assert timedelta(days=2) - timedelta(seconds=5) <= timedelta(seconds=cookie.max_age) <= timedelta(days=2)
    stored = _all_values(con)
    assert cookie.token not in stored and started.ticket not in stored
    assert sessions.token_hash(cookie.token) in stored
    assert sessions.issue_cookie(con, started.ticket, SETTINGS) is None  # used
    assert sessions.issue_cookie(con, "made-up", SETTINGS) is None
    found = sessions.resume(con, cookie.token, SETTINGS)
    assert found.session_id == started.session_id and found.user_id == user.user_id
    assert sessions.resume(con, started.ticket, SETTINGS) is None  # the ticket is not a token
    assert sessions.resume(con, "", SETTINGS) is None


def test_a_ticket_must_be_traded_quickly(con, user):
    started = sessions.start(con, user.user_id, settings=SETTINGS)
    late = store.utcnow() + SETTINGS.ticket_ttl + timedelta(seconds=1)
    assert sessions.issue_cookie(con, started.ticket, SETTINGS, now=late) is None


def test_idle_expiry_counts_from_the_last_use(con, user):
    t0 = store.utcnow()
    started = sessions.start(con, user.user_id, settings=SETTINGS, now=t0)
    token = sessions.issue_cookie(con, started.ticket, SETTINGS, now=t0).token
    # used every 50 minutes: it lives on past the one-hour idle limit
    for minutes in (50, 100, 150):
        assert sessions.resume(con, token, SETTINGS, now=t0 + timedelta(minutes=minutes)) is not None
    assert sessions.check(con, started.session_id, SETTINGS, now=t0 + timedelta(minutes=200)) is not None
    # then left alone for more than an hour: gone, by cookie and by id
    later = t0 + timedelta(minutes=200 + 61)
    assert sessions.resume(con, token, SETTINGS, now=later) is None
    assert sessions.check(con, started.session_id, SETTINGS, now=later) is None


def test_absolute_expiry_ends_even_a_busy_session(con, user):
    t0 = store.utcnow()
    started = sessions.start(con, user.user_id, settings=SETTINGS, now=t0)
    token = sessions.issue_cookie(con, started.ticket, SETTINGS, now=t0).token
    at = t0
    while at < t0 + SETTINGS.lifetime - timedelta(minutes=30):
        at += timedelta(minutes=30)
        assert sessions.resume(con, token, SETTINGS, now=at) is not None
    assert sessions.resume(con, token, SETTINGS, now=t0 + SETTINGS.lifetime + timedelta(seconds=1)) is None


def test_last_use_is_written_at_most_once_a_minute(con, user):
    t0 = store.utcnow()
    started = sessions.start(con, user.user_id, settings=SETTINGS, now=t0)

    def last_seen():
        return con.execute(
            "SELECT last_seen_at FROM sessions WHERE session_id = ?", [started.session_id]
        ).fetchone()[0]

    sessions.check(con, started.session_id, SETTINGS, now=t0 + timedelta(seconds=30))
    assert last_seen() == t0
    sessions.check(con, started.session_id, SETTINGS, now=t0 + timedelta(seconds=61))
    assert last_seen() == t0 + timedelta(seconds=61)


def test_revoking_one_session_ends_it_for_every_tab_and_leaves_the_others(con, user):
    first = sessions.start(con, user.user_id, settings=SETTINGS)
    second = sessions.start(con, user.user_id, settings=SETTINGS)
    token = sessions.issue_cookie(con, first.ticket, SETTINGS).token
    sessions.revoke(con, first.session_id, "logout")
    assert sessions.check(con, first.session_id, SETTINGS) is None
    assert sessions.resume(con, token, SETTINGS) is None  # a tab that comes by the cookie too
    assert sessions.check(con, second.session_id, SETTINGS) is not None
    assert sessions.list_sessions(con, user.user_id)[-1][5] == "logout"


def test_a_disabled_account_has_no_live_session(con, user):
    started = sessions.start(con, user.user_id, settings=SETTINGS)
    con.execute("UPDATE users SET active = FALSE WHERE user_id = ?", [user.user_id])  # even without revoking
    assert sessions.check(con, started.session_id, SETTINGS) is None


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("FT_SESSION_IDLE_HOURS", "0.5")
    monkeypatch.setenv("FT_SESSION_MAX_DAYS", "3")
    settings = sessions.SessionSettings.from_env()
    assert settings.idle == timedelta(minutes=30) and settings.lifetime == timedelta(days=3)
    monkeypatch.setenv("FT_SESSION_IDLE_HOURS", "0")
    with pytest.raises(ValueError, match="positive"):
        sessions.SessionSettings.from_env()
