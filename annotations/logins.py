"""Logging in with a throttle: a growing back-off per account and per client address, and a lock after N failures.

`log_in` is what the login page calls. It asks the throttle first, so a refused attempt costs no argon2 work, and
lets only one password check per username and per address run at a time (sessions guessing in parallel would
otherwise all pass before the first failure is written): a second one waits for the first, then asks the throttle
again, so annotators behind one address who log in at the same moment all get in, one after the other.
`annotations.users` bounds the argon2 computations that do run. Then it checks the password, records the verdict
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

import contextlib
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb
import pandas as pd

from annotations import store, users
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


@dataclass(frozen=True)
class Throttle:
    """What the attempts table says about the next try: when the username and the address may try again."""

    name_free_at: datetime
    client_free_at: datetime
    locked: bool  # the username reached lock_after failures

    def wait(self, now: datetime) -> float:
        return max(0.0, (max(self.name_free_at, self.client_free_at) - now).total_seconds())


def throttle(
    con: duckdb.DuckDBPyConnection,
    key: str,
    client: str,
    settings: LoginSettings | None = None,
    now: datetime | None = None,
) -> Throttle:
    """Read the throttle's state for a username key and a client from `login_attempts`."""
    settings = settings or LoginSettings.from_env()
    now = now or store.utcnow()
    window_start = now - timedelta(minutes=settings.lock_minutes)
    cur = store.read(con)
    last_success = cur.execute(
        "SELECT max(attempted_at) FROM login_attempts WHERE username_key = ? AND outcome = 'success'", [key]
    ).fetchone()[0]
    n_name, last_name = _failures(cur, "username_key", key, max(window_start, last_success or window_start))
    n_client, last_client = _failures(cur, "client", client, window_start)
    locked = n_name >= settings.lock_after
    if locked:
        name_free_at = last_name + timedelta(minutes=settings.lock_minutes)
    else:
        name_free_at = last_name + settings.backoff(n_name) if n_name else now
    client_free_at = last_client + settings.backoff(n_client) if n_client else now
    return Throttle(name_free_at, client_free_at, locked)


def wait_before_next(
    con: duckdb.DuckDBPyConnection,
    key: str,
    client: str,
    settings: LoginSettings | None = None,
    now: datetime | None = None,
) -> tuple[float, bool]:
    """(seconds to wait before this username may be tried from this client, whether the username is locked)."""
    now = now or store.utcnow()
    state = throttle(con, key, client, settings, now)
    wait = state.wait(now)
    return wait, state.locked and wait > 0


# The throttle's answers, remembered per store until they lapse: a refused try then costs a dictionary lookup, not
# three queries (sessions that guess flat out would otherwise compete with annotators for the cores). The table
# stays the truth: this process writes every attempt, and an empty memory (a restart) asks the table.
_FREE_AT: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, dict[tuple[str, str], list]] = (
    weakref.WeakKeyDictionary()
)
_FREE_AT_LOCK = threading.Lock()
_FREE_AT_MAX = 10_000


def _remembered(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list]:
    with _FREE_AT_LOCK:
        return _FREE_AT.setdefault(con, {})


def _remember(memory: dict, key: str, client: str, state: Throttle, now: datetime) -> None:
    with _FREE_AT_LOCK:
        if len(memory) > _FREE_AT_MAX:
            for stale in [k for k, (free_at, _) in memory.items() if free_at <= now]:
                del memory[stale]
        for entry, free_at in (
            (("name", key), state.name_free_at),
            (("client", client), state.client_free_at),
        ):
            if free_at > now:
                memory[entry] = [free_at, False]  # [free at, refusal logged]
            else:
                memory.pop(entry, None)


def _refuse(memory: dict, typed: str, key: str, client: str, now: datetime) -> LoginResult | None:
    """The refusal when a remembered back-off or lock still runs (logged once per back-off), else None."""
    with _FREE_AT_LOCK:
        running = [
            memory[e] for e in (("name", key), ("client", client)) if e in memory and memory[e][0] > now
        ]
        if not running:
            return None
        wait = max(free_at for free_at, _ in running) - now
        first = not all(logged for _, logged in running)
        for entry in running:
            entry[1] = True
    if first:
        _LOG.warning(
            "login refused for %r from %s: throttled for %.0f s more (further refusals until then not logged)",
            typed,
            client,
            wait.total_seconds(),
        )
    seconds = wait.total_seconds()
    return LoginResult(None, f"Too many failed logins. Try again in {_wait_text(seconds)}.", seconds)


def _record(
    con: duckdb.DuckDBPyConnection, typed: str, key: str, client: str, outcome: str, now: datetime
) -> None:
    store.write(
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
    now_given = now is not None
    now = now or store.utcnow()
    typed = (username or "")[:_TYPED_MAX]
    key = users.username_key(users.clean_username(typed))
    memory = _remembered(con)
    refused = _refuse(memory, typed, key, client, now)
    if refused is None:
        _remember(memory, key, client, throttle(con, key, client, settings, now), now)
        refused = _refuse(memory, typed, key, client, now)
    if refused is not None:
        return refused
    deadline = time.monotonic() + _IN_FLIGHT_WAIT_S
    while time.monotonic() < deadline:
        with _one_check_at_a_time(key, client, deadline) as alone:
            if alone:
                result = _check_password(con, typed, password, key, client, settings, now)
                _remember(memory, key, client, throttle(con, key, client, settings, now), now)
                return result
        # Another check of this name or from this address ran meanwhile (sessions guessing in parallel would all
        # pass the throttle before the first failure is recorded; annotators behind one address log in at once):
        # ask the throttle again with what that check recorded.
        now = now if now_given else store.utcnow()
        _remember(memory, key, client, throttle(con, key, client, settings, now), now)
        refused = _refuse(memory, typed, key, client, now)
        if refused is not None:
            return refused
    return LoginResult(None, "Too many logins at once. Try again in 1 s.", 1.0)


_IN_FLIGHT: set[tuple[str, str]] = set()
_IN_FLIGHT_CHANGED = threading.Condition()
_IN_FLIGHT_WAIT_S = 10.0  # longest wait for another check of the same name or address before refusing


@contextlib.contextmanager
def _one_check_at_a_time(key: str, client: str, deadline: float) -> Iterator[bool]:
    """Whether this check may run now: True when no other password check of this username key or from this client
    runs in the process. Otherwise waits until the one running ends or the (monotonic) deadline passes, and says
    False: ask the throttle again first."""
    mine = {("name", key), ("client", client)}
    with _IN_FLIGHT_CHANGED:
        alone = not (mine & _IN_FLIGHT)
        if alone:
            _IN_FLIGHT.update(mine)
        else:
            _IN_FLIGHT_CHANGED.wait_for(
                lambda: not (mine & _IN_FLIGHT), timeout=max(0.0, deadline - time.monotonic())
            )
    try:
        yield alone
    finally:
        if alone:
            with _IN_FLIGHT_CHANGED:
                _IN_FLIGHT.difference_update(mine)
                _IN_FLIGHT_CHANGED.notify_all()


def _check_password(
    con: duckdb.DuckDBPyConnection,
    typed: str,
    password: str,
    key: str,
    client: str,
    settings: LoginSettings,
    now: datetime,
) -> LoginResult:
    try:
        user = users.authenticate(con, typed, password)
    except AuthError:
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
    _record(con, typed, key, client, "success", now)
    return LoginResult(user)


def recent_attempts(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    """The newest login attempts: attempted_at, username (as typed), client, outcome."""
    return (
        store.read(con)
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
    now = now or store.utcnow()
    window_start = now - timedelta(minutes=settings.lock_minutes)
    frame = (
        store.read(con)
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
