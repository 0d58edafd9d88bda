"""Accounts, roles and invitation links; `python -m annotations users ...` manages them from the terminal.

Two roles: an annotator reaches only the annotate page and their own judgments; a researcher reaches
everything. Passwords are stored as argon2id hashes (argon2-cffi). The first start of the app creates a
researcher `admin` whose random password is printed once (`ensure_admin`); set `FT_ADMIN_PASSWORD` to choose
it instead (tests, demos). User ids are pseudonyms such as `ann-3f2a9c`: analyses never see usernames.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import os
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import duckdb
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from annotations import db
from annotations.errors import AuthError

ROLES = ("annotator", "researcher")
ADMIN_USERNAME = "admin"
MIN_PASSWORD_LENGTH = 8
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random secret (computed once) that failed logins of unknown or inactive users verify against."""
    return _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    """A logged-in person: pseudonymous id, login name and role."""

    user_id: str
    username: str
    role: str

    @property
    def is_researcher(self) -> bool:
        return self.role == "researcher"


def _check(username: str, password: str, role: str) -> None:
    if not _USERNAME.match(username):
        raise AuthError("username: 1-64 letters, digits or . _ @ -")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, got '{role}'")


def _insert_user(
    cur: duckdb.DuckDBPyConnection, username: str, password_hash: str, role: str, created_by: str | None
) -> User:
    if cur.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
        raise AuthError(f"username '{username}' is taken")
    user_id = "ann-" + secrets.token_hex(3)
    while cur.execute("SELECT 1 FROM users WHERE user_id = ?", [user_id]).fetchone():
        user_id = "ann-" + secrets.token_hex(4)
    cur.execute(
        "INSERT INTO users (user_id, username, role, password_hash, active, created_at, created_by) VALUES (?, ?, ?, ?, TRUE, ?, ?)",
        [user_id, username, role, password_hash, db.utcnow(), created_by],
    )
    return User(user_id, username, role)


def create_user(
    con: duckdb.DuckDBPyConnection,
    username: str,
    password: str,
    role: str = "annotator",
    created_by: str | None = None,
) -> User:
    """Create an account; AuthError if the name is taken or the password too short."""
    _check(username, password, role)
    password_hash = _HASHER.hash(password)
    return db.write(con, lambda cur: _insert_user(cur, username, password_hash, role, created_by))


def authenticate(con: duckdb.DuckDBPyConnection, username: str, password: str) -> User:
    """The user with these credentials; AuthError (same message for every failure) otherwise."""
    row = (
        db.read(con)
        .execute(
            "SELECT user_id, username, role, password_hash, active FROM users WHERE username = ?",
            [username.strip()],
        )
        .fetchone()
    )
    try:
        if row is None or not row[4]:
            # The same argon2 work as a real check, so the time taken does not tell which usernames exist.
            _HASHER.verify(_dummy_hash(), password)
            raise VerificationError("unknown or inactive")
        _HASHER.verify(row[3], password)
    except (VerificationError, InvalidHashError) as e:
        raise AuthError("wrong username or password") from e
    return User(row[0], row[1], row[2])


def get_user(con: duckdb.DuckDBPyConnection, user_id: str) -> User | None:
    """The active user with this id, or None."""
    row = (
        db.read(con)
        .execute("SELECT user_id, username, role FROM users WHERE user_id = ? AND active", [user_id])
        .fetchone()
    )
    return User(*row) if row else None


def list_users(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """user_id, username, role, active, created_at, created_by (no password hashes)."""
    return (
        db.read(con)
        .execute(
            "SELECT user_id, username, role, active, created_at, created_by FROM users ORDER BY created_at"
        )
        .df()
    )


def set_active(con: duckdb.DuckDBPyConnection, user_id: str, active: bool) -> None:
    """Disable (or re-enable) an account; a disabled account cannot log in, its judgments stay."""
    db.write(con, lambda cur: cur.execute("UPDATE users SET active = ? WHERE user_id = ?", [active, user_id]))


def set_password(con: duckdb.DuckDBPyConnection, username: str, password: str) -> None:
    """Replace a user's password."""
    _check(username, password, "annotator")
    password_hash = _HASHER.hash(password)

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        if not cur.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise AuthError(f"no user named '{username}'")
        cur.execute("UPDATE users SET password_hash = ? WHERE username = ?", [password_hash, username])

    db.write(con, work)


def create_invitation(
    con: duckdb.DuckDBPyConnection,
    role: str = "annotator",
    created_by: str | None = None,
    valid_days: float = 7,
) -> str:
    """A one-use token; the invitation link is `<app url>/?invite=<token>`."""
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, got '{role}'")
    token = secrets.token_urlsafe(24)
    now = db.utcnow()
    db.write(
        con,
        lambda cur: cur.execute(
            "INSERT INTO invitations (token, role, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            [token, role, created_by, now, now + timedelta(days=valid_days)],
        ),
    )
    return token


def invitation_role(con: duckdb.DuckDBPyConnection, token: str) -> str:
    """The role an unused, unexpired invitation grants; AuthError otherwise."""
    row = (
        db.read(con)
        .execute("SELECT role, expires_at, used_by FROM invitations WHERE token = ?", [token])
        .fetchone()
    )
    if row is None or row[2] is not None or row[1] <= db.utcnow():
        raise AuthError("this invitation link is unknown, used or expired; ask a researcher for a new one")
    return row[0]


def accept_invitation(con: duckdb.DuckDBPyConnection, token: str, username: str, password: str) -> User:
    """Create the account an invitation grants and mark the invitation used (once only)."""
    role = invitation_role(con, token)
    _check(username, password, role)
    password_hash = _HASHER.hash(password)

    def work(cur: duckdb.DuckDBPyConnection) -> User:
        row = cur.execute("SELECT used_by, expires_at FROM invitations WHERE token = ?", [token]).fetchone()
        if row is None or row[0] is not None or row[1] <= db.utcnow():
            raise AuthError(
                "this invitation link is unknown, used or expired; ask a researcher for a new one"
            )
        user = _insert_user(cur, username, password_hash, role, created_by=f"invitation:{token[:6]}")
        cur.execute(
            "UPDATE invitations SET used_by = ?, used_at = ? WHERE token = ?",
            [user.user_id, db.utcnow(), token],
        )
        return user

    return db.write(con, work)


def list_invitations(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """token, role, created_by, created_at, expires_at, used_by, used_at."""
    return db.read(con).execute("SELECT * FROM invitations ORDER BY created_at DESC").df()


def ensure_admin(con: duckdb.DuckDBPyConnection, printer: Callable[[str], None] = print) -> str | None:
    """On a store with no researcher, create `admin` and print its password once; returns it (None if not created).

    The password is `$FT_ADMIN_PASSWORD` when set (tests, demos), else a random one. When an annotator already
    holds the name `admin`, that account is left alone and the researcher is `admin-<4 hex>` (printed).
    """
    if con.cursor().execute("SELECT 1 FROM users WHERE role = 'researcher' LIMIT 1").fetchone():
        return None  # the usual case: no argon2 hash on every start
    password = os.environ.get("FT_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    password_hash = _HASHER.hash(password)

    def work(cur: duckdb.DuckDBPyConnection) -> str | None:
        if cur.execute("SELECT 1 FROM users WHERE role = 'researcher' LIMIT 1").fetchone():
            return None
        # An existing account named `admin` (an annotator) is never changed: the researcher gets another name.
        username = ADMIN_USERNAME
        while cur.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            username = f"{ADMIN_USERNAME}-{secrets.token_hex(2)}"
        _insert_user(cur, username, password_hash, "researcher", created_by="first start")
        return username

    username = db.write(con, work)
    if username is None:
        return None
    printer(
        f"\n  First start: created researcher account '{username}' with password: {password}\n"
        f"  (printed once; change it with `python -m annotations users password --username {username}`)\n"
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

    con = db.connect(args.db)
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
            row = (
                db.read(con)
                .execute("SELECT user_id FROM users WHERE username = ?", [args.username])
                .fetchone()
            )
            if row is None:
                raise AuthError(f"no user named '{args.username}'")
            set_active(con, row[0], False)
            print(f"'{args.username}' disabled")
    finally:
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
