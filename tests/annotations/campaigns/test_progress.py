"""A campaign's progress (annotations/campaigns/progress.py): items at k, each annotator's counts and the time
left, checked against counts made here from the judgments submitted and against the plain arithmetic of a
steady pace."""

from __future__ import annotations

from datetime import timedelta

import pytest

from annotations import store
from annotations.campaigns.progress import campaign_progress
from annotations.judging import assignment, judgments


def test_items_at_k_annotator_counts_and_time_left_at_a_steady_pace(con, make_campaign):
    campaign_id = make_campaign(k=2, gold_rate=0.0, repeat_rate=0.0)  # 12 items: 24 judgments needed
    start = store.utcnow() - timedelta(hours=1)
    now, submitted = start, []
    for annotator, count in (("ann-a", 7), ("ann-b", 3)):
        for _ in range(count):
            pair = assignment.next_item(con, campaign_id, annotator, now=now)
            judgments.submit(con, pair.token, annotator, "A", now=now)
            submitted.append(pair.token)
            now += timedelta(seconds=30)  # one judgment every 30 s
    held = assignment.next_item(con, campaign_id, "ann-b", now=now)  # served, not judged: in progress
    skipped = assignment.next_item(con, campaign_id, "ann-c", now=now)
    judgments.skip(con, skipped.token, "ann-c")
    last = now - timedelta(seconds=30)

    progress = campaign_progress(con, campaign_id, now=last)
    marks = ", ".join("?" * len(submitted))
    items = con.execute(
        f"SELECT item_id, count(*) FROM assignments WHERE assignment_id IN ({marks}) GROUP BY item_id",
        submitted,
    ).fetchall()
    assert progress.n_items == 12 and progress.k == 2 and progress.judgments_needed == 24
    assert progress.judgments_done == 10 and progress.items_at_k == sum(n >= 2 for _, n in items)
    assert not progress.complete
    rows = progress.annotators.set_index("annotator_id")
    assert rows.loc["ann-a", ["judged", "skipped", "in_progress"]].tolist() == [7, 0, 0]
    assert rows.loc["ann-b", ["judged", "skipped", "in_progress"]].tolist() == [3, 0, 1]
    assert rows.loc["ann-c", ["judged", "skipped", "in_progress"]].tolist() == [0, 1, 0]
    assert held is not None
    # 14 judgments left at 30 s each, seen at the moment of the last one: 7 minutes, inside its range
    left = progress.time_left
    assert left.estimate_s == pytest.approx(14 * 30) and left.low_s < 14 * 30 < left.high_s
    assert left.text() == "about 7 min left"


def test_no_time_left_before_two_judgments_and_after_the_last(con, make_campaign):
    campaign_id = make_campaign(k=1, n_items=2, selection="random", gold_rate=0.0, repeat_rate=0.0)
    assert campaign_progress(con, campaign_id).time_left is None  # nothing judged
    for annotator in ("ann-a", "ann-b"):
        pair = assignment.next_item(con, campaign_id, annotator)
        judgments.submit(con, pair.token, annotator, "tie")
    done = campaign_progress(con, campaign_id)
    assert done.complete and done.items_at_k == 2 and done.time_left is None
