"""Login gate and roles with AppTest: who sees which page; a page refuses the wrong role by itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers.login_as import login_as

from annotations import store


def _login(at, username, password):
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click()
    return at.run()


def test_login_gate_and_first_researcher(open_page, app_env, admin_password, monkeypatch):
    # a back-off far longer than a page run on a loaded machine; the clock, not a sleep, lets it pass
    monkeypatch.setenv("FT_LOGIN_BACKOFF_SECONDS", "30")
    at = open_page("streamlit_app").run()
    assert not at.exception and at.subheader[0].value == "Log in"
    _login(at, "admin", "wrong-password")
    assert "Wrong username or password" in at.error[0].value
    _login(
        at, "admin", admin_password
    )  # at once: the back-off (30 s after one failure) refuses even the right one
    assert "Too many failed logins" in at.error[0].value and "user_id" not in at.session_state
    real_utcnow = store.utcnow
    monkeypatch.setattr(store, "utcnow", lambda: real_utcnow() + timedelta(seconds=31))
    _login(at, "admin", admin_password)
    assert not at.exception and at.session_state["user_id"].startswith("ann-")
    assert at.session_state["session_id"].startswith("ses-")
    at.switch_page("pages/campaigns.py").run()
    assert not at.exception and at.title[0].value == "Campaigns"


def test_annotator_lands_on_annotate(open_page, app_env, annotator, campaign):
    at = open_page("streamlit_app").run()
    _login(at, "anna", "velvet-harbor-pines-29")
    assert at.session_state["user_id"] == annotator.user_id
    at.switch_page("pages/annotate.py").run()
    assert not at.exception and at.title[0].value == "Annotate"
    # AppTest keeps the first page's address; a fresh session of the same user lands on Annotate by default.
    fresh = login_as(open_page("streamlit_app"), annotator)
    fresh.run()
    assert fresh.title[0].value == "Annotate"


@pytest.mark.parametrize("name", ["campaigns", "users", "home"])
def test_researcher_pages_refuse_annotators(open_page, app_env, annotator, name):
    at = login_as(open_page(name), annotator)
    at.run()
    assert "do not have access" in at.error[0].value
    assert len(at.title) == 0 and len(at.dataframe) == 0


@pytest.mark.parametrize("name", ["annotate", "campaigns", "users"])
def test_pages_refuse_anonymous(open_page, app_env, name):
    at = open_page(name).run()
    assert "log in" in at.error[0].value.lower()


def test_invitation_link_creates_account(open_page, app_env):
    from annotations.accounts.users import authenticate, create_invitation

    token = create_invitation(app_env, "annotator")
    at = open_page("streamlit_app")
    at.query_params["invite"] = token
    at.run()
    assert "Create your annotator account" in at.subheader[0].value
    at.text_input[0].input("newbie")
    at.text_input[1].input("amber-quiver-basalt-36")
    at.text_input[2].input("amber-quiver-basalt-36")
    at.button[0].click().run()
    assert not at.exception
    assert authenticate(app_env, "newbie", "amber-quiver-basalt-36").role == "annotator"
