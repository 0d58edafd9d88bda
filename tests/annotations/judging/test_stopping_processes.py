"""The stopping rule with several app processes on one store (docs/deploy.md, "Several app processes"): each
process keeps a copy of a campaign's config, and a change another process stored (simulated here by writing
the stored config directly, as that process's `set_stopping_rule` does) reaches this one: within
CONFIG_FRESH_S for what it serves, and at once for the decision to close a campaign by itself."""

from __future__ import annotations

import json

import pytest
from helpers.run_folders import write_run_folder

from annotations import store
from annotations.campaigns import CampaignConfig, campaign_config, create_campaign, queries
from annotations.campaigns.queries import campaign_status
from annotations.judging import assignment, judgments, stopping
from annotations.stats.sequential import confidence_sequence


@pytest.fixture
def campaign(con, tmp_path) -> str:
    run_dir = write_run_folder(tmp_path / "runs" / "run-long", n_items=30)
    config = CampaignConfig(name="stop", run_dir=str(run_dir), k=1, close_when_decided=True)
    return create_campaign(con, config)


def _store_elsewhere(con, cid: str, **changes) -> None:
    """What another app process's set_stopping_rule writes; this process's copy is not told."""
    (text,) = store.read(con).execute("SELECT config FROM campaigns WHERE campaign_id = ?", [cid]).fetchone()
    stored = {**json.loads(text), **changes}
    store.write_statement(
        con, "UPDATE campaigns SET config = ? WHERE campaign_id = ?", [json.dumps(stored), cid]
    )


def test_a_change_stored_by_another_process_is_seen_here(con, campaign, monkeypatch):
    assert campaign_config(con, campaign).close_when_decided  # this process's copy
    _store_elsewhere(con, campaign, equivalence_margin=0.2)
    assert campaign_config(con, campaign, fresh=True).equivalence_margin == 0.2
    _store_elsewhere(con, campaign, equivalence_margin=0.1)
    monkeypatch.setattr(queries, "CONFIG_FRESH_S", 0.0)  # as after CONFIG_FRESH_S seconds
    assert campaign_config(con, campaign).equivalence_margin == 0.1


def test_a_campaign_another_process_told_not_to_close_is_not_closed_here(con, campaign):
    assert campaign_config(con, campaign).close_when_decided  # this process's copy says: close when decided
    decided_at = int((confidence_sequence([1.0] * 30).lower > 0.5).argmax()) + 1  # as test_stopping.py
    for n in range(decided_at):  # decided: the fine-tune wins every pair
        pair = assignment.next_item(con, campaign, "ann-1")
        (left,) = (
            store.read(con)
            .execute("SELECT shown_left FROM assignments WHERE assignment_id = ?", [pair.token])
            .fetchone()
        )
        if n == decided_at - 1:
            # a researcher on another process turns the option off just before the deciding judgment
            _store_elsewhere(con, campaign, close_when_decided=False)
        judgments.submit(con, pair.token, "ann-1", "A" if left == "finetuned" else "B")
    assert stopping.campaign_certainty(con, campaign, with_proxy=False).decision.may_stop
    assert stopping.close_if_decided(con, campaign) is None
    assert campaign_status(con, campaign).status == "active"
