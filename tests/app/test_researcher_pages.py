"""Campaigns and Users pages with AppTest: a researcher creates a campaign and an account, makes an
invitation."""

from __future__ import annotations

import pytest
from helpers.login_as import login_as

from annotations.accounts.users import authenticate, list_invitations
from annotations.campaigns import items_frame, list_campaigns


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


def test_the_campaign_forms_limits_are_the_configs(open_page, app_env, researcher):
    """The form takes its limits from CampaignConfig's field metadata (the form offered gold shares up to
    0.5 where the config allowed up to 1): each widget's range is the config's, on both pages."""
    import dataclasses

    from annotations.campaigns import CampaignConfig

    limits = {
        f.name: f.metadata["range"] for f in dataclasses.fields(CampaignConfig) if "range" in f.metadata
    }
    campaigns_page = _as(open_page, researcher, "campaigns")
    runs_page = _as(open_page, researcher, "runs")
    numbers = (
        "n_items",
        "sample_seed",
        "k",
        "items_per_annotator",
        "lease_minutes",
        "max_text_chars",
        "max_comment_chars",
    )
    for name in numbers:
        widget = campaigns_page.number_input(key=name)
        assert widget.min == limits[name].low, name
        assert widget.max == limits[name].high, name
    for name in ("n_items", "k", "max_text_chars"):
        assert runs_page.number_input(key=f"camp_{name}").min == campaigns_page.number_input(key=name).min
    for name in ("gold_rate", "repeat_rate"):
        for slider in (campaigns_page.slider(key=name), runs_page.slider(key=f"camp_{name}")):
            assert (slider.min, slider.max) == (limits[name].low, limits[name].high), name


def test_a_value_the_config_refuses_is_refused_by_the_form_with_the_configs_message(
    open_page, app_env, researcher
):
    """A share of 1 is within the slider (the config's bound) but not a share the config takes: creating the
    campaign shows the config's own message and makes nothing."""
    from annotations.campaigns import CampaignConfig
    from annotations.errors import CampaignError

    with pytest.raises(CampaignError) as refused:
        CampaignConfig(name="x", run_dir="runs/x", gold_rate=1.0)
    at = _as(open_page, researcher, "campaigns")
    at.slider(key="gold_rate").set_value(1.0).run()
    at.button(key="create").click().run()
    assert not at.exception and at.error[0].value.replace("\\", "") == str(refused.value)
    assert "gold_rate must be" in str(refused.value)
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


def test_both_campaign_forms_offer_the_configs_defaults_and_labels(open_page, app_env, researcher):
    """One form (pages/campaign_form.py) on the Campaigns and Runs pages: the same defaults as CampaignConfig
    (the Runs page offered 50 items where the Campaigns page offered 100) and the same labels."""
    import dataclasses

    from annotations.campaigns import CampaignConfig

    defaults = {f.name: f.default for f in dataclasses.fields(CampaignConfig)}
    labels = {f.name: f.metadata["label"] for f in dataclasses.fields(CampaignConfig)}
    campaigns_page = _as(open_page, researcher, "campaigns")
    runs_page = _as(open_page, researcher, "runs")
    assert not campaigns_page.exception and not runs_page.exception
    for name in ("n_items", "k", "max_text_chars"):
        full, short = campaigns_page.number_input(key=name), runs_page.number_input(key=f"camp_{name}")
        assert full.value == short.value == defaults[name], name
        assert full.label == short.label == labels[name], name
    for name in ("gold_rate", "repeat_rate"):
        assert (
            campaigns_page.slider(key=name).value
            == runs_page.slider(key=f"camp_{name}").value
            == defaults[name]
        )
    assert (
        campaigns_page.checkbox(key="show_reference").label
        == runs_page.checkbox(key="camp_show_reference").label
        == labels["show_reference"]
    )
