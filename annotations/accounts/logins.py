"""Logging in with a throttle: a growing back-off per username, per client address and per pair of the two,
and a lock of one username from one address after N failures.

`log_in` is what the login page calls. It asks the throttle first, so a refused attempt costs no argon2 work,
and lets only one password check per username and per address run at a time (sessions guessing in parallel
would otherwise all pass before the first failure is written): a second one waits for the first, then asks the
throttle again, so annotators behind one address who log in at the same moment all get in, one after the
other. `annotations.accounts.users` bounds the argon2 computations that do run. Then it checks the password,
records the verdict in `login_attempts` (time, the username as typed, the client) and logs each failure on one
line of the server log.

What counts, within the last `lock_minutes` (failures older are forgotten):
- a username typed from one address (the pair): `lock_after` failures lock that pair until `lock_minutes`
  after the last one; fewer give a back-off that doubles with each. A success of the pair, or a researcher's
  unlock of the name (`unlock`, the Users page), starts the count again.
- an address, whatever names it types: a back-off that doubles with each failure, capped at
  `max_backoff_seconds`, never a lock (a success does not clear it, or one valid account would unlock guessing
  at all others from that address).
- a username, from every address: a back-off capped at `max_backoff_seconds`, never a lock, and only for
  addresses
  that have failed within the window themselves. So nobody can lock an account they do not hold: the right
  password from an address with no failures always gets in, while guessing one name from many addresses still
  waits out the name's back-off from each address's second try on.
The throttle counts by the canonical username that was typed (`users.username_key`), whether or not such an
account exists, so a back-off or a lock reads and takes the same for an unknown name: it never tells whether a
username exists.

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

from annotations import store
from annotations.accounts import users
from annotations.accounts.users import User
from annotations.errors import AuthError

_LOG = logging.getLogger("annotations.accounts.logins")
_LANE = "auth"
_TYPED_MAX = 200  # characters of a typed username kept in login_attempts and the log
LOCAL_CLIENT = "local"


@dataclass(frozen=True)
class LoginSettings:
    """The throttle's knobs; `from_env()` reads the FT_LOGIN_* variables."""

    lock_after: int = field(
        default=5, metadata={"help": "failures of one username from one address that lock the two"}
    )
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


def trusts_proxy() -> bool:
    """Whether `FT_TRUST_PROXY=1`: a reverse proxy of ours sets the `X-Forwarded-*` / `Forwarded` headers,
    so the app may read them. Without one in front, anyone could send them and pick their address or
    scheme."""
    return os.environ.get("FT_TRUST_PROXY") == "1"


def client_address(ip_address: str | None, headers: Mapping[str, str] | None = None) -> str:
    """Who is knocking: the connection's address ('local' for loopback), or with `FT_TRUST_PROXY=1` the
    address the nearest proxy appended to `X-Forwarded-For` (trusting that header without a proxy lets
    anyone pick one)."""
    if trusts_proxy() and headers:
        forwarded = headers.get("X-Forwarded-For") or headers.get("x-forwarded-for") or ""
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:100]
    return (ip_address or LOCAL_CLIENT)[:100]


@dataclass(frozen=True)
class Throttle:
    """What the attempts table says about the next try of a username from an address."""

    pair_free_at: datetime  # when this name may be tried again from this address (a lock or a back-off)
    client_free_at: datetime  # when this address may try any name again
    name_free_at: datetime  # when this name may be tried again from an address that has failed itself
    client_failing_until: datetime  # the address counts as failing until then (its last failure + the window)
    locked: bool  # the name reached lock_after failures from this address

    def wait(self, now: datetime) -> float:
        free_at = max(self.pair_free_at, self.client_free_at)
        if self.client_failing_until > now:
            free_at = max(free_at, self.name_free_at)
        return max(0.0, (free_at - now).total_seconds())


def throttle(
    con: duckdb.DuckDBPyConnection,
    key: str,
    client: str,
    settings: LoginSettings | None = None,
    now: datetime | None = None,
) -> Throttle:
    """Read the throttle's state for a username key and a client from `login_attempts` and `login_unlocks`."""
    settings = settings or LoginSettings.from_env()
    now = now or store.utcnow()
    window_start = now - timedelta(minutes=settings.lock_minutes)
    cur = store.read(con)
    name_ok, pair_ok = cur.execute(
        "SELECT max(attempted_at), max(attempted_at) FILTER (WHERE client = ?) FROM login_attempts "
        "WHERE username_key = ? AND outcome = 'success'",
        [client, key],
    ).fetchone()
    (unlocked,) = cur.execute(
        "SELECT max(unlocked_at) FROM login_unlocks WHERE username_key = ?", [key]
    ).fetchone()
    name_since = max(t for t in (window_start, name_ok, unlocked) if t is not None)
    pair_since = max(t for t in (window_start, pair_ok, unlocked) if t is not None)
    n_name, last_name, n_pair, last_pair = cur.execute(
        "SELECT count(*) FILTER (WHERE attempted_at > ?), max(attempted_at) FILTER (WHERE attempted_at > ?), "
        "count(*) FILTER (WHERE client = ? AND attempted_at > ?), "
        "max(attempted_at) FILTER (WHERE client = ? AND attempted_at > ?) "
        "FROM login_attempts WHERE username_key = ? AND outcome = 'failure' AND attempted_at > ?",
        [name_since, name_since, client, pair_since, client, pair_since, key, window_start],
    ).fetchone()
    n_client, last_client = cur.execute(
        "SELECT count(*), max(attempted_at) FROM login_attempts "
        "WHERE client = ? AND outcome = 'failure' AND attempted_at > ?",
        [client, window_start],
    ).fetchone()
    locked = n_pair >= settings.lock_after
    if locked:
        pair_free_at = last_pair + timedelta(minutes=settings.lock_minutes)
    else:
        pair_free_at = last_pair + settings.backoff(n_pair) if n_pair else now
    return Throttle(
        pair_free_at=pair_free_at,
        client_free_at=last_client + settings.backoff(n_client) if n_client else now,
        name_free_at=last_name + settings.backoff(n_name) if n_name else now,
        client_failing_until=last_client + timedelta(minutes=settings.lock_minutes) if n_client else now,
        locked=locked,
    )


def wait_before_next(
    con: duckdb.DuckDBPyConnection,
    key: str,
    client: str,
    settings: LoginSettings | None = None,
    now: datetime | None = None,
) -> tuple[float, bool]:
    """(seconds to wait before this username may be tried from this client, whether the pair is locked)."""
    now = now or store.utcnow()
    state = throttle(con, key, client, settings, now)
    wait = state.wait(now)
    return wait, state.locked and wait > 0


# The throttle's answers, remembered per store until they lapse: a refused try then costs a dictionary lookup,
# not four queries (sessions that guess flat out would otherwise compete with annotators for the cores). The
# table stays the truth: this process writes every attempt and every unlock, and an empty memory (a restart)
# asks the table. Entries: ("pair", key, client), ("client", client), ("name", key) -> [free at, refusal
# logged], and ("failing", client) -> [until, _]: the name's back-off applies only to an address that has
# failed itself.
_FREE_AT: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, dict[tuple[str, ...], list]] = (
    weakref.WeakKeyDictionary()
)
_FREE_AT_LOCK = threading.Lock()
_FREE_AT_MAX = 10_000


def _remembered(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, ...], list]:
    with _FREE_AT_LOCK:
        return _FREE_AT.setdefault(con, {})


def _remember(memory: dict, key: str, client: str, state: Throttle, now: datetime) -> None:
    with _FREE_AT_LOCK:
        if len(memory) > _FREE_AT_MAX:
            for stale in [k for k, (free_at, _) in memory.items() if free_at <= now]:
                del memory[stale]
        for entry, free_at in (
            (("pair", key, client), state.pair_free_at),
            (("client", client), state.client_free_at),
            (("name", key), state.name_free_at),
            (("failing", client), state.client_failing_until),
        ):
            if free_at > now:
                memory[entry] = [free_at, False]  # [free at, refusal logged]
            else:
                memory.pop(entry, None)


def _refuse(memory: dict, typed: str, key: str, client: str, now: datetime) -> LoginResult | None:
    """The refusal when a remembered back-off or lock still runs (logged once per back-off), else None."""
    with _FREE_AT_LOCK:
        entries = [("pair", key, client), ("client", client)]
        failing = memory.get(("failing", client))
        if failing is not None and failing[0] > now:
            entries.append(("name", key))
        running = [memory[e] for e in entries if e in memory and memory[e][0] > now]
        if not running:
            return None
        wait = max(free_at for free_at, _ in running) - now
        first = not all(logged for _, logged in running)
        for entry in running:
            entry[1] = True
    if first:
        _LOG.warning(
            "login refused for %r from %s: throttled for %.0f s more (further refusals until then not "
            "logged)",
            typed,
            client,
            wait.total_seconds(),
        )
    seconds = wait.total_seconds()
    return LoginResult(None, f"Too many failed logins. Try again in {_wait_text(seconds)}.", seconds)


def _forget_name(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """Drop what the memory holds about a username (after an unlock): the next try asks the table."""
    memory = _remembered(con)
    with _FREE_AT_LOCK:
        for entry in [e for e in memory if e[0] in ("name", "pair") and e[1] == key]:
            del memory[entry]


def _record(
    con: duckdb.DuckDBPyConnection, typed: str, key: str, client: str, outcome: str, now: datetime
) -> None:
    store.write_statement(
        con,
        "INSERT INTO login_attempts (attempted_at, username, username_key, client, outcome) "
        "VALUES (?, ?, ?, ?, ?)",
        [now, typed, key, client, outcome],
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
        # Another check of this name or from this address ran meanwhile (sessions guessing in parallel would
        # all pass the throttle before the first failure is recorded; annotators behind one address log in at
        # once): ask the throttle again with what that check recorded.
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
    """Whether this check may run now: True when no other password check of this username key or from this
    client runs in the process. Otherwise waits until the one running ends or the (monotonic) deadline
    passes, and says False: ask the throttle again first."""
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
            "SELECT attempted_at, username, client, outcome FROM login_attempts ORDER BY attempted_at DESC "
            "LIMIT ?",
            [limit],
        )
        .df()
    )


def locked_usernames(
    con: duckdb.DuckDBPyConnection, settings: LoginSettings | None = None, now: datetime | None = None
) -> pd.DataFrame:
    """Usernames (canonical) locked right now from one address each: username_key, client, failures,
    last_failure and when the lock ends (`locked_until`). Other addresses are not locked out."""
    settings = settings or LoginSettings.from_env()
    now = now or store.utcnow()
    window_start = now - timedelta(minutes=settings.lock_minutes)
    frame = (
        store.read(con)
        .execute(
            "SELECT f.username_key, f.client, count(*) AS failures, max(f.attempted_at) AS last_failure "
            "FROM login_attempts f WHERE f.outcome = 'failure' AND f.attempted_at > ? "
            "AND f.attempted_at > coalesce((SELECT max(s.attempted_at) FROM login_attempts s "
            "  WHERE s.username_key = f.username_key AND s.client = f.client AND s.outcome = 'success'), ?) "
            "AND f.attempted_at > coalesce((SELECT max(u.unlocked_at) FROM login_unlocks u "
            "  WHERE u.username_key = f.username_key), ?) "
            "GROUP BY f.username_key, f.client HAVING count(*) >= ? ORDER BY last_failure DESC",
            [window_start, window_start, window_start, settings.lock_after],
        )
        .df()
    )
    frame["locked_until"] = frame["last_failure"] + pd.Timedelta(minutes=settings.lock_minutes)
    return frame


def unlock(
    con: duckdb.DuckDBPyConnection, username: str, unlocked_by: str | None = None, now: datetime | None = None
) -> str:
    """A researcher's unlock: the failures typed for this username so far no longer count, from any address
    (each address's own back-off for the other names it typed stays). Returns the canonical name unlocked."""
    key = users.username_key(users.clean_username(username or ""))
    if not key:
        raise AuthError("no username to unlock")
    at = now or store.utcnow()
    store.write_statement(
        con,
        "INSERT INTO login_unlocks (username_key, unlocked_at, unlocked_by) VALUES (?, ?, ?)",
        [key, at, unlocked_by],
        lane=_LANE,
    )
    _forget_name(con, key)
    _LOG.warning("login lock of %r lifted by %s", key, unlocked_by or "a researcher")
    return key
