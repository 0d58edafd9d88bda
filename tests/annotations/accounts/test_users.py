"""Users: argon2 hashes, login, invitations, the first researcher, and the CLI."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from argon2 import PasswordHasher

from annotations import store
from annotations.accounts import sessions, users
from annotations.errors import AuthError

STRONG = "velvet-harbor-pines-29"  # passes every rule (12+ characters, zxcvbn score 4)
OTHER = "copper-kite-orchard-64"


def test_password_is_hashed_and_checked(con):
    user = users.create_user(con, "alice", STRONG, "annotator")
    assert user.user_id.startswith("ann-") and user.role == "annotator"
    stored = con.execute("SELECT password_hash FROM users WHERE username = 'alice'").fetchone()[0]
    assert stored.startswith("$argon2id$") and STRONG not in stored
    assert users.authenticate(con, "alice", STRONG) == user
    with pytest.raises(AuthError, match="wrong username or password"):
        users.authenticate(con, "alice", "wrong password")
    with pytest.raises(AuthError, match="wrong username or password"):
        users.authenticate(con, "nobody", STRONG)
    with pytest.raises(AuthError, match="taken"):
        users.create_user(con, "alice", OTHER, "annotator")
    with pytest.raises(AuthError, match="at least 12"):
        users.create_user(con, "bob", "short", "annotator")
    users.set_active(con, user.user_id, False)
    with pytest.raises(AuthError):
        users.authenticate(con, "alice", STRONG)
    assert users.get_user(con, user.user_id) is None


def test_invitation_is_one_use_and_expires(con):
    token = users.create_invitation(con, "researcher", created_by="x")
    assert users.invitation_role(con, token) == "researcher"
    user = users.accept_invitation(con, token, "carol", STRONG)
    assert user.role == "researcher" and users.authenticate(con, "carol", STRONG) == user
    with pytest.raises(AuthError, match="used or expired"):
        users.accept_invitation(con, token, "dave", STRONG)
    old = users.create_invitation(con, "annotator", valid_days=1)
    con.execute(
        "UPDATE invitations SET expires_at = ? WHERE token_hash = ?",
        [store.utcnow() - timedelta(seconds=1), sessions.token_hash(old)],
    )
    with pytest.raises(AuthError, match="used or expired"):
        users.accept_invitation(con, old, "erin", STRONG)


# annotations.store.backup copies a DuckDB store; a PostgreSQL store's backups are its own dump tools'
# (issue 24 item 2, not in yet)
BACKUPS_ON_DUCKDB = "take_backup/restore copy a DuckDB store; PostgreSQL's backups come with pg_dump"


def _every_text(con, folder=None) -> str:
    """Every value of every table of the store (and of every file of a backup folder, its Parquet tables
    read)."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE'"
        ).fetchall()
    ]
    text = "".join(con.execute(f'SELECT * FROM "{t}"').df().to_csv() for t in tables)
    for file in sorted(folder.iterdir()) if folder else []:
        text += file.read_bytes().decode("utf-8", "replace")
        if file.suffix == ".parquet":
            text += pd.read_parquet(file).to_csv()
    return text


def test_the_store_and_its_backups_keep_only_the_hash_of_an_invitation(con, tmp_path, store_backend):
    """A copy of the store (a backup) must not hold a link that creates an account: only the token's SHA-256
    is stored, as for session cookies, and the link still works. (On PostgreSQL the store alone: its backups
    are pg_dump's.)"""
    from annotations.store import backup

    used = users.create_invitation(con, "annotator", created_by="x")
    users.accept_invitation(con, used, "frank", STRONG)
    unused = users.create_invitation(con, "researcher", created_by="x")
    taken = backup.take_backup(con, tmp_path / "backups") if store_backend == "duckdb" else None
    text = _every_text(con, taken.path if taken else None)
    assert sessions.token_hash(unused) in text  # the hash is there: the search does see the tables
    for token in (used, unused):
        assert token not in text and token[:8] not in text
    listed = users.list_invitations(con)
    assert "token" not in listed.columns and set(listed["invitation"].str.len()) == {8}
    assert users.invitation_role(con, unused) == "researcher"  # the link still works
    assert users.accept_invitation(con, unused, "grace", STRONG).role == "researcher"


def _as_before_migration_10(con, tokens: dict[str, str | None]) -> None:
    """Turn a fresh store back into one from before migration 010, with these plain tokens (token ->
    used_by)."""
    con.execute("DROP TABLE invitations")
    con.execute(
        "CREATE TABLE invitations (token VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, created_by VARCHAR, "
        "created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL, used_by VARCHAR, used_at TIMESTAMP)"
    )  # the table as migration 001 made it
    now = store.utcnow()
    for token, used_by in tokens.items():
        con.execute(
            "INSERT INTO invitations VALUES (?, 'annotator', 'x', ?, ?, ?, ?)",
            [token, now, now + timedelta(days=7), used_by, now if used_by else None],
        )
    con.execute("DELETE FROM schema_migrations WHERE version = 10")


def test_migration_10_hashes_the_plain_tokens_of_an_older_store(con):
    """A store from before migration 010 held invitation tokens in plain text: the migration replaces each
    by its hash (DuckDB's sha256 is hashlib's), and a link sent before the upgrade still creates its
    account once."""
    sent, used = "plain-token-sent-before-the-upgrade", "plain-token-already-used"
    _as_before_migration_10(con, {sent: None, used: "ann-1"})
    assert store.migrate(con) == ["010_invitation_token_hashes"]
    text = _every_text(con)
    assert sent not in text and used not in text
    assert users.invitation_role(con, sent) == "annotator"
    assert users.accept_invitation(con, sent, "heidi", STRONG).role == "annotator"
    with pytest.raises(AuthError, match="used or expired"):
        users.invitation_role(con, used)


def test_first_start_creates_one_researcher_with_a_random_password(con, monkeypatch):
    monkeypatch.delenv("FT_ADMIN_PASSWORD", raising=False)
    printed = []
    password = users.ensure_admin(con, printer=printed.append)
    assert password and password in printed[0] and len(password) >= 12
    assert users.authenticate(con, "admin", password).role == "researcher"
    assert users.ensure_admin(con, printer=printed.append) is None and len(printed) == 1  # printed once


def test_first_start_never_changes_an_existing_admin_annotator(con, monkeypatch):
    monkeypatch.delenv("FT_ADMIN_PASSWORD", raising=False)
    annotator = users.create_user(con, "admin", OTHER, "annotator")
    printed = []
    password = users.ensure_admin(con, printer=printed.append)
    # the annotator keeps its role and password
    assert users.authenticate(con, "admin", OTHER) == annotator
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
    users.create_user(con, "alice", STRONG, "annotator")
    users.create_user(con, "bob", STRONG, "annotator")
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
        users.ensure_admin(store.connect(tmp_path / f"{i}.duckdb"), printer=lambda _: None) for i in range(2)
    }
    assert len(passwords) == 2


def test_admin_password_from_environment(con, monkeypatch):
    monkeypatch.setenv("FT_ADMIN_PASSWORD", OTHER)
    users.ensure_admin(con, printer=lambda _: None)
    admin = users.authenticate(con, "admin", OTHER)
    assert admin.is_researcher and not admin.must_change_password


def test_a_weak_admin_password_from_the_environment_must_be_changed_at_first_login(con, monkeypatch):
    monkeypatch.setenv("FT_ADMIN_PASSWORD", "demo-password")
    printed = []
    users.ensure_admin(con, printer=printed.append)
    assert "weak" in printed[0]
    assert users.authenticate(con, "admin", "demo-password").must_change_password


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
                "glacier-mosaic-ninety-9",
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
    assert (
        main(
            ["users", "--db", path, "create", "--username", "frank", "--password", "glacier-mosaic-ninety-9"]
        )
        == 1
    )
    assert "taken" in capsys.readouterr().err


def test_cli_follows_the_password_rules(tmp_path, capsys):
    from annotations.__main__ import main

    path = str(tmp_path / "cli.duckdb")
    weak = ["users", "--db", path, "create", "--username", "gina", "--password", "12345678"]
    assert main(weak) == 1
    assert "at least 12 characters" in capsys.readouterr().err
    assert main(weak[:-1] + ["gina-gina-gina-gina"]) == 1
    assert "username" in capsys.readouterr().err
    assert main(weak[:-1] + [STRONG]) == 0
    capsys.readouterr()
    assert main(["users", "--db", path, "password", "--username", "GINA", "--password", "password1234"]) == 1
    assert "too easy to guess" in capsys.readouterr().err
    assert main(["users", "--db", path, "password", "--username", "GINA", "--password", OTHER]) == 0
    con = store.connect(path)
    assert users.authenticate(con, "gina", OTHER).username == "gina"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-pw-1!", "at least 12 characters"),  # 11 characters
        ("Marguerite-42", "contain the username"),  # the username, other case, inside
        ("marguerite", "at least 12"),
        ("m.a.r.g.u.e.r.i.t.e-2024", "contain the username"),  # the same name once . _ - are dropped
        ("123456789012", "too easy to guess"),
        ("password1234", "too easy to guess"),
        ("qwertyuiopasdf", "too easy to guess"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, problem):
    message = users.password_problem(password, "marguerite")
    assert message is not None and problem in message, message
    assert "\n" not in message


def test_zxcvbn_feedback_is_shown_and_the_minimum_score_is_configurable(monkeypatch):
    message = users.password_problem("password1234", "zed")
    assert "strength" in message and "needs 3" in message
    assert "common" in message.lower() or "add another word" in message.lower()  # zxcvbn's own advice
    monkeypatch.setenv("FT_PASSWORD_MIN_SCORE", "0")
    assert users.password_problem("password1234", "zed") is None


@pytest.mark.parametrize("password", [STRONG, OTHER, "Tr0ub4dor&3-horse", "x" * 40 + "-kite-9"])
def test_strong_passwords_pass(password):
    assert users.password_problem(password, "marguerite") is None


def test_usernames_are_unique_after_nfkc_and_case_folding(con):
    admin = users.create_user(con, "admin", STRONG, "researcher")
    for look_alike in (
        "Admin",
        "ADMIN",
        "admin.",
        "ad_min",
        "admin@",  # issue 20, item 10: `admin@` read as `admin` on every page
        "@admin",
        "ad@min",
        "\uff41\uff44\uff4d\uff49\uff4e",
    ):  # last: full-width
        with pytest.raises(AuthError, match="taken"):
            users.create_user(con, look_alike, OTHER, "annotator")
    assert users.username_key("\uff21dmin.") == "admin"
    for typed in ("admin@", "ad\u200bmin", "ad\u00b7min", "ad\u2010min", "ad min", "'admin'"):
        assert users.username_key(typed) == "admin", typed  # zero-width space, middle dot, Unicode hyphen
    # any spelling of the name logs into the one account
    assert users.authenticate(con, "ADMIN", STRONG) == admin
    assert users.authenticate(con, " Admin ", STRONG) == admin
    # the store enforces it too (a unique index on the canonical key)
    with pytest.raises(Exception, match="(?i)duplicate|constraint"):
        con.execute(
            "INSERT INTO users (user_id, username, username_key, role, password_hash, created_at) "
            "VALUES ('ann-x', 'ADMIN', 'admin', 'annotator', 'h', now())"
        )


def _legacy_user(con, username: str, password: str) -> str:
    """An account made before the rules (its hash written as the old code wrote it)."""
    user_id = "ann-legacy"
    con.execute(
        "INSERT INTO users (user_id, username, username_key, role, password_hash, created_at) "
        "VALUES (?, ?, ?, 'annotator', ?, now())",
        [user_id, username, users.username_key(username), PasswordHasher().hash(password)],
    )
    return user_id


def test_an_old_weak_password_still_logs_in_and_must_be_changed(con):
    user_id = _legacy_user(con, "olga", "olga1234")
    user = users.authenticate(con, "olga", "olga1234")
    assert user.user_id == user_id and user.must_change_password
    assert users.get_user(con, user_id).must_change_password  # stored, so a reload still asks
    with pytest.raises(AuthError, match="current password is wrong"):
        users.change_own_password(con, user, "not it", STRONG)
    with pytest.raises(AuthError, match="at least 12"):
        users.change_own_password(con, user, "olga1234", "olga5678")
    changed = users.change_own_password(con, user, "olga1234", STRONG)
    assert not changed.must_change_password and not users.get_user(con, user_id).must_change_password
    assert not users.authenticate(con, "olga", STRONG).must_change_password
    with pytest.raises(AuthError):
        users.authenticate(con, "olga", "olga1234")


def test_disabling_an_account_or_changing_its_password_revokes_its_sessions(con):
    from annotations.accounts import sessions

    user = users.create_user(con, "hugo", STRONG)
    first, second, third = (sessions.start(con, user.user_id) for _ in range(3))
    users.change_own_password(con, user, STRONG, OTHER, session_id=second.session_id)
    assert sessions.check(con, first.session_id) is None  # other sessions end ...
    assert sessions.check(con, second.session_id) is not None  # ... the one that changed it stays
    assert sessions.check(con, third.session_id) is None
    users.set_password(con, "hugo", STRONG)  # a researcher's reset (CLI): every session ends
    assert sessions.check(con, second.session_id) is None
    fourth = sessions.start(con, user.user_id)
    users.set_active(con, user.user_id, False)
    assert sessions.check(con, fourth.session_id) is None
    reasons = {row[5] for row in sessions.list_sessions(con, user.user_id)}
    assert reasons == {"password changed", "disabled"}


def test_the_migration_gives_existing_accounts_a_key_without_losing_any(tmp_path):
    """A store made before migration 003 with names that collide once case-folded: both accounts keep
    working."""
    con = upgraded_store_with_users(
        tmp_path / "old.duckdb",
        3,
        "INSERT INTO users (user_id, username, role, password_hash, created_at) VALUES "
        "('ann-1', 'Admin', 'researcher', ?, TIMESTAMP '2026-01-01'), "
        "('ann-2', 'admin', 'annotator', ?, TIMESTAMP '2026-01-02'), "
        "('ann-3', 'j.smith', 'annotator', ?, TIMESTAMP '2026-01-03')",
        ["first-pass", "second-pass", "third-pass"],
    )
    keys = dict(con.execute("SELECT user_id, username_key FROM users").fetchall())
    assert keys == {"ann-1": "admin", "ann-2": "admin#ann-2", "ann-3": "jsmith"}
    assert users.authenticate(con, "Admin", "first-pass").user_id == "ann-1"
    assert users.authenticate(con, "admin", "second-pass").user_id == "ann-2"  # the exact name still finds it
    assert users.authenticate(
        con, "JSmith", "third-pass"
    ).must_change_password  # too short now: asked to change
    with pytest.raises(AuthError, match="taken"):
        users.create_user(con, "ADMIN", STRONG)


def test_migration_009_folds_at_in_existing_keys_without_losing_an_account(tmp_path):
    """A store made before `@` was folded, holding `admin` and `admin@` (the look-alike) and an e-mail-like
    name: both admins keep logging in by their exact names, and no new account can take either spelling."""
    con = upgraded_store_with_users(
        tmp_path / "old.duckdb",
        9,
        "INSERT INTO users (user_id, username, username_key, role, password_hash, created_at) VALUES "
        "('ann-1', 'admin', 'admin', 'researcher', ?, now()), ('ann-2', 'admin@', 'admin@', 'annotator', ?, "
        "now()), ('ann-3', 'Anna@Lab.org', 'anna@laborg', 'annotator', ?, now())",
        [STRONG, OTHER, STRONG],
    )
    keys = dict(con.execute("SELECT user_id, username_key FROM users").fetchall())
    assert keys == {"ann-1": "admin", "ann-2": "admin@#ann-2", "ann-3": "annalaborg"}
    assert users.authenticate(con, "admin", STRONG).user_id == "ann-1"
    assert users.authenticate(con, "admin@", OTHER).user_id == "ann-2"  # the exact name still finds it
    assert users.authenticate(con, "anna@lab.org", STRONG).user_id == "ann-3"
    for taken in ("ADMIN@", "annalab.org"):
        with pytest.raises(AuthError, match="taken"):
            users.create_user(con, taken, "slate-meadow-copper-81")


def test_a_hash_with_several_lanes_is_redone_with_one_at_login(con):
    """One lane: a verification runs on one thread, so guessing sessions never occupy every core."""
    user_id = _legacy_user(con, "petra", STRONG)  # made by argon2-cffi's default hasher: 4 lanes
    assert "p=4" in con.execute("SELECT password_hash FROM users WHERE user_id = ?", [user_id]).fetchone()[0]
    assert users.authenticate(con, "petra", STRONG).user_id == user_id
    (stored,) = con.execute("SELECT password_hash FROM users WHERE user_id = ?", [user_id]).fetchone()
    assert stored.startswith("$argon2id$") and "p=1" in stored
    assert (
        users.authenticate(con, "petra", STRONG).user_id == user_id
    )  # the new hash checks the same password
    users.create_user(con, "quinn", OTHER)
    assert "p=1" in con.execute("SELECT password_hash FROM users WHERE username = 'quinn'").fetchone()[0]


def test_a_backup_from_before_migration_10_restores_with_hashes_only(con, tmp_path, store_backend):
    """An old backup holds plain tokens; restoring it applies migration 010, so the restored store holds only
    hashes and the link still works."""
    if store_backend == "postgresql":
        pytest.skip(BACKUPS_ON_DUCKDB)
    from annotations.store import backup

    sent = "plain-token-in-an-old-backup"
    _as_before_migration_10(con, {sent: None})
    old = backup.take_backup(con, tmp_path / "backups")
    backup.restore(old.path, tmp_path / "restored.duckdb")
    restored = store.connect(tmp_path / "restored.duckdb")
    try:
        assert sent not in _every_text(restored)
        assert users.invitation_role(restored, sent) == "annotator"
    finally:
        restored.close()


def test_a_stored_hash_argon2_cannot_read_is_a_wrong_password_not_a_crash(con):
    """A mismatch and an unreadable hash are ordinary answers of the check (no exception jumps to a handler):
    logging in and changing one's password both refuse with the usual one line; a renamed account too."""
    user = users.create_user(con, "alice", STRONG, "annotator")
    con.execute("UPDATE users SET password_hash = 'not-an-argon2-hash' WHERE user_id = ?", [user.user_id])
    with pytest.raises(AuthError, match="^wrong username or password$"):
        users.authenticate(con, "alice", STRONG)
    with pytest.raises(AuthError, match="^the current password is wrong$"):
        users.change_own_password(con, user, STRONG, STRONG + "-new")
    stranger = users.User("someone-else", "alice", "annotator")  # same name, another account id
    with pytest.raises(AuthError, match="^the current password is wrong$"):
        users.change_own_password(con, stranger, STRONG, STRONG + "-new")


def store_before_migration(path, version: int):
    """A DuckDB file holding the schema as it was before migration `version` (an old store to upgrade)."""
    import duckdb

    old = duckdb.connect(str(path))
    old.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at "
        "TIMESTAMP)"
    )
    for number, name, file in store.migrations():
        if number < version:
            old.execute(file.read_text())
            old.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, name])
    return old


def upgraded_store_with_users(path, version: int, insert_users: str, passwords: list[str]):
    """A store made before migration `version` holding the users that `insert_users` inserts (its `?`s take
    the argon2 hashes of `passwords`), then opened as the app opens it: upgraded."""
    old = store_before_migration(path, version)
    hasher = PasswordHasher()
    old.execute(insert_users, [hasher.hash(password) for password in passwords])
    old.close()
    return store.connect(path)
