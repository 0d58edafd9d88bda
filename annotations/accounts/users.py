"""Accounts, roles, password rules and invitation links; `python -m annotations users ...` manages them.

Two roles: an annotator reaches only the annotate page and their own judgments; a researcher reaches
everything. Passwords are stored as argon2id hashes (argon2-cffi); at most `FT_LOGIN_CONCURRENT_HASHES`
(default
1) argon2 computations run at once in the process, so guessing sessions cannot take every core from
   annotators. A new password has at least 12 characters, does not contain the username and scores at least
   `FT_PASSWORD_MIN_SCORE` (default 3 of 4) with `zxcvbn` (Dropbox's guessability estimator, which carries the
   common-password and word lists); an older password that fails these rules still logs in, and the account is
   then asked for a new one before anything else (`must_change_password`). Usernames are unique after NFKC,
   case folding and dropping everything but letters and digits (`Admin`, `admin.`, `admin@` and `admin` are
   one name: `username_key`).

The first start of the app creates a researcher `admin` whose random password is printed once
(`ensure_admin`); set `FT_ADMIN_PASSWORD` to choose it instead (tests, demos). User ids are pseudonyms such as
`ann-3f2a9c`: analyses never see usernames. Logins (throttling, the attempts table) live in
`annotations.accounts.logins`, browser sessions in `annotations.accounts.sessions`; disabling an account or
changing its password revokes its sessions.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import os
import re
import secrets
import sys
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta

import duckdb
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from annotations import store
from annotations.accounts import sessions
from annotations.errors import AuthError

ROLES = ("annotator", "researcher")
ADMIN_USERNAME = "admin"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1000  # argon2 takes any length; this only bounds what a form can make us hash
_ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; the first 72 characters are scored
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
# argon2id with argon2-cffi's defaults (64 MiB, 3 passes) but one lane: a verification then runs on one
# thread, never on every core (4 lanes would use 4 threads), and the semaphore queues the rest, so an
# annotator's page keeps a core however many sessions guess. Hashes made with more lanes are redone at their
# next login.
_HASHER = PasswordHasher(parallelism=1)
_HASH_SLOTS = threading.BoundedSemaphore(max(1, int(os.environ.get("FT_LOGIN_CONCURRENT_HASHES", "1"))))


def min_password_score() -> int:
    """The zxcvbn score (0-4) a new password needs: `$FT_PASSWORD_MIN_SCORE`, default 3."""
    return int(os.environ.get("FT_PASSWORD_MIN_SCORE", "3"))


def _hash(password: str) -> str:
    with _HASH_SLOTS:
        return _HASHER.hash(password)


def _password_matches(password_hash: str, password: str) -> bool:
    """argon2 verification, at most `FT_LOGIN_CONCURRENT_HASHES` at once; False on a mismatch or a broken
    hash."""
    with _HASH_SLOTS:
        try:
            return _HASHER.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random secret (computed once) that failed logins of unknown or inactive users verify
    against."""
    return _hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    """A logged-in person: pseudonymous id, login name, role, and whether they must choose a new password."""

    user_id: str
    username: str
    role: str
    must_change_password: bool = False

    @property
    def is_researcher(self) -> bool:
        return self.role == "researcher"


def clean_username(typed: str) -> str:
    """The username as stored: NFKC-normalized (full-width letters become ASCII) and stripped."""
    return unicodedata.normalize("NFKC", typed).strip()


def username_key(username: str) -> str:
    """The canonical form that must be unique: NFKC, case-folded, letters and digits only.

    `Admin`, `ADMIN`, `admin.`, `admin@`, `ａｄｍｉｎ`, `ad_min` and `ad\u200bmin` (a zero-width space) all
    give `admin`, so none can pose as another account: punctuation, symbols, spaces and invisible characters
    are dropped.
    """
    return "".join(ch for ch in unicodedata.normalize("NFKC", username or "").casefold() if ch.isalnum())


def password_problem(password: str, username: str) -> str | None:
    """Why this password may not be set for this user (one line), or None when it passes every rule."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"password must have at most {MAX_PASSWORD_LENGTH} characters"
    folded, name, key = password.casefold(), clean_username(username).casefold(), username_key(username)
    if folded == name or (len(key) >= 3 and (name in folded or key in username_key(password))):
        return "password must not be or contain the username"
    result = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=[name, username_key(username)])
    needed = min_password_score()
    if result["score"] < needed:
        feedback = result["feedback"]
        advice = " ".join(
            part for part in [feedback.get("warning") or "", *feedback.get("suggestions", [])] if part
        )
        reason = f"password is too easy to guess (strength {result['score']} of 4, needs {needed})."
        return f"{reason} {advice}".strip()
    return None


def _check(username: str, password: str, role: str) -> None:
    if not _USERNAME.match(username):
        raise AuthError("username: 1-64 letters, digits or . _ @ -")
    if not username_key(username):
        raise AuthError("username must contain a letter or a digit")
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, got '{role}'")
    problem = password_problem(password, username)
    if problem:
        raise AuthError(problem)


def _insert_user(
    cur: duckdb.DuckDBPyConnection, username: str, password_hash: str, role: str, created_by: str | None
) -> User:
    key = username_key(username)
    if cur.execute("SELECT 1 FROM users WHERE username = ? OR username_key = ?", [username, key]).fetchone():
        raise AuthError(
            f"username '{username}' is taken (names differing only in case or . _ @ - are one name)"
        )
    user_id = "ann-" + secrets.token_hex(3)
    while cur.execute("SELECT 1 FROM users WHERE user_id = ?", [user_id]).fetchone():
        user_id = "ann-" + secrets.token_hex(4)
    cur.execute(
        "INSERT INTO users (user_id, username, username_key, role, password_hash, active, created_at, "
        "created_by) VALUES (?, ?, ?, ?, ?, TRUE, ?, ?)",
        [user_id, username, key, role, password_hash, store.utcnow(), created_by],
    )
    return User(user_id, username, role)


def create_user(
    con: duckdb.DuckDBPyConnection,
    username: str,
    password: str,
    role: str = "annotator",
    created_by: str | None = None,
) -> User:
    """Create an account; AuthError if the name is taken or the password breaks a rule
    (`password_problem`)."""
    username = clean_username(username)
    _check(username, password, role)
    password_hash = _hash(password)
    return store.write(con, lambda cur: _insert_user(cur, username, password_hash, role, created_by))


@dataclass(frozen=True)
class _Account:
    """A users row as the password checks read it; the hash never leaves this module."""

    user_id: str
    username: str
    role: str
    password_hash: str
    active: bool
    must_change_password: bool


_ACCOUNT_COLUMNS = ", ".join(f.name for f in fields(_Account))  # the SELECT list, in the record's order


def _find(con: duckdb.DuckDBPyConnection, typed: str) -> _Account | None:
    """The account by its exact name, else by `username_key`; None when there is none."""
    cur = store.read(con)
    name = clean_username(typed)
    row = cur.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM users WHERE username = ?", [name]).fetchone()
    if row is None and username_key(name):
        row = cur.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM users WHERE username_key = ?", [username_key(name)]
        ).fetchone()
    return _Account(*row) if row is not None else None


def authenticate(con: duckdb.DuckDBPyConnection, username: str, password: str) -> User:
    """The user with these credentials; AuthError (same message for every failure) otherwise.

    This is the bare check, without throttling: the login page goes through
    `annotations.accounts.logins.log_in`. A correct password that no longer passes the rules marks the account
    `must_change_password`.
    """
    account = _find(con, username)
    if account is None or not account.active:
        # The same argon2 work as a real check, so the time taken does not tell which usernames exist.
        _password_matches(_dummy_hash(), password)
        raise AuthError("wrong username or password")
    if not _password_matches(account.password_hash, password):
        raise AuthError("wrong username or password")
    if _HASHER.check_needs_rehash(account.password_hash):
        new_hash = _hash(password)
        store.write(
            con,
            lambda cur: cur.execute(
                "UPDATE users SET password_hash = ? WHERE user_id = ?", [new_hash, account.user_id]
            ),
            lane="auth",
        )
    must_change = bool(account.must_change_password)
    if not must_change and password_problem(password, account.username) is not None:
        must_change = True
        store.write(
            con,
            lambda cur: cur.execute(
                "UPDATE users SET must_change_password = TRUE WHERE user_id = ?", [account.user_id]
            ),
            lane="auth",
        )
    return User(account.user_id, account.username, account.role, must_change)


def get_user(con: duckdb.DuckDBPyConnection, user_id: str) -> User | None:
    """The active user with this id, or None."""
    row = (
        store.read(con)
        .execute(
            "SELECT user_id, username, role, must_change_password FROM users WHERE user_id = ? AND active",
            [user_id],
        )
        .fetchone()
    )
    return User(*row) if row else None


def list_users(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """user_id, username, role, active, must_change_password, created_at, created_by (no password hashes)."""
    return (
        store.read(con)
        .execute(
            "SELECT user_id, username, role, active, must_change_password, created_at, created_by "
            "FROM users ORDER BY created_at"
        )
        .df()
    )


def set_active(con: duckdb.DuckDBPyConnection, user_id: str, active: bool) -> None:
    """Disable (or re-enable) an account; disabling logs it out everywhere at once, its judgments stay."""

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute("UPDATE users SET active = ? WHERE user_id = ?", [active, user_id])
        if not active:
            sessions.revoke_all(cur, user_id, "disabled")

    store.write(con, work)


def set_password(
    con: duckdb.DuckDBPyConnection, username: str, password: str, keep_session: str | None = None
) -> None:
    """Replace a user's password (the rules apply) and revoke their sessions, except `keep_session` if
    given."""
    account = _find(con, username)
    if account is None:
        raise AuthError(f"no user named '{clean_username(username)}'")
    user_id, username = account.user_id, account.username
    problem = password_problem(password, username)
    if problem:
        raise AuthError(problem)
    password_hash = _hash(password)

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute(
            "UPDATE users SET password_hash = ?, must_change_password = FALSE WHERE user_id = ?",
            [password_hash, user_id],
        )
        sessions.revoke_all(cur, user_id, "password changed", keep=keep_session)

    store.write(con, work)


def change_own_password(
    con: duckdb.DuckDBPyConnection, user: User, current: str, new: str, session_id: str | None = None
) -> User:
    """A logged-in user's own change: checks the current password, applies the rules, keeps `session_id`
    alive."""
    account = _find(con, user.username)
    if account is None or account.user_id != user.user_id:  # renamed or replaced since the user logged in
        raise AuthError("the current password is wrong")
    if not _password_matches(account.password_hash, current):
        raise AuthError("the current password is wrong")
    if new == current:
        raise AuthError("the new password must differ from the current one")
    set_password(con, user.username, new, keep_session=session_id)
    return User(user.user_id, user.username, user.role, False)


def invitation_label(token_hash: str) -> str:
    """How an invitation is named on the Users page and in `created_by` of the account it made: the first 8
    hex digits of its token's hash (never part of the token itself)."""
    return token_hash[:8]


def create_invitation(
    con: duckdb.DuckDBPyConnection,
    role: str = "annotator",
    created_by: str | None = None,
    valid_days: float = 7,
) -> str:
    """A one-use token; the invitation link is `<app url>/?invite=<token>`. The store keeps only the
    token's SHA-256 (`sessions.token_hash`, as for session cookies), so neither it nor a backup holds a
    usable link."""
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, got '{role}'")
    token = secrets.token_urlsafe(24)
    now = store.utcnow()
    store.write(
        con,
        lambda cur: cur.execute(
            "INSERT INTO invitations (token_hash, role, created_by, created_at, expires_at) VALUES (?, ?, ?, "
            "?, ?)",
            [sessions.token_hash(token), role, created_by, now, now + timedelta(days=valid_days)],
        ),
    )
    return token


def invitation_role(con: duckdb.DuckDBPyConnection, token: str) -> str:
    """The role an unused, unexpired invitation grants; AuthError otherwise."""
    row = (
        store.read(con)
        .execute(
            "SELECT role, expires_at, used_by FROM invitations WHERE token_hash = ?",
            [sessions.token_hash(token)],
        )
        .fetchone()
    )
    role, expires_at, used_by = row if row is not None else (None, None, None)
    if role is None or used_by is not None or expires_at <= store.utcnow():
        raise AuthError("this invitation link is unknown, used or expired; ask a researcher for a new one")
    return role


def accept_invitation(con: duckdb.DuckDBPyConnection, token: str, username: str, password: str) -> User:
    """Create the account an invitation grants and mark the invitation used (once only)."""
    role = invitation_role(con, token)
    username = clean_username(username)
    _check(username, password, role)
    password_hash = _hash(password)
    token_hash = sessions.token_hash(token)

    def work(cur: duckdb.DuckDBPyConnection) -> User:
        row = cur.execute(
            "SELECT used_by, expires_at FROM invitations WHERE token_hash = ?", [token_hash]
        ).fetchone()
        used_by, expires_at = row if row is not None else ("unknown", None)
        if used_by is not None or expires_at <= store.utcnow():
            raise AuthError(
                "this invitation link is unknown, used or expired; ask a researcher for a new one"
            )
        created_by = f"invitation:{invitation_label(token_hash)}"
        user = _insert_user(cur, username, password_hash, role, created_by=created_by)
        cur.execute(
            "UPDATE invitations SET used_by = ?, used_at = ? WHERE token_hash = ?",
            [user.user_id, store.utcnow(), token_hash],
        )
        return user

    return store.write(con, work)


def list_invitations(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """invitation (`invitation_label`), role, created_by, created_at, expires_at, used_by, used_at."""
    frame = (
        store.read(con)
        .execute(
            "SELECT token_hash, role, created_by, created_at, expires_at, used_by, used_at "
            "FROM invitations ORDER BY created_at DESC"
        )
        .df()
    )
    return frame.assign(token_hash=frame["token_hash"].map(invitation_label)).rename(
        columns={"token_hash": "invitation"}
    )


def ensure_admin(con: duckdb.DuckDBPyConnection, printer: Callable[[str], None] = print) -> str | None:
    """On a store with no researcher, create `admin` and print its password once; returns it (None if not
    created).

    The password is `$FT_ADMIN_PASSWORD` when set (tests, demos), else a random one. When an annotator already
    holds the name `admin`, that account is left alone and the researcher is `admin-<4 hex>` (printed).
    """
    if con.cursor().execute("SELECT 1 FROM users WHERE role = 'researcher' LIMIT 1").fetchone():
        return None  # the usual case: no argon2 hash on every start
    password = os.environ.get("FT_ADMIN_PASSWORD") or secrets.token_urlsafe(16)
    # A weak $FT_ADMIN_PASSWORD still works once: the account must choose a new password at its first login.
    weak = password_problem(password, ADMIN_USERNAME)
    password_hash = _hash(password)

    def work(cur: duckdb.DuckDBPyConnection) -> str | None:
        if cur.execute("SELECT 1 FROM users WHERE role = 'researcher' LIMIT 1").fetchone():
            return None
        # An existing account named `admin` (an annotator) is never changed: the researcher gets another name.
        username = ADMIN_USERNAME
        while cur.execute("SELECT 1 FROM users WHERE username_key = ?", [username_key(username)]).fetchone():
            username = f"{ADMIN_USERNAME}-{secrets.token_hex(2)}"
        user = _insert_user(cur, username, password_hash, "researcher", created_by="first start")
        if weak:
            cur.execute("UPDATE users SET must_change_password = TRUE WHERE user_id = ?", [user.user_id])
        return username

    username = store.write(con, work)
    if username is None:
        return None
    printer(
        f"\n  First start: created researcher account '{username}' with password: {password}\n  (printed "
        f"once; change it with `.venv/bin/python -m annotations users password --username {username}`)\n"
        + (f"  FT_ADMIN_PASSWORD is weak ({weak}): the first login asks for a new one.\n" if weak else "")
    )
    return password


def main(argv: list[str]) -> int:
    """`python -m annotations users {create,invite,list,password,disable} --db FILE ...`"""
    parser = argparse.ArgumentParser(
        prog="python -m annotations users", description="manage accounts and invitation links"
    )
    parser.add_argument("--db", default=None, help="DuckDB file (default: $FT_APP_DB or data/app.duckdb)")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create an account")
    create.add_argument("--username", required=True)
    create.add_argument("--role", choices=ROLES, default="annotator")
    create.add_argument("--password", help="omit to type it (not echoed)")
    invite = sub.add_parser("invite", help="make a one-use invitation link")
    invite.add_argument("--role", choices=ROLES, default="annotator")
    invite.add_argument("--days", type=float, default=7.0, help="days the link stays valid")
    invite.add_argument("--url", default="http://localhost:8501", help="the app's address")
    sub.add_parser("list", help="list accounts")
    password = sub.add_parser("password", help="set a new password")
    password.add_argument("--username", required=True)
    password.add_argument("--password", help="omit to type it (not echoed)")
    disable = sub.add_parser("disable", help="disable an account (its judgments stay)")
    disable.add_argument("--username", required=True)
    args = parser.parse_args(argv)

    con = store.connect(args.db)
    try:
        if args.command == "create":
            user = create_user(
                con,
                args.username,
                args.password or getpass.getpass("password: "),
                args.role,
                created_by="cli",
            )
            print(f"created {user.role} '{user.username}' ({user.user_id})")
        elif args.command == "invite":
            token = create_invitation(con, args.role, created_by="cli", valid_days=args.days)
            print(f"{args.url.rstrip('/')}/?invite={token}")
        elif args.command == "list":
            print(list_users(con).to_string(index=False))
        elif args.command == "password":
            set_password(con, args.username, args.password or getpass.getpass("new password: "))
            print(f"password of '{args.username}' changed")
        elif args.command == "disable":
            account = _find(con, args.username)
            if account is None:
                raise AuthError(f"no user named '{args.username}'")
            set_active(con, account.user_id, False)
            print(f"'{args.username}' disabled")
    finally:
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
