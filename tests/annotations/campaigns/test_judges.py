"""Who may judge a campaign (issue 20, item 13): open to every account by default; once a researcher lists
its judges, `next_item`, `submit` and `edit` refuse everyone else, and the annotate page's list of
campaigns leaves the campaign out for them. Emptying the list opens it again."""

from __future__ import annotations

import pytest

from annotations.accounts import users
from annotations.campaigns import campaign_judges, may_judge, set_judges
from annotations.errors import AuthError, CampaignError
from annotations.judging import assignment, judgments

PASSWORD = "velvet-harbor-pines-29"


@pytest.fixture
def people(con):
    return {name: users.create_user(con, name, PASSWORD).user_id for name in ("anna", "bert", "carl")}


def test_a_campaign_is_open_to_every_account_by_default(con, make_campaign, people):
    cid = make_campaign()
    assert campaign_judges(con, cid) == []
    for user_id in people.values():
        assert may_judge(con.cursor(), cid, user_id)
        assert assignment.next_item(con, cid, user_id) is not None
        assert cid in assignment.open_campaigns(con, user_id)


def test_a_listed_campaign_serves_and_stores_only_its_judges(con, make_campaign, people):
    """The attack: any annotator could judge any open campaign. Bert holds a pair from before the list was
    set."""
    cid, other = make_campaign(name="listed"), make_campaign(name="open")
    held = assignment.next_item(con, cid, people["bert"])
    judged = assignment.next_item(con, cid, people["carl"])
    judgments.submit(con, judged.token, people["carl"], "A")
    assert set_judges(con, cid, [people["anna"]], added_by="ann-rita") == [people["anna"]]

    assert assignment.next_item(con, cid, people["anna"]) is not None
    for outsider in ("bert", "carl"):
        with pytest.raises(AuthError, match="not among the judges"):
            assignment.next_item(con, cid, people[outsider])
        assert cid not in assignment.open_campaigns(con, people[outsider])
        assert other in assignment.open_campaigns(con, people[outsider])  # other campaigns stay open to them
    with pytest.raises(AuthError, match="not among the judges"):
        judgments.submit(con, held.token, people["bert"], "B")  # a pair served before the list: not stored
    with pytest.raises(AuthError, match="not among the judges"):
        judgments.edit(con, judged.token, people["carl"], 1, "B")
    rows = con.execute("SELECT annotator_id, version FROM judgments WHERE campaign_id = ?", [cid]).fetchall()
    assert rows == [(people["carl"], 1)]  # carl's judgment from before stays, nothing of bert's

    set_judges(con, cid, [])  # open to all again
    assert judgments.submit(con, held.token, people["bert"], "B").created
    assert cid in assignment.open_campaigns(con, people["carl"])


def test_set_judges_refuses_unknown_accounts_and_campaigns(con, make_campaign, people):
    cid = make_campaign()
    with pytest.raises(CampaignError, match="no account with id 'ann-nobody'"):
        set_judges(con, cid, [people["anna"], "ann-nobody"])
    with pytest.raises(CampaignError, match="no campaign"):
        set_judges(con, "c-missing", [people["anna"]])
    assert campaign_judges(con, cid) == []  # nothing was half-written


def test_an_annotator_lands_on_the_campaign_they_were_invited_to(con, make_campaign, people):
    """Issue 22, item 8: the campaign that lists the annotator comes first, not the newest one open to all."""
    invited = make_campaign(name="invited")
    newest = make_campaign(name="newest, open to all")
    set_judges(con, invited, [people["anna"]])
    assert list(assignment.open_campaigns(con, people["anna"])) == [invited, newest]
    assert list(assignment.open_campaigns(con, people["bert"])) == [newest]  # not listed: only the open one
    assert list(assignment.open_campaigns(con))[0] == newest  # without an account: newest first, as before
