"""Campaigns and Users pages with AppTest: a researcher creates a campaign and an account, makes an invitation."""

from __future__ import annotations

from login_as import login_as

from annotations.campaigns import items_frame, list_campaigns
from annotations.users import authenticate, list_invitations


def _as(open_page, user, name):
    at = open_page(name)
    login_as(at, user)
    return at.run()


def test_create_campaign_from_run_folder(open_page, app_env, researcher):
    at = _as(open_page, researcher, "campaigns")
    assert not at.exception
    assert at.selectbox(key="system_a").value == "base" and at.selectbox(key="system_b").value == "finetuned"
    at.selectbox(key="selection").set_value("random").run()
    at.number_input(key="n_items").set_value(3).run()
    at.number_input(key="k").set_value(2).run()
    at.button(key="create").click().run()
    assert not at.exception and "created" in at.success[0].value
    campaigns = list_campaigns(app_env)
    assert len(campaigns) == 1 and campaigns.k.iloc[0] == 2
    assert len(items_frame(app_env, campaigns.campaign_id.iloc[0])) == 3


def test_bad_gold_line_shows_an_error(open_page, app_env, researcher):
    at = _as(open_page, researcher, "campaigns")
    at.text_area(key="gold").input("item-001,left").run()
    at.button(key="create").click().run()
    assert "winner 'left'" in at.error[0].value
    assert list_campaigns(app_env).empty


def test_users_page_creates_accounts_and_invitations(open_page, app_env, researcher):
    at = _as(open_page, researcher, "users")
    assert not at.exception
    at.text_input[0].input("zoe")
    at.text_input[1].input("silver-fjord-tango-45")
    at.button[0].click().run()
    assert "Created annotator 'zoe'" in at.success[0].value
    assert authenticate(app_env, "zoe", "silver-fjord-tango-45").role == "annotator"
    at.button(key="make_invite").click().run()
    assert "?invite=" in at.code[0].value
    assert len(list_invitations(app_env)) == 1
