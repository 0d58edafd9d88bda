"""Login sessions that survive a reload, a new tab and an app restart, and end on logout, expiry or
revocation.

How the pieces fit (pages/shared.py, pages/server.py): logging in creates a row here and a one-use ticket; the
page hands the ticket to the browser, which trades it at `POST /_ft/session` (a route of the app server,
pages/server.py) for an HttpOnly, SameSite=Strict cookie holding a fresh random token. The store keeps only
SHA-256 hashes of the token and of the ticket. A new tab, a reload or a restarted app finds the session
through the cookie (`resume`); the tab that logged in keeps the row's `session_id` on the server. Every rerun
of every tab checks its session here (`check`), so a logout, a disabled account or a changed password ends
every tab at its next action.

Settings (environment): `FT_SESSION_IDLE_HOURS` (default 12: a session unused that long ends) and
`FT_SESSION_MAX_DAYS` (default 7: no session lives longer, used or not).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from annotations import store
from annotations.errors import WriteFailed

COOKIE_NAME = "ft_session"
_LANE = "auth"  # sessions and login attempts: no other lane's checks read these tables


@dataclass(frozen=True)
class SessionSettings:
    """How long sessions live; `from_env()` reads the FT_SESSION_* variables."""

    idle: timedelta = field(default=timedelta(hours=12), metadata={"help": "ends after this long unused"})
    lifetime: timedelta = field(default=timedelta(days=7), metadata={"help": "ends this long after login"})
    touch_every: timedelta = field(
        default=timedelta(minutes=1), metadata={"help": "last_seen_at is written at most this often"}
    )
    ticket_ttl: timedelta = field(
        default=timedelta(minutes=2),
        metadata={"help": "the page must trade its ticket for the cookie by then"},
    )

    def __post_init__(self) -> None:
        if self.idle <= timedelta(0) or self.lifetime <= timedelta(0):
            raise ValueError("session idle time and lifetime must be positive")

    @classmethod
    def from_env(cls) -> SessionSettings:
        return cls(
            idle=timedelta(hours=float(os.environ.get("FT_SESSION_IDLE_HOURS", "12"))),
            lifetime=timedelta(days=float(os.environ.get("FT_SESSION_MAX_DAYS", "7"))),
        )


@dataclass(frozen=True)
class Session:
    """A live session: whose it is and when it ends at the latest."""

    session_id: str
    user_id: str
    expires_at: datetime


@dataclass(frozen=True)
class NewSession:
    """A session just started: its id (kept server side) and the one-use ticket the browser trades for a
    cookie."""

    session_id: str
    ticket: str


@dataclass(frozen=True)
class Cookie:
    """The token to put in the browser's cookie and how many seconds it may live."""

    token: str
    max_age: int


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a token or ticket: what the store keeps instead of the secret."""
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    con: duckdb.DuckDBPyConnection,
    user_id: str,
    client: str | None = None,
    settings: SessionSettings | None = None,
    now: datetime | None = None,
) -> NewSession:
    """Start a session for a user who just proved their password."""
    return store.write(con, lambda cur: insert_session(cur, user_id, client, settings, now), lane=_LANE)


def insert_session(
    cur: duckdb.DuckDBPyConnection,
    user_id: str,
    client: str | None = None,
    settings: SessionSettings | None = None,
    now: datetime | None = None,
) -> NewSession:
    """Inside a write transaction: start a session (a study's first arrival makes the account, the session
    and the binding to it in one transaction, annotations/crowd/participants.py)."""
    settings = settings or SessionSettings.from_env()
    now = now or store.utcnow()
    session_id, ticket = store.new_id("ses-"), secrets.token_urlsafe(32)
    cur.execute(
        "INSERT INTO sessions (session_id, user_id, ticket_hash, ticket_expires_at, client, created_at, "
        "last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            session_id,
            user_id,
            token_hash(ticket),
            now + settings.ticket_ttl,
            client,
            now,
            now,
            now + settings.lifetime,
        ],
    )
    return NewSession(session_id, ticket)


_LIVE = (
    "s.revoked_at IS NULL AND s.expires_at > ? AND s.last_seen_at > ? "
    "AND EXISTS (SELECT 1 FROM users u WHERE u.user_id = s.user_id AND u.active)"
)


def issue_cookie(
    con: duckdb.DuckDBPyConnection,
    ticket: str,
    settings: SessionSettings | None = None,
    now: datetime | None = None,
) -> Cookie | None:
    """Trade a ticket (once, before it expires) for the cookie's token; None for an unknown, used or late
    ticket.

    The token is new here and only its hash is stored, so the ticket that travelled through the page is
    worthless once used.
    """
    settings = settings or SessionSettings.from_env()
    now = now or store.utcnow()
    token = secrets.token_urlsafe(32)

    def work(cur: duckdb.DuckDBPyConnection) -> datetime | None:
        row = cur.execute(
            f"SELECT s.session_id, s.expires_at FROM sessions s WHERE s.ticket_hash = ? "
            f"AND s.ticket_expires_at > ? AND {_LIVE}",
            [token_hash(ticket), now, now, now - settings.idle],
        ).fetchone()
        if row is None:
            return None
        session_id, expires_at = row
        cur.execute(
            "UPDATE sessions SET token_hash = ?, ticket_hash = NULL, ticket_expires_at = NULL WHERE "
            "session_id = ?",
            [token_hash(token), session_id],
        )
        return expires_at

    expires_at = store.write(con, work, lane=_LANE)
    if expires_at is None:
        return None
    return Cookie(token, max(1, int((expires_at - now).total_seconds())))


def _live(
    con: duckdb.DuckDBPyConnection, column: str, value: str, settings: SessionSettings, now: datetime
) -> Session | None:
    row = (
        store.read(con)
        .execute(
            f"SELECT s.session_id, s.user_id, s.expires_at, s.last_seen_at FROM sessions s "
            f"WHERE s.{column} = ? AND {_LIVE}",
            [value, now, now - settings.idle],
        )
        .fetchone()
    )
    if row is None:
        return None
    session_id, user_id, expires_at, last_seen_at = row
    # idle expiry counts from the last use; one write a minute at most
    if now - last_seen_at >= settings.touch_every:
        try:
            store.write_statement(
                con,
                "UPDATE sessions SET last_seen_at = ? WHERE session_id = ? AND last_seen_at < ?",
                [now, session_id, now],
                lane=_LANE,
            )
        except WriteFailed:
            # a full disk: the session stays usable (pages keep reading); the mark is retried next minute
            pass
    return Session(session_id, user_id, expires_at)


def check(
    con: duckdb.DuckDBPyConnection,
    session_id: str,
    settings: SessionSettings | None = None,
    now: datetime | None = None,
) -> Session | None:
    """The session if it is still live (not revoked, not expired, account active), else None; marks it
    used."""
    return _live(con, "session_id", session_id, settings or SessionSettings.from_env(), now or store.utcnow())


def resume(
    con: duckdb.DuckDBPyConnection,
    token: str,
    settings: SessionSettings | None = None,
    now: datetime | None = None,
) -> Session | None:
    """The live session whose cookie holds this token, else None; marks it used."""
    if not token:
        return None
    return _live(
        con, "token_hash", token_hash(token), settings or SessionSettings.from_env(), now or store.utcnow()
    )


def _revoke(con: duckdb.DuckDBPyConnection, column: str, value: str, reason: str) -> None:
    store.write_statement(
        con,
        f"UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE {column} = ? AND revoked_at IS NULL",
        [store.utcnow(), reason, value],
        lane=_LANE,
    )


def revoke(con: duckdb.DuckDBPyConnection, session_id: str, reason: str = "logout") -> None:
    """End one session now (every tab that shares it asks for the password at its next action)."""
    _revoke(con, "session_id", session_id, reason)


def revoke_token(con: duckdb.DuckDBPyConnection, token: str, reason: str = "logout") -> None:
    """End the session a cookie's token belongs to, if any."""
    _revoke(con, "token_hash", token_hash(token), reason)


def revoke_all(cur: duckdb.DuckDBPyConnection, user_id: str, reason: str, keep: str | None = None) -> None:
    """Inside a write transaction: end every session of a user except `keep` (disabled account, new
    password)."""
    cur.execute(
        "UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
        "WHERE user_id = ? AND revoked_at IS NULL AND session_id IS DISTINCT FROM ?",
        [store.utcnow(), reason, user_id, keep],
    )


def list_sessions(con: duckdb.DuckDBPyConnection, user_id: str) -> list[tuple]:
    """(session_id, created_at, last_seen_at, expires_at, revoked_at, revoked_reason) of a user, newest
    first."""
    return (
        store.read(con)
        .execute(
            "SELECT session_id, created_at, last_seen_at, expires_at, revoked_at, revoked_reason FROM "
            "sessions WHERE user_id = ? ORDER BY created_at DESC",
            [user_id],
        )
        .fetchall()
    )
