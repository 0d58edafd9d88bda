"""Sessions, password rules and the login throttle on the pages (AppTest): a session ended elsewhere logs a
tab out at its next run, an old weak password leads to the new-password page before anything else, the
Users page refuses weak passwords with the reason and shows failed logins, and a store held by another
process gives one line."""

from __future__ import annotations

import subprocess
import sys

from argon2 import PasswordHasher
from helpers.login_as import login_as

from annotations.accounts import logins, sessions, users
from pages.shared import SESSION_KEY


def _login(at, username, password):
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click()
    return at.run()


def _tab(open_page, session_id):
    """A fresh run of the entry point in a tab that holds this session (a new tab finds it by the cookie)."""
    at = open_page("streamlit_app")
    at.session_state[SESSION_KEY] = session_id
    return at.run()


# AppTest runs the entry point once; its later runs of the same AppTest run the page that was shown (its
# `pages/` folder), so a "next action" below is the next run of that page, which checks the session itself.


def test_a_session_ended_elsewhere_logs_every_tab_out_at_its_next_action(
    open_page, app_env, annotator, campaign
):
    first = login_as(open_page("streamlit_app"), annotator).run()
    assert first.title[0].value == "Annotate"
    second = _tab(open_page, first.session_state[SESSION_KEY])
    assert second.title[0].value == "Annotate"
    sessions.revoke(
        app_env, first.session_state[SESSION_KEY]
    )  # what the Log out button does (tests/e2e clicks it)
    for tab in (first, second):
        tab.run()
        assert "log in" in tab.error[0].value.lower() and len(tab.title) == 0
    assert _tab(open_page, first.session_state.get(SESSION_KEY, "gone")).subheader[0].value == "Log in"


def test_a_disabled_account_is_logged_out_at_its_next_action(
    open_page, app_env, annotator, researcher, campaign
):
    tab = login_as(open_page("streamlit_app"), annotator).run()
    assert tab.title[0].value == "Annotate"
    page = login_as(open_page("users"), researcher).run()
    page.selectbox(key="disable_target").set_value(annotator.user_id).run()
    page.button(key="toggle_active").click().run()
    assert not page.exception
    tab.run()
    assert "log in" in tab.error[0].value.lower()


def test_a_callback_of_an_ended_session_stores_nothing(open_page, app_env, annotator, campaign):
    at = login_as(open_page("annotate"), annotator).run()
    at.button(key=next(b.key for b in at.button if b.key and b.key.endswith("::A"))).click().run()
    sessions.revoke(app_env, at.session_state[SESSION_KEY])  # logged out in another tab meanwhile
    at.button(key="submit").click().run()
    assert "log in" in at.error[0].value.lower()
    assert app_env.execute("SELECT count(*) FROM judgments").fetchone() == (0,)


def test_an_old_weak_password_leads_to_the_new_password_page_first(open_page, app_env, campaign):
    app_env.execute(
        "INSERT INTO users (user_id, username, username_key, role, password_hash, created_at) "
        "VALUES ('ann-old', 'oskar', 'oskar', 'annotator', ?, now())",
        [PasswordHasher().hash("oskar123")],  # made before the rules: too short, contains the name
    )
    gate = _login(open_page("streamlit_app").run(), "oskar", "oskar123")
    assert not gate.exception and gate.session_state[SESSION_KEY].startswith("ses-")
    at = _tab(open_page, gate.session_state[SESSION_KEY])  # the next run of the app
    assert not at.exception and at.title[0].value == "New password"
    assert "does not meet the current rules" in at.warning[0].value
    annotate = login_as(open_page("annotate"), users.get_user(app_env, "ann-old")).run()
    assert "new password first" in annotate.error[0].value  # a page refuses on its own too
    at.text_input[0].input("oskar123")
    at.text_input[1].input("password1234")
    at.text_input[2].input("password1234")
    at.button[0].click().run()
    assert "too easy to guess" in at.error[0].value
    at.text_input[0].input("oskar123")
    at.text_input[1].input("amber-quiver-basalt-36")
    at.text_input[2].input("amber-quiver-basalt-36")
    at.button[0].click().run()
    assert not at.exception and not users.get_user(app_env, "ann-old").must_change_password
    after = _tab(open_page, gate.session_state[SESSION_KEY])  # the session stays, the study goes on
    assert after.title[0].value == "Annotate"


def test_users_page_refuses_weak_passwords_with_the_reason(open_page, app_env, researcher):
    at = login_as(open_page("users"), researcher).run()
    at.text_input[0].input("Rita.")  # a look-alike of the researcher's own name
    at.text_input[1].input("silver-fjord-tango-45")
    at.button[0].click().run()
    assert "taken" in at.error[0].value
    at.text_input[0].input("zack")
    at.text_input[1].input("123456789012")
    at.button[0].click().run()
    assert "too easy to guess" in at.error[0].value
    assert "zack" not in users.list_users(app_env).username.tolist()


def test_failed_logins_are_shown_to_researchers(open_page, app_env, researcher, monkeypatch):
    monkeypatch.setenv("FT_LOGIN_BACKOFF_SECONDS", "0")
    gate = open_page("streamlit_app").run()
    for typed in ("admin", "ghost-user", "admin"):
        _login(gate, typed, "not-the-password")
        assert gate.error[0].value.startswith("Wrong username or password")
    page = login_as(open_page("users"), researcher).run()
    assert not page.exception
    attempts = page.dataframe[-1].value
    failed = attempts[attempts.outcome == "failure"]
    assert sorted(failed.username) == ["admin", "admin", "ghost-user"] and set(failed.client) == {"local"}
    assert "3 failed" in page.caption[-1].value


def test_a_locked_admin_still_logs_in_from_elsewhere_and_a_researcher_unlocks_it(
    open_page, app_env, admin_password, researcher, monkeypatch
):
    """Issue 20, item 1, on the pages: five wrong passwords for `admin` from an attacker's address lock
    only that address; the login page (another address) lets admin in with the right password; the Users
    page lists the lock and its Unlock button lifts it."""
    monkeypatch.setenv("FT_LOGIN_BACKOFF_SECONDS", "0")
    for _ in range(5):
        logins.log_in(app_env, "admin", "not-the-password", "203.0.113.66")
    assert "Too many failed logins" in logins.log_in(app_env, "admin", admin_password, "203.0.113.66").message
    gate = _login(open_page("streamlit_app").run(), "admin", admin_password)
    assert not gate.exception and not gate.error and gate.session_state[SESSION_KEY].startswith("ses-")
    page = login_as(open_page("users"), researcher).run()
    assert "1 username locked" in page.warning[0].value
    assert page.selectbox(key="unlock_target").value == "admin"
    page.button(key="unlock").click().run()
    assert not page.exception and "Unlocked 'admin'" in page.success[0].value
    assert logins.locked_usernames(app_env).empty
    assert logins.log_in(app_env, "admin", admin_password, "203.0.113.66").user is not None


def test_a_store_held_by_another_process_gives_one_line_to_visitors(open_page, tmp_path, monkeypatch):
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(60)",  # noqa: E501
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        monkeypatch.setenv("FT_APP_DB", str(path))
        at = open_page("streamlit_app").run()
        assert not at.exception
        assert len(at.error) == 1 and "in use by another program" in at.error[0].value
        assert str(path) not in at.error[0].value and "\n" not in at.error[0].value
    finally:
        holder.kill()
        holder.wait()
