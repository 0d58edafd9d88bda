"""Users: argon2 hashes, login, invitations, the first researcher, and the CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from annotations import db, users
from annotations.errors import AuthError


def test_password_is_hashed_and_checked(con):
    user = users.create_user(con, "alice", "correct horse", "annotator")
    assert user.user_id.startswith("ann-") and user.role == "annotator"
    stored = con.execute("SELECT password_hash FROM users WHERE username = 'alice'").fetchone()[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert users.authenticate(con, "alice", "correct horse") == user
    with pytest.raises(AuthError, match="wrong username or password"):
        users.authenticate(con, "alice", "wrong password")
    with pytest.raises(AuthError, match="wrong username or password"):
        users.authenticate(con, "nobody", "correct horse")
    with pytest.raises(AuthError, match="taken"):
        users.create_user(con, "alice", "another one", "annotator")
    with pytest.raises(AuthError, match="at least 8"):
        users.create_user(con, "bob", "short", "annotator")
    users.set_active(con, user.user_id, False)
    with pytest.raises(AuthError):
        users.authenticate(con, "alice", "correct horse")
    assert users.get_user(con, user.user_id) is None


def test_invitation_is_one_use_and_expires(con):
    token = users.create_invitation(con, "researcher", created_by="x")
    assert users.invitation_role(con, token) == "researcher"
    user = users.accept_invitation(con, token, "carol", "long enough")
    assert user.role == "researcher" and users.authenticate(con, "carol", "long enough") == user
    with pytest.raises(AuthError, match="used or expired"):
        users.accept_invitation(con, token, "dave", "long enough")
    old = users.create_invitation(con, "annotator", valid_days=1)
    con.execute(
        "UPDATE invitations SET expires_at = ? WHERE token = ?", [db.utcnow() - timedelta(seconds=1), old]
    )
    with pytest.raises(AuthError, match="used or expired"):
        users.accept_invitation(con, old, "erin", "long enough")


def test_first_start_creates_one_researcher_with_a_random_password(con, monkeypatch):
    monkeypatch.delenv("FT_ADMIN_PASSWORD", raising=False)
    printed = []
    password = users.ensure_admin(con, printer=printed.append)
    assert password and password in printed[0] and len(password) >= 12
    assert users.authenticate(con, "admin", password).role == "researcher"
    assert users.ensure_admin(con, printer=printed.append) is None and len(printed) == 1  # printed once


def test_first_start_never_changes_an_existing_admin_annotator(con, monkeypatch):
    monkeypatch.delenv("FT_ADMIN_PASSWORD", raising=False)
    annotator = users.create_user(con, "admin", "annotator-password", "annotator")
    printed = []
    password = users.ensure_admin(con, printer=printed.append)
    # the annotator keeps its role and password
    assert users.authenticate(con, "admin", "annotator-password") == annotator
    with pytest.raises(AuthError):
        users.authenticate(con, "admin", password)
    (name,) = con.execute("SELECT username FROM users WHERE role = 'researcher'").fetchone()
    assert name.startswith("admin-") and len(name) == len("admin-") + 4
    assert f"'{name}'" in printed[0] and password in printed[0]
    assert users.authenticate(con, name, password).is_researcher


class _CountingHasher(PasswordHasher):
    """argon2's own hasher, counting the hashes it verifies."""

    def __init__(self):
        super().__init__()
        self.verified = []

    def verify(self, hash, password):
        self.verified.append(hash)
        return super().verify(hash, password)


def test_failed_login_of_unknown_or_inactive_user_still_runs_an_argon2_verify(con, monkeypatch):
    users.create_user(con, "alice", "correct horse", "annotator")
    users.create_user(con, "bob", "correct horse", "annotator")
    con.execute("UPDATE users SET active = FALSE WHERE username = 'bob'")
    hasher = _CountingHasher()
    monkeypatch.setattr(users, "_HASHER", hasher)
    users._dummy_hash.cache_clear()
    messages = []
    for name in ("alice", "nobody", "bob"):
        with pytest.raises(AuthError) as error:
            users.authenticate(con, name, "wrong password")
        messages.append(str(error.value))
    assert len(set(messages)) == 1
    assert len(hasher.verified) == 3  # one argon2 verify per failed login, whether or not the user exists
    assert hasher.verified[1] == hasher.verified[2] == users._dummy_hash()  # computed once
    assert hasher.verified[1].startswith("$argon2id$")
    users._dummy_hash.cache_clear()


def test_random_admin_passwords_differ(tmp_path, monkeypatch):
    monkeypatch.delenv("FT_ADMIN_PASSWORD", raising=False)
    passwords = {
        users.ensure_admin(db.connect(tmp_path / f"{i}.duckdb"), printer=lambda _: None) for i in range(2)
    }
    assert len(passwords) == 2


def test_admin_password_from_environment(con, monkeypatch):
    monkeypatch.setenv("FT_ADMIN_PASSWORD", "demo-password")
    users.ensure_admin(con, printer=lambda _: None)
    assert users.authenticate(con, "admin", "demo-password").is_researcher


def test_cli(tmp_path, capsys):
    path = str(tmp_path / "cli.duckdb")
    from annotations.__main__ import main

    assert (
        main(
            [
                "users",
                "--db",
                path,
                "create",
                "--username",
                "frank",
                "--password",
                "password9",
                "--role",
                "researcher",
            ]
        )
        == 0
    )
    assert "created researcher 'frank'" in capsys.readouterr().out
    assert main(["users", "--db", path, "invite", "--url", "http://example:8501"]) == 0
    assert capsys.readouterr().out.startswith("http://example:8501/?invite=")
    assert main(["users", "--db", path, "list"]) == 0
    assert "frank" in capsys.readouterr().out
    assert main(["users", "--db", path, "create", "--username", "frank", "--password", "password9"]) == 1
    assert "taken" in capsys.readouterr().err
