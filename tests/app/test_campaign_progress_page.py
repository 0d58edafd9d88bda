"""The Campaigns and Users pages' tables (issue 18, item 6): the campaign listing shows every column it
lists in words (the full run path made it wider than the page, cut after k), one campaign's progress (items
at k, each annotator by username, time left), and the Users table names who created an account instead of
an id."""

from __future__ import annotations

import json
from datetime import timedelta

from helpers.login_as import login_as

from annotations import store
from annotations.accounts import users
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging import assignment, judgments
from pages.plain_text import escape_markdown

PASSWORD = "velvet-harbor-pines-29"


def _headers(table) -> list[str]:
    """The headers the browser draws, in the order drawn (column_order when given)."""
    config = json.loads(table.proto.columns or "{}")
    order = list(table.proto.column_order) or list(table.value.columns)
    return [config.get(c, {}).get("label", c) for c in order]


def test_campaign_listing_and_the_progress_of_one(open_page, app_env, researcher, tmp_path):
    run = tmp_path / "runs" / "run-1"  # six items (tests/app/conftest.py)
    campaign_id = create_campaign(
        app_env,
        CampaignConfig(name="six items", run_dir=str(run), k=2, gold_rate=0.0, repeat_rate=0.0),
        created_by=researcher.user_id,
    )
    maria, joao = (
        users.create_user(app_env, n, PASSWORD, "annotator", created_by=researcher.user_id)
        for n in ("maria", "joao")
    )
    now = store.utcnow() - timedelta(minutes=10)
    for person, count in ((maria, 4), (joao, 2)):
        for _ in range(count):
            pair = assignment.next_item(app_env, campaign_id, person.user_id, now=now)
            judgments.submit(app_env, pair.token, person.user_id, "A", now=now)
            now += timedelta(seconds=20)
    at = login_as(open_page("campaigns"), researcher).run()
    assert not at.exception, at.exception

    listing = at.dataframe[0]
    assert _headers(listing) == [
        "Name",
        "Status",
        "Language",
        "k",
        "Items",
        "Judgments",
        "Systems (A vs B)",
        "Outputs from",
    ]
    widths = [json.loads(listing.proto.columns)[c]["width"] for c in listing.proto.column_order]
    assert sum(widths) <= 820  # the page's width for content at 1280 px, beside the sidebar
    row = listing.value.iloc[0]
    assert row["outputs"] == "run-1" and row["n_judgments"] == 6 and row["systems"] == "base vs finetuned"
    assert str(tmp_path) not in " ".join(
        str(row[c]) for c in listing.proto.column_order
    )  # no full path shown
    # what the listing leaves out, in full for the chosen campaign
    about = next(c.value for c in at.caption if c.value.startswith(escape_markdown(campaign_id)))
    assert escape_markdown(f"A = base, B = finetuned; outputs from {run}; English; created ") in about

    bar = at.get("progress")[0].proto
    items_at_k = app_env.execute(
        "SELECT count(*) FROM (SELECT item_id FROM assignments WHERE campaign_id = ? AND status = "
        "'submitted' GROUP BY item_id HAVING count(*) >= 2)",
        [campaign_id],
    ).fetchone()[0]
    assert bar.text.startswith(f"{items_at_k} of 6 items have their k = 2 judgments; 6 of 12 judgments in; ")
    assert bar.text.endswith("left at the pace so far") and bar.value == 100 * items_at_k // 6
    people = at.dataframe[1]
    assert _headers(people) == ["Annotator", "Judged", "Skipped", "Open now", "Last judged"]
    assert people.value["annotator_id"].tolist() == ["maria", "joao"]
    assert people.value["judged"].tolist() == [4, 2]


def test_users_table_names_who_created_each_account(open_page, app_env, researcher):
    users.create_user(app_env, "maria", PASSWORD, "annotator", created_by=researcher.user_id)
    at = login_as(open_page("users"), researcher).run()
    accounts = at.dataframe[0]
    assert not at.exception and "Created by" in _headers(accounts)
    created_by = dict(zip(accounts.value["username"], accounts.value["created_by"]))
    assert created_by["maria"] == "rita" and researcher.user_id not in set(accounts.value["created_by"])
    assert created_by["admin"] == "first start"  # not an id: shown as stored
