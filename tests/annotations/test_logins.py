"""The login throttle: growing back-off per username and per address, a lock after N failures, the same answers
for unknown usernames, every verdict recorded and every failure logged on one line, no argon2 work for a refused
attempt, and at most one argon2 computation at a time."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from annotations import logins, store, users
from annotations.errors import AuthError

PASSWORD = "velvet-harbor-pines-29"
SETTINGS = logins.LoginSettings(lock_after=4, lock_minutes=10, backoff_seconds=2, max_backoff_seconds=30)


class _CountingHasher(PasswordHasher):
    """argon2's own hasher, counting verifications and the most that ran at once."""

    def __init__(self, hold_s: float = 0.0):
        super().__init__()
        self.verified, self.running, self.most_at_once, self.hold_s = 0, 0, 0, hold_s
        self._lock = threading.Lock()

    def verify(self, hash, password):
        with self._lock:
            self.verified += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(self.hold_s)
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def hasher(monkeypatch):
    counting = _CountingHasher()
    monkeypatch.setattr(users, "_HASHER", counting)
    return counting


@pytest.fixture
def alice(con):
    return users.create_user(con, "alice", PASSWORD)


def _try(con, name, password, at, client="10.0.0.1"):
    return logins.log_in(con, name, password, client, SETTINGS, now=at)


def test_back_off_grows_and_a_refused_attempt_costs_no_argon2(con, alice, hasher):
    t0 = store.utcnow()
    first = _try(con, "alice", "nope", t0)
    assert first.user is None and first.message.startswith("Wrong username or password")
    assert first.retry_after_s == pytest.approx(2, abs=0.01)
    verified = hasher.verified
    early = _try(con, "alice", PASSWORD, t0 + timedelta(seconds=1))  # even the right password, too early
    assert early.user is None and "Too many failed logins" in early.message and hasher.verified == verified
    second = _try(con, "alice", "nope", t0 + timedelta(seconds=2.1))
    assert second.retry_after_s == pytest.approx(4, abs=0.01)  # doubled
    third = _try(con, "alice", "nope", t0 + timedelta(seconds=6.2))
    assert third.retry_after_s == pytest.approx(8, abs=0.01)
    ok = _try(con, "alice", PASSWORD, t0 + timedelta(seconds=14.3))
    assert ok.user == alice
    # a success clears the username's count; the address keeps its own (4 failures now: 16 s)
    again = _try(con, "alice", "nope", t0 + timedelta(seconds=60), client="10.0.0.2")
    assert again.retry_after_s == pytest.approx(2, abs=0.01)
    same_address = _try(con, "bob", "nope", t0 + timedelta(seconds=61))
    assert same_address.retry_after_s == pytest.approx(16, abs=0.01)


def _fail_until_locked(con, name, start, clients):
    """lock_after wrong passwords, each as soon as the back-off allows; returns the time of the last one."""
    at = start
    for number in range(SETTINGS.lock_after):
        result = _try(con, name, "nope", at, client=clients[number % len(clients)])
        if number < SETTINGS.lock_after - 1:
            at += timedelta(seconds=result.retry_after_s + 0.1)
    assert result.retry_after_s == pytest.approx(SETTINGS.lock_minutes * 60, abs=1)  # locked
    return at, result


def test_a_username_locks_after_n_failures_and_unlocks_later(con, alice, hasher):
    clients = [f"10.0.0.{n}" for n in range(SETTINGS.lock_after)]  # from several addresses
    last, _ = _fail_until_locked(con, "alice", store.utcnow(), clients)
    verified = hasher.verified
    locked = _try(con, "alice", PASSWORD, last + timedelta(minutes=5), client="10.9.9.9")
    assert locked.user is None and "Try again in 5 min" in locked.message and hasher.verified == verified
    assert logins.locked_usernames(con, SETTINGS, now=last + timedelta(minutes=5)).username_key.tolist() == [
        "alice"
    ]
    assert _try(con, "alice", PASSWORD, last + timedelta(minutes=10.1), client="10.9.9.9").user == alice
    assert logins.locked_usernames(con, SETTINGS, now=last + timedelta(minutes=11)).empty


def test_an_unknown_username_gets_the_same_answers_as_a_real_one(con, alice, hasher):
    t = store.utcnow()
    answers = {}
    for name, client in (("alice", "10.0.0.1"), ("nobody", "10.0.0.2")):
        at, seen = t, []
        for number in range(SETTINGS.lock_after + 1):
            result = _try(con, name, "nope", at, client=client)
            seen.append((result.message, round(result.retry_after_s, 1)))
            at += timedelta(seconds=result.retry_after_s + 0.1 if number < SETTINGS.lock_after - 1 else 1)
        answers[name] = seen
    assert answers["alice"] == answers["nobody"]
    assert "Too many failed logins" in answers["nobody"][-1][0]  # locked too, though no such account exists
    assert hasher.verified == 2 * SETTINGS.lock_after  # an unknown name costs the same argon2 work


def test_the_address_backs_off_across_usernames(con, alice, hasher):
    users.create_user(con, "bert", PASSWORD)
    t = store.utcnow()
    _try(con, "alice", "nope", t, client="10.0.0.5")
    _try(con, "bert", "nope", t + timedelta(seconds=2.1), client="10.0.0.5")
    # a third name from the same address must wait (2 failures: 4 s) ...
    refused = _try(con, "carl", "nope", t + timedelta(seconds=4.2), client="10.0.0.5")
    assert "Too many failed logins" in refused.message
    # ... while another address may try, and a success from it does not clear the first address
    assert _try(con, "bert", PASSWORD, t + timedelta(seconds=4.2), client="10.0.0.6").user is not None
    assert "Too many" in _try(con, "carl", "x", t + timedelta(seconds=4.5), client="10.0.0.5").message


def test_every_verdict_is_recorded_and_every_failure_logged_on_one_line(con, alice, caplog):
    t = store.utcnow()
    caplog.set_level(logging.WARNING, logger="annotations.logins")
    _try(
        con, "Alice\nroot logged in", "nope", t, client="203.0.113.9"
    )  # a name that tries to forge a log line
    _try(con, "alice", PASSWORD, t + timedelta(seconds=3), client="203.0.113.9")
    rows = con.execute(
        "SELECT username, username_key, client, outcome FROM login_attempts ORDER BY attempted_at"
    )
    assert rows.fetchall() == [
        ("Alice\nroot logged in", "alice\nroot logged in", "203.0.113.9", "failure"),
        ("alice", "alice", "203.0.113.9", "success"),
    ]
    failures = [r.getMessage() for r in caplog.records if "failed login" in r.getMessage()]
    assert len(failures) == 1 and "\n" not in failures[0] and "203.0.113.9" in failures[0]
    frame = logins.recent_attempts(con)
    assert list(frame.columns) == ["attempted_at", "username", "client", "outcome"] and len(frame) == 2


def test_a_typed_username_is_cut_to_200_characters(con):
    logins.log_in(con, "x" * 100_000, "nope", "local", SETTINGS)
    (stored,) = con.execute("SELECT username FROM login_attempts").fetchone()
    assert len(stored) == 200


def test_at_most_one_argon2_verification_runs_at_once(con, alice, monkeypatch):
    """Eight sessions checking passwords at the same moment: the semaphore queues them (bounded CPU)."""
    counting = _CountingHasher(hold_s=0.05)
    monkeypatch.setattr(users, "_HASHER", counting)
    refused = []

    def guess() -> None:
        try:
            users.authenticate(con, "alice", "nope")
        except AuthError:
            refused.append(1)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(refused) == 8 and counting.verified == 8 and counting.most_at_once == 1


def test_client_address_trusts_forwarded_for_only_when_told(monkeypatch):
    headers = {"X-Forwarded-For": "198.51.100.1, 192.0.2.44"}
    assert logins.client_address(None, headers) == "local"
    assert logins.client_address("192.0.2.10", headers) == "192.0.2.10"
    monkeypatch.setenv("FT_TRUST_PROXY", "1")
    assert logins.client_address("10.0.0.2", headers) == "192.0.2.44"  # what the nearest proxy saw


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("FT_LOGIN_LOCK_AFTER", "3")
    monkeypatch.setenv("FT_LOGIN_LOCK_MINUTES", "30")
    monkeypatch.setenv("FT_LOGIN_BACKOFF_SECONDS", "0.5")
    monkeypatch.setenv("FT_LOGIN_MAX_BACKOFF_SECONDS", "4")
    settings = logins.LoginSettings.from_env()
    assert (settings.lock_after, settings.lock_minutes) == (3, 30)
    assert [settings.backoff(n).total_seconds() for n in range(6)] == [0, 0.5, 1, 2, 4, 4]
    with pytest.raises(ValueError):
        logins.LoginSettings(lock_after=0)


def test_sessions_guessing_one_name_in_parallel_get_one_argon2_check(con, alice, monkeypatch):
    """Without the one-check-at-a-time rule all eight pass the throttle before the first failure is written."""
    counting = _CountingHasher(hold_s=0.2)
    monkeypatch.setattr(users, "_HASHER", counting)
    results = []
    barrier = threading.Barrier(8)

    def guess(number: int) -> None:
        barrier.wait()
        results.append(logins.log_in(con, "alice", f"guess-{number}", f"10.1.1.{number}", SETTINGS))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counting.verified == 1
    assert sorted(r.message.split(".")[0] for r in results) == ["Too many failed logins"] * 7 + [
        "Wrong username or password"
    ]


def test_annotators_behind_one_address_who_log_in_at_once_all_get_in(con, monkeypatch):
    """A class in one lab (one address) logs in at the same moment: each check waits for the one running, none is
    refused (the one-check-at-a-time rule used to answer 'Too many failed logins' to all but one), and still only
    one argon2 verification runs at a time."""
    names = [f"reader{n}" for n in range(6)]
    for name in names:
        users.create_user(con, name, PASSWORD)
    counting = _CountingHasher(hold_s=0.05)
    monkeypatch.setattr(users, "_HASHER", counting)
    results = {}
    barrier = threading.Barrier(len(names))

    def log_in(name: str) -> None:
        barrier.wait()
        results[name] = logins.log_in(con, name, PASSWORD, "192.0.2.7", SETTINGS)

    threads = [threading.Thread(target=log_in, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {name: (r.user.username if r.user else r.message) for name, r in results.items()} == {
        name: name for name in names
    }
    assert counting.verified == len(names) and counting.most_at_once == 1
