"""The anytime-valid stop of a stored campaign (annotations.judging.stopping): a campaign that asks for it
closes by itself once its confidence sequence decides, with the reason stored; one that is not decided, or
that did not ask, stays open; annotators then get no more pairs; reopening works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers.judge_verdicts import write_judge
from helpers.run_folders import write_run_folder

from annotations.campaigns import CampaignConfig, campaign_config, create_campaign, get_campaign, import_judge
from annotations.campaigns.active_selection import switch_to_active
from annotations.campaigns.queries import campaign_status, set_stopping_rule
from annotations.errors import CampaignError, StoreError
from annotations.judging import assignment, judgments, stopping
from annotations.stats.sequential import confidence_sequence


@pytest.fixture
def make_long_campaign(con, tmp_path):
    run_dir = write_run_folder(tmp_path / "runs" / "run-long", n_items=30)

    def make(**overrides) -> str:
        config = {"k": 1, **overrides}
        return create_campaign(con, CampaignConfig(name="stop", run_dir=str(run_dir), **config))

    return make


def _judge(con, cid, annotator, prefer, n) -> int:
    """Judge up to n pairs, `prefer(i)` naming the system that wins pair i (or "tie"); the pairs judged."""
    done = 0
    for i in range(n):
        pair = assignment.next_item(con, cid, annotator)
        if pair is None:
            break
        (left,) = con.execute(
            "SELECT shown_left FROM assignments WHERE assignment_id = ?", [pair.token]
        ).fetchone()
        winner = prefer(i)
        choice = winner if winner == "tie" else "A" if left == winner else "B"
        judgments.submit(con, pair.token, annotator, choice)
        done += 1
    return done


def test_a_decided_campaign_closes_by_itself_with_its_reason(con, make_long_campaign):
    cid = make_long_campaign(close_when_decided=True)
    # the item after which the sequence first decides, computed independently of the store
    decided_at = int((confidence_sequence([1.0] * 30).lower > 0.5).argmax()) + 1
    judged = _judge(con, cid, "ann-1", lambda i: "finetuned", 30)
    assert judged == decided_at < 30  # it stopped serving pairs right after the deciding item
    status = campaign_status(con, cid)
    assert status.status == "closed"
    assert (
        status.reason == f"closed automatically: decided — the fine-tune is better (after {decided_at} items)"
    )
    assert assignment.next_item(con, cid, "ann-2") is None  # no more pairs, for anyone
    assert cid not in assignment.open_campaigns(con)
    message = stopping.reopen(con, cid)
    assert "no longer closes by itself" in message
    assert campaign_status(con, cid).status == "active" and not campaign_config(con, cid).close_when_decided
    assert _judge(con, cid, "ann-1", lambda i: "finetuned", 3) == 3  # reopened: pairs again, stays open
    assert campaign_status(con, cid).status == "active"


def test_an_undecided_campaign_stays_open(con, make_long_campaign):
    cid = make_long_campaign(close_when_decided=True)
    assert _judge(con, cid, "ann-1", lambda i: ("finetuned", "base")[i % 2], 30) == 30
    assert campaign_status(con, cid).status == "active"
    assert stopping.campaign_certainty(con, cid, with_proxy=False).decision.verdict == "keep_going"


def test_a_campaign_that_did_not_ask_stays_open_even_when_decided(con, make_long_campaign):
    cid = make_long_campaign()
    assert _judge(con, cid, "ann-1", lambda i: "base", 30) == 30
    assert campaign_status(con, cid).status == "active"
    assert stopping.campaign_certainty(con, cid, with_proxy=False).decision.verdict == "base_better"
    assert stopping.close_if_decided(con, cid) is None  # the option is off


def test_turning_the_option_on_later_closes_at_the_next_completed_item(con, make_long_campaign):
    cid = make_long_campaign()
    _judge(con, cid, "ann-1", lambda i: "base", 20)
    set_stopping_rule(con, cid, close_when_decided=True)
    assert _judge(con, cid, "ann-1", lambda i: "base", 5) == 1
    assert campaign_status(con, cid).reason.startswith("closed automatically: decided — the base is better")


def test_the_equivalence_margin_is_the_campaigns(con, make_long_campaign):
    wide = make_long_campaign(equivalence_margin=0.3, close_when_decided=True)
    narrow = make_long_campaign(close_when_decided=True)  # the default margin, 0.05
    sequence = confidence_sequence([0.5] * 30)  # every pair judged a tie
    decided_at = int(((sequence.lower >= 0.2) & (sequence.upper <= 0.8)).argmax()) + 1
    assert _judge(con, wide, "ann-1", lambda i: "tie", 30) == decided_at < 30
    assert campaign_status(con, wide).reason == (
        f"closed automatically: decided — they are equivalent within ±0.3 (after {decided_at} items)"
    )
    assert _judge(con, narrow, "ann-1", lambda i: "tie", 30) == 30
    assert campaign_status(con, narrow).status == "active"
    with pytest.raises(CampaignError, match="equivalence_margin"):
        set_stopping_rule(con, narrow, equivalence_margin=0.5)
    assert campaign_config(con, narrow).equivalence_margin == 0.05  # the refused value changed nothing


def test_an_old_stored_config_reads_as_the_defaults(con, make_long_campaign):
    cid = make_long_campaign()
    stored = json.loads(
        con.execute("SELECT config FROM campaigns WHERE campaign_id = ?", [cid]).fetchone()[0]
    )
    del stored["equivalence_margin"], stored["close_when_decided"]  # as a campaign made before them
    con.execute("UPDATE campaigns SET config = ? WHERE campaign_id = ?", [json.dumps(stored), cid])
    config = get_campaign(con, cid).config
    assert config.equivalence_margin == 0.05 and config.close_when_decided is False


def test_a_failing_close_injected_on_purpose_does_not_fail_the_submit(con, make_long_campaign, monkeypatch):
    cid = make_long_campaign(close_when_decided=True)

    def refuse(*args, **kwargs):
        raise StoreError("injected: the store refused the close")

    monkeypatch.setattr(stopping, "set_status", refuse)
    assert _judge(con, cid, "ann-1", lambda i: "finetuned", 30) == 30  # every submit was stored
    assert campaign_status(con, cid).status == "active"
    assert len(judgments.judgments_frame(con, cid)) == 30


def test_the_lean_decision_frame_is_the_judgments_frames_columns(con, make_long_campaign):
    cid = make_long_campaign(k=2, repeat_rate=0.2)
    _judge(con, cid, "ann-1", lambda i: ("finetuned", "base", "tie")[i % 3], 12)
    _judge(con, cid, "ann-2", lambda i: "finetuned", 12)
    full = judgments.judgments_frame(con, cid)[list(judgments.DECISION_COLUMNS)]
    lean = judgments.decision_frame(con, cid)
    assert len(lean) == len(full) > 0
    pd.testing.assert_frame_equal(lean.reset_index(drop=True), full.reset_index(drop=True), check_dtype=False)


def test_a_submit_without_the_option_imports_no_statistics(tmp_path):
    """The first submit of a process used to import the statistics (scipy): seconds on a busy machine, for a
    campaign that never closes by itself. In a fresh interpreter, so nothing else imported them first."""
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parents[2])!r})
from helpers.run_folders import write_run_folder
from annotations import store
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging import assignment, judgments
run_dir = write_run_folder(__import__("pathlib").Path({str(tmp_path)!r}) / "run", n_items=4)
con = store.connect({str(tmp_path / "s.duckdb")!r})
cid = create_campaign(con, CampaignConfig(name="plain", run_dir=str(run_dir), k=1))
loaded = set(sys.modules)
for _ in range(4):
    pair = assignment.next_item(con, cid, "ann-1")
    judgments.submit(con, pair.token, "ann-1", "A")
print(sorted(m for m in set(sys.modules) - loaded if m.startswith(("scipy", "annotations.stats"))))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_campaign_whose_items_a_judge_chose_never_closes_by_itself(con, tmp_path):
    """Humans on the items the judge was least sure of come in no random order, so the anytime-valid sequence
    does not hold there: judgments that would decide a plain campaign leave this one open, and its state says
    no stop is offered."""
    run_dir = write_run_folder(tmp_path / "runs" / "run-active", n_items=30)
    write_judge(run_dir, "judge-1", n_items=30, p_finetuned=lambda i: 0.5 if i % 2 else 0.9)
    cid = create_campaign(
        con, CampaignConfig(name="active stop", run_dir=str(run_dir), k=1, close_when_decided=True)
    )
    import_judge(con, cid, "judge-1")
    switch_to_active(con, cid, judge="judge-1", budget=25)
    judged = _judge(con, cid, "ann-1", lambda i: "finetuned", 30)
    decided_at = int((confidence_sequence([1.0] * 30).lower > 0.5).argmax()) + 1
    assert judged > decided_at  # a plain campaign would have closed after `decided_at` items
    assert campaign_status(con, cid).status == "active"
    assert stopping.campaign_certainty(con, cid).decision.verdict == "keep_going"
