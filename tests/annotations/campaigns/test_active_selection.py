"""Humans where the judge is unsure (annotations.campaigns.active_selection, migration 013): switching draws
the items once (never again), the assignment serves only drawn items and gold items, every drawn item reaches
k with the side design intact, Results' certainty weighs by 1 / pi; a campaign without judge verdicts or a
budget that does not fit is a one-line error that writes nothing."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from helpers.judge_verdicts import write_judge
from helpers.run_folders import write_run_folder

from annotations import store
from annotations.__main__ import main
from annotations.campaigns import (
    CampaignConfig,
    campaign_config,
    campaign_design,
    create_campaign,
    import_judge,
)
from annotations.campaigns.active_selection import (
    ASSIGNMENT_LANE,
    active_draws_frame,
    active_selection,
    switch_to_active,
)
from annotations.campaigns.progress import campaign_progress
from annotations.errors import CampaignError
from annotations.judging import assignment, judgments
from annotations.report import load_campaign
from annotations.stats.active import MIN_SHARE
from annotations.stats.certainty import certainty

JUDGE = "judge-1"
N_ITEMS = 40
GOLD = {"item-038": "finetuned", "item-039": "tie"}


def _campaign(con, tmp_path, **overrides) -> str:
    """A 40-item run-folder campaign (2 gold items); its judge is sure on even items, unsure on odd ones."""
    run_dir = write_run_folder(tmp_path / "runs" / "run-active", n_items=N_ITEMS)
    write_judge(
        run_dir,
        JUDGE,
        n_items=N_ITEMS,
        p_finetuned=lambda i: 0.97 if i % 2 == 0 else 0.5,
        consistent=lambda i: i % 10 != 5,
    )
    settings = {"k": 2, "gold_items": GOLD, "gold_rate": 0.2, "repeat_rate": 0.2, **overrides}
    cid = create_campaign(con, CampaignConfig(name="active", run_dir=str(run_dir), **settings))
    import_judge(con, cid, JUDGE)
    return cid


def _judge_all(con, cid, annotators, seed=0) -> None:
    rng, active = random.Random(seed), list(annotators)
    while active:
        rng.shuffle(active)
        for annotator in list(active):
            pair = assignment.next_item(con, cid, annotator)
            if pair is None:
                active.remove(annotator)
                continue
            judgments.submit(con, pair.token, annotator, rng.choice(["A", "B", "tie"]))


def _tables(con) -> tuple[int, int]:
    return tuple(
        con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("active_selections", "active_draws")
    )


def test_only_drawn_items_are_served_and_each_reaches_k(con, tmp_path):
    cid = _campaign(con, tmp_path)
    # budget 20: enough drawn items (about 20, rarely under 14) for each annotator to meet gold and repeats
    selection = switch_to_active(con, cid, JUDGE, budget=20)
    draws = active_draws_frame(con, cid)
    assert len(draws) == N_ITEMS - len(GOLD) == selection.n_items and not draws["started"].any()
    assert draws["probability"].sum() == pytest.approx(20)
    assert draws["probability"].min() >= MIN_SHARE * 20 / len(draws) - 1e-12
    # the judge's unsure items (p = 1/2, or orders that disagree) are drawn with a higher probability
    unsure = draws["item_id"].str[-3:].astype(int).map(lambda i: i % 2 == 1 or i % 10 == 5)
    assert draws.loc[unsure, "probability"].min() > draws.loc[~unsure, "probability"].max()
    drawn = set(draws.loc[draws["drawn"], "item_id"])
    assert len(drawn) == selection.n_drawn > 0

    annotators = [f"ann-{i}" for i in range(3)]
    _judge_all(con, cid, annotators)
    a = con.execute("SELECT * FROM assignments WHERE campaign_id = ?", [cid]).df()
    regular = a[~a.is_gold & ~a.is_repeat]
    assert set(a.item_id) <= drawn | set(GOLD)  # an item never drawn is never served, not even as a repeat
    assert set(regular.item_id) == drawn
    assert (regular[regular.status == "submitted"].groupby("item_id").size() == 2).all()  # every one at k
    assert a.is_gold.any() and a.is_repeat.any()  # gold pairs and flipped repeats still come
    design = campaign_design(con, cid)
    for annotator in annotators:  # each annotator's sides still follow their own design
        mine = regular[regular.annotator_id == annotator].sort_values("served_at")
        assert list(mine.shown_left == "base") == design.sides(annotator, len(mine))
    progress = campaign_progress(con, cid)
    assert progress.complete and progress.n_items == len(drawn)
    assert assignment.progress(con, cid, "a-newcomer").assigned == 0

    # Results: the interval is the weighted one, with the judge as proxy, and no stop is offered
    data = load_campaign(con, cid)
    r = certainty(data.judgments, data.metrics, active_draws=draws, system="finetuned", opponent="base")
    assert r.proxy == f"judge '{JUDGE}'" and r.ppi is not None and "inverse-probability" in r.ppi.method
    assert r.ppi.n_labelled == len(drawn) and r.ppi.n_unlabelled == len(draws) - len(drawn)
    assert not r.decision.may_stop and r.plan is None


def test_items_started_before_the_switch_are_kept_with_probability_one(con, tmp_path):
    cid = _campaign(con, tmp_path, gold_items={}, gold_rate=0.0, repeat_rate=0.0)
    for _ in range(3):
        pair = assignment.next_item(con, cid, "early")
        judgments.submit(con, pair.token, "early", "A")
    held = assignment.next_item(con, cid, "holder")  # open, not judged: started too
    switch_to_active(con, cid, JUDGE, budget=10)
    draws = active_draws_frame(con, cid).set_index("item_id")
    rows = con.execute("SELECT item_id FROM assignments WHERE campaign_id = ?", [cid]).fetchall()
    before = {item_id for (item_id,) in rows}
    assert held is not None and 3 <= len(before) <= 4  # the holder's item may be one of the judged three
    assert draws.loc[list(before), "started"].all() and draws.loc[list(before), "drawn"].all()
    assert (draws.loc[list(before), "probability"] == 1).all()
    assert draws["probability"].sum() == pytest.approx(10) and draws["started"].sum() == len(before)
    assert assignment.next_item(con, cid, "holder").token == held.token  # the open pair stays its holder's


def test_switching_twice_does_not_redraw(con, tmp_path):
    cid = _campaign(con, tmp_path)
    first = switch_to_active(con, cid, JUDGE, budget=15)
    draws = active_draws_frame(con, cid)
    again = switch_to_active(con, cid, JUDGE, budget=15)
    assert again.already and not first.already and again.n_drawn == first.n_drawn
    pd.testing.assert_frame_equal(active_draws_frame(con, cid), draws)
    with pytest.raises(
        CampaignError, match="already switched with judge 'judge-1' and budget 15; its draw is kept"
    ):
        switch_to_active(con, cid, JUDGE, budget=20)
    pd.testing.assert_frame_equal(active_draws_frame(con, cid), draws)
    assert _tables(con) == (1, len(draws))


def test_a_campaign_without_judge_verdicts_is_a_one_line_error_and_nothing_changes(
    con, tmp_path, make_campaign, capsys
):
    cid = make_campaign(k=1)
    with pytest.raises(
        CampaignError, match=f"judge '{JUDGE}' has no verdicts on campaign '{cid}'; judges imported: none"
    ):
        switch_to_active(con, cid, JUDGE, budget=5)
    with pytest.raises(CampaignError, match="no campaign with id 'nope'"):
        switch_to_active(con, "nope", JUDGE, budget=5)
    assert _tables(con) == (0, 0) and active_selection(con, cid) is None
    assert assignment.next_item(con, cid, "ann") is not None  # the campaign serves every item as before
    db = getattr(con, "url", None) or tmp_path / "store.duckdb"  # the command opens the same store
    con.close()
    assert main(["active", "--campaign", cid, "--budget", "5", "--judge", JUDGE, "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: judge '{JUDGE}' has no verdicts") and err.count("\n") == 1


@pytest.mark.parametrize(
    "budget, message", [(0, "budget must be between 0 and the campaign's 38 items, got 0"), (39, "got 39")]
)
def test_a_budget_that_does_not_fit_writes_nothing(con, tmp_path, budget, message):
    cid = _campaign(con, tmp_path)
    with pytest.raises(CampaignError, match=message):
        switch_to_active(con, cid, JUDGE, budget=budget)
    assert _tables(con) == (0, 0)


def test_the_command_line_switches_and_says_what_it_did(con, tmp_path, capsys):
    cid = _campaign(con, tmp_path)
    db = getattr(con, "url", None) or tmp_path / "store.duckdb"  # the command opens the same store
    con.close()
    assert main(["active", "--campaign", cid, "--budget", "12", "--judge", JUDGE, "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith("humans judge ") and "of 38 items, chosen where judge 'judge-1' is least sure" in out
    )
    assert main(["active", "--campaign", cid, "--budget", "12", "--judge", JUDGE, "--db", str(db)]) == 0
    assert capsys.readouterr().out.startswith("Already switched: humans judge ")


def test_the_switch_writes_in_the_assignments_lane():
    assert ASSIGNMENT_LANE == assignment.ASSIGNMENT_LANE  # so no claim runs between reading and drawing


def test_the_draw_uses_each_items_probability(con, tmp_path):
    """Over repeated switches (fresh campaigns), each item is drawn about pi_i of the time."""
    counts, pis = None, None
    for n in range(12):
        cid = _campaign(con, tmp_path / str(n), gold_items={}, gold_rate=0.0)
        switch_to_active(con, cid, JUDGE, budget=8)
        draws = active_draws_frame(con, cid)
        counts = draws["drawn"].to_numpy(int) + (0 if counts is None else counts)
        pis = draws["probability"].to_numpy()
    # drawn items total: binomial-like around 12 * 8 = 96 (sd about 9)
    assert 60 <= counts.sum() <= 132
    assert np.corrcoef(counts, pis)[0, 1] > 0.3


def test_a_window_read_before_the_switch_is_checked_again_in_the_lock(con, tmp_path):
    """The assignment reads an annotator's next items before its write lock; a switch in between must not let
    an item it left out through (the claim is run by hand around the switch)."""
    cid = _campaign(con, tmp_path, gold_items={}, gold_rate=0.0, repeat_rate=0.0)
    config, design, now = campaign_config(con, cid), campaign_design(con, cid), store.utcnow()
    window = assignment._window(store.read(con), cid, config, "late", now, design.order_key("late"))
    switch_to_active(con, cid, JUDGE, budget=4)
    draws = active_draws_frame(con, cid)
    left_out = set(draws.loc[~draws["drawn"], "item_id"])
    stale = [(item_id, balance) for item_id, balance in window.items if item_id in left_out]
    assert stale  # about 34 of 38 items are left out
    claimed, _ = store.write(
        con,
        lambda cur: assignment._claim(cur, cid, config, design, "late", now, window._replace(items=stale)),
        lane=assignment.ASSIGNMENT_LANE,
    )
    assert claimed.item_id not in left_out
