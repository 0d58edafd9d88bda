"""Logging in with a throttle: a growing back-off per account and per client address, and a lock after N failures.

`log_in` is what the login page calls. It asks the throttle first, so a refused attempt costs no argon2 work (and
`annotations.users` bounds the argon2 computations that do run); then it checks the password, records the verdict
in `login_attempts` (time, the username as typed, the client) and logs each failure on one line of the server log.

The throttle counts failures by the canonical username that was typed (`users.username_key`), whether or not such
an account exists, so a back-off or a lock reads and takes the same for an unknown name: it never tells whether a
username exists. An account's failures count from its last successful login, within the last `lock_minutes`; an
address's failures count within the last `lock_minutes` (a success does not clear them, or one valid account would
unlock guessing at all others from that address).

Settings (environment): `FT_LOGIN_LOCK_AFTER` (default 5 failures), `FT_LOGIN_LOCK_MINUTES` (15),
`FT_LOGIN_BACKOFF_SECONDS` (1: the wait after the first failure; it doubles with each further one),
`FT_LOGIN_MAX_BACKOFF_SECONDS` (60), `FT_TRUST_PROXY` (1: take the client address from `X-Forwarded-For`, only
behind a reverse proxy that sets it).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import pandas as pd

from annotations import db, users
from annotations.errors import AuthError
from annotations.users import User

_LOG = logging.getLogger("annotations.logins")
_LANE = "auth"
_TYPED_MAX = 200  # characters of a typed username kept in login_attempts and the log
LOCAL_CLIENT = "local"


@dataclass(frozen=True)
class LoginSettings:
    """The throttle's knobs; `from_env()` reads the FT_LOGIN_* variables."""

    lock_after: int = field(default=5, metadata={"help": "failures for one username that lock it"})
    lock_minutes: float = field(
        default=15, metadata={"help": "how long a lock lasts; failures older are forgotten"}
    )
    backoff_seconds: float = field(
        default=1.0, metadata={"help": "wait after the first failure; doubles after each"}
    )
    max_backoff_seconds: float = field(
        default=60.0, metadata={"help": "the longest back-off (a lock is longer)"}
    )

    def __post_init__(self) -> None:
        if (
            self.lock_after < 1
            or self.lock_minutes <= 0
            or self.backoff_seconds < 0
            or self.max_backoff_seconds < 0
        ):
            raise ValueError("login throttle: lock_after >= 1, lock_minutes > 0 and back-offs >= 0")

    @classmethod
    def from_env(cls) -> LoginSettings:
        return cls(
            lock_after=int(os.environ.get("FT_LOGIN_LOCK_AFTER", "5")),
            lock_minutes=float(os.environ.get("FT_LOGIN_LOCK_MINUTES", "15")),
            backoff_seconds=float(os.environ.get("FT_LOGIN_BACKOFF_SECONDS", "1")),
            max_backoff_seconds=float(os.environ.get("FT_LOGIN_MAX_BACKOFF_SECONDS", "60")),
        )

    def backoff(self, failures: int) -> timedelta:
        """The wait after `failures` failures in a row: backoff_seconds * 2**(failures - 1), capped."""
        if failures <= 0:
            return timedelta(0)
        return timedelta(
            seconds=min(self.backoff_seconds * 2 ** min(failures - 1, 30), self.max_backoff_seconds)
        )


@dataclass(frozen=True)
class LoginResult:
    """The verdict: the user, or a one-line message (and how long to wait before the next try, if refused)."""

    user: User | None
    message: str | None = None
    retry_after_s: float = 0.0


def client_address(ip_address: str | None, headers: Mapping[str, str] | None = None) -> str:
    """Who is knocking: the connection's address ('local' for loopback), or with `FT_TRUST_PROXY=1` the address
    the nearest proxy appended to `X-Forwarded-For` (trusting that header without a proxy lets anyone pick one)."""
    if os.environ.get("FT_TRUST_PROXY") == "1" and headers:
        forwarded = headers.get("X-Forwarded-For") or headers.get("x-forwarded-for") or ""
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:100]
    return (ip_address or LOCAL_CLIENT)[:100]


def _failures(
    cur: duckdb.DuckDBPyConnection, column: str, value: str, since: datetime
) -> tuple[int, datetime | None]:
    return cur.execute(
        f"SELECT count(*), max(attempted_at) FROM login_attempts "
        f"WHERE {column} = ? AND outcome = 'failure' AND attempted_at > ?",
        [value, since],
    ).fetchone()


def wait_before_next(
    con: duckdb.DuckDBPyConnection,
    key: str,
    client: str,
    settings: LoginSettings | None = None,
    now: datetime | None = None,
) -> tuple[float, bool]:
    """(seconds to wait before this username may be tried from this client, whether the username is locked)."""
    settings = settings or LoginSettings.from_env()
    now = now or db.utcnow()
    window_start = now - timedelta(minutes=settings.lock_minutes)
    cur = db.read(con)
    last_success = cur.execute(
        "SELECT max(attempted_at) FROM login_attempts WHERE username_key = ? AND outcome = 'success'", [key]
    ).fetchone()[0]
    n_account, last_account = _failures(
        cur, "username_key", key, max(window_start, last_success or window_start)
    )
    n_client, last_client = _failures(cur, "client", client, window_start)
    waits = [timedelta(0)]
    locked = n_account >= settings.lock_after
    if locked:
        waits.append(last_account + timedelta(minutes=settings.lock_minutes) - now)
    elif n_account:
        waits.append(last_account + settings.backoff(n_account) - now)
    if n_client:
        waits.append(last_client + settings.backoff(n_client) - now)
    return max(waits).total_seconds(), locked and max(waits) > timedelta(0)


def _record(
    con: duckdb.DuckDBPyConnection, typed: str, key: str, client: str, outcome: str, now: datetime
) -> None:
    db.write(
        con,
        lambda cur: cur.execute(
            "INSERT INTO login_attempts (attempted_at, username, username_key, client, outcome) VALUES (?, ?, ?, ?, ?)",
            [now, typed, key, client, outcome],
        ),
        lane=_LANE,
    )


def _wait_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, math.ceil(seconds))} s"
    return f"{math.ceil(seconds / 60)} min"


def log_in(
    con: duckdb.DuckDBPyConnection,
    username: str,
    password: str,
    client: str = LOCAL_CLIENT,
    settings: LoginSettings | None = None,
    now: datetime | None = None,
) -> LoginResult:
    """Check a login through the throttle; the result holds the user, or the one-line message to show."""
    settings = settings or LoginSettings.from_env()
    typed = (username or "")[:_TYPED_MAX]
    key = users.username_key(users.clean_username(typed))
    wait, locked = wait_before_next(con, key, client, settings, now)
    if wait > 0:
        _LOG.warning("login refused for %r from %s: throttled for %.0f s more", typed, client, wait)
        return LoginResult(None, f"Too many failed logins. Try again in {_wait_text(wait)}.", wait)
    try:
        user = users.authenticate(con, typed, password)
    except AuthError:
        now = now or db.utcnow()
        _record(con, typed, key, client, "failure", now)
        wait, locked = wait_before_next(con, key, client, settings, now)
        _LOG.warning(
            "failed login for %r from %s; next try allowed in %.0f s%s",
            typed,
            client,
            wait,
            " (locked)" if locked else "",
        )
        later = f" Try again in {_wait_text(wait)}." if wait > 0 else ""
        return LoginResult(None, f"Wrong username or password.{later}", wait)
    _record(con, typed, key, client, "success", now or db.utcnow())
    return LoginResult(user)


def recent_attempts(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    """The newest login attempts: attempted_at, username (as typed), client, outcome."""
    return (
        db.read(con)
        .execute(
            "SELECT attempted_at, username, client, outcome FROM login_attempts ORDER BY attempted_at DESC LIMIT ?",
            [limit],
        )
        .df()
    )


def locked_usernames(
    con: duckdb.DuckDBPyConnection, settings: LoginSettings | None = None, now: datetime | None = None
) -> pd.DataFrame:
    """Usernames (canonical) locked right now, with their failures and when the lock ends."""
    settings = settings or LoginSettings.from_env()
    now = now or db.utcnow()
    window_start = now - timedelta(minutes=settings.lock_minutes)
    frame = (
        db.read(con)
        .execute(
            "SELECT f.username_key, count(*) AS failures, max(f.attempted_at) AS last_failure FROM login_attempts f "
            "WHERE f.outcome = 'failure' AND f.attempted_at > ? AND f.attempted_at > coalesce(("
            "  SELECT max(s.attempted_at) FROM login_attempts s "
            "  WHERE s.username_key = f.username_key AND s.outcome = 'success'), ?) "
            "GROUP BY f.username_key HAVING count(*) >= ? ORDER BY last_failure DESC",
            [window_start, window_start, settings.lock_after],
        )
        .df()
    )
    frame["locked_until"] = frame["last_failure"] + pd.Timedelta(minutes=settings.lock_minutes)
    return frame
