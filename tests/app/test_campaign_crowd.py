"""The Campaigns page's "Crowd study" section (pages/campaign_crowd.py) with AppTest: opening a Prolific study
shows its link once with the secret (only its hash is stored), limits the campaign to its researcher and
participants, and a bad setting is said on one line with nothing stored."""

from __future__ import annotations

from helpers.login_as import login_as

from annotations.accounts.sessions import token_hash
from annotations.campaigns import campaign_judges


def _open_form(open_page, researcher):
    at = open_page("campaigns")
    login_as(at, researcher)
    return at.run()


def _field(at, label_start: str):
    return next(w for w in [*at.text_input, *at.text_area] if w.label.startswith(label_start))


def test_opening_a_prolific_study_shows_its_link_once(open_page, app_env, researcher, campaign):
    at = _open_form(open_page, researcher)
    assert "Crowd study" in [h.value for h in at.subheader]
    _field(at, "Consent text").input("You agree.")
    _field(at, "Completion code").input("C0MPL3")
    _field(at, "The app's address").input("https://study.example")
    next(b for b in at.button if b.label == "Open as a crowd study").click()
    at.run()
    assert not at.exception, at.exception
    link = at.code[0].value
    assert link.startswith("https://study.example/?study=stu-") and "PROLIFIC_PID={{%PROLIFIC_PID%}}" in link
    secret = link.split("key=")[1].split("&")[0]
    assert app_env.execute("SELECT secret_hash FROM crowd_studies").fetchone()[0] == token_hash(secret)
    assert campaign_judges(app_env, campaign) == [researcher.user_id]
    at.run()  # shown once
    assert not at.code


def test_a_bad_setting_is_one_line_and_nothing_is_stored(open_page, app_env, researcher, campaign):
    at = _open_form(open_page, researcher)
    next(b for b in at.button if b.label == "Open as a crowd study").click()  # no completion code
    at.run()
    assert not at.exception
    assert any("completion code" in e.value for e in at.error)
    assert app_env.execute("SELECT count(*) FROM crowd_studies").fetchone()[0] == 0
