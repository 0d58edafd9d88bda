"""Assignment: k judgments per item by distinct annotators, counterbalanced sides, leases, concurrency."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

from annotations import assignment, db, judgments


def _judge_all(con, cid, annotators, rng=None, choice="A"):
    """Each annotator in turn takes and submits pairs until none is left; returns submissions."""
    done = 0
    active = list(annotators)
    while active:
        order = list(active)
        if rng is not None:
            rng.shuffle(order)
        for annotator in order:
            pair = assignment.next_item(con, cid, annotator)
            if pair is None:
                active.remove(annotator)
                continue
            judgments.submit(con, pair.token, annotator, choice)
            done += 1
    return done


def _assignments(con, cid):
    return con.execute("SELECT * FROM assignments WHERE campaign_id = ?", [cid]).df()


def test_every_item_gets_exactly_k_from_distinct_annotators(con, make_campaign):
    cid = make_campaign(k=3)
    assert _judge_all(con, cid, [f"ann-{i}" for i in range(5)], random.Random(1)) == 36
    a = _assignments(con, cid)
    assert (a.status == "submitted").all()
    assert a.groupby("item_id").size().eq(3).all() and a.item_id.nunique() == 12
    assert not a.duplicated(["item_id", "annotator_id"]).any()


def test_sides_are_counterbalanced_per_item_and_per_annotator(con, make_campaign):
    for k, annotator_bound in ((3, 2), (4, 2)):
        cid = make_campaign(k=k)
        _judge_all(con, cid, [f"ann-{i}" for i in range(6)], random.Random(2))
        a = _assignments(con, cid)
        a["a_left"] = (a.shown_left == "base").astype(int) * 2 - 1
        per_item = a.groupby("item_id").a_left.sum().abs()
        assert per_item.max() == k % 2  # k = 4: exactly 2 and 2; k = 3: 2 and 1
        per_annotator = a.groupby("annotator_id").a_left.sum().abs()
        # Within +-1 while the pool leaves a choice; the last forced pairs of a campaign may add one more.
        assert per_annotator.max() <= annotator_bound
        assert (per_annotator <= 1).mean() >= 0.5
        assert set(zip(a.shown_left, a.shown_right)) == {("base", "finetuned"), ("finetuned", "base")}


def test_open_pair_is_renewed_not_duplicated(con, make_campaign):
    cid = make_campaign(k=1)
    first = assignment.next_item(con, cid, "ann-x")
    again = assignment.next_item(con, cid, "ann-x")
    assert first.token == again.token
    assert len(_assignments(con, cid)) == 1


def test_lease_returns_an_abandoned_item_to_the_pool(con, make_campaign):
    cid = make_campaign(k=1, lease_minutes=15)
    t0 = db.utcnow()
    held = {}
    for i in range(12):  # 12 annotators each hold one item: the pool is empty
        held[f"ann-{i}"] = assignment.next_item(con, cid, f"ann-{i}", now=t0)
    assert assignment.next_item(con, cid, "late", now=t0 + timedelta(minutes=14)) is None
    later = t0 + timedelta(minutes=16)
    pair = assignment.next_item(con, cid, "late", now=later)
    assert pair is not None
    taken_item = con.execute(
        "SELECT item_id FROM assignments WHERE assignment_id = ?", [pair.token]
    ).fetchone()[0]
    owner = con.execute(
        "SELECT annotator_id FROM assignments WHERE item_id = ? AND annotator_id <> 'late' AND campaign_id = ?",
        [taken_item, cid],
    ).fetchone()[0]
    # Someone whose lease ran out but whose slot nobody took keeps their pair when they come back.
    keeper = next(a for a in held if a != owner)
    assert assignment.next_item(con, cid, keeper, now=later).token == held[keeper].token
    # The one whose slot was taken loses that pair (expired) and gets another one, never the same item twice.
    again = assignment.next_item(con, cid, owner, now=later)
    assert again is not None and again.token != held[owner].token
    assert (
        con.execute("SELECT status FROM assignments WHERE assignment_id = ?", [held[owner].token]).fetchone()[
            0
        ]
        == "expired"
    )
    a = _assignments(con, cid)
    assert not a.duplicated(["item_id", "annotator_id"]).any()
    live = a[(a.status == "submitted") | ((a.status == "open") & (a.lease_expires_at > later))]
    assert live.groupby("item_id").size().max() == 1  # k = 1 holds at every moment


def test_skipped_item_goes_to_someone_else(con, make_campaign):
    cid = make_campaign(k=1)
    pair = assignment.next_item(con, cid, "ann-a")
    judgments.skip(con, pair.token, "ann-a")
    item = con.execute("SELECT item_id FROM assignments WHERE assignment_id = ?", [pair.token]).fetchone()[0]
    _judge_all(con, cid, ["ann-a", "ann-b"])
    a = _assignments(con, cid)
    sub = a[a.status == "submitted"]
    assert sub.item_id.nunique() == 12 and (sub[sub.item_id == item].annotator_id == "ann-b").all()
    assert not a.duplicated(["item_id", "annotator_id"]).any()


def test_gold_and_flipped_repeats(con, make_campaign):
    cid = make_campaign(
        k=2, gold_items={"item-010": "finetuned", "item-011": "tie"}, gold_rate=0.2, repeat_rate=0.2
    )
    _judge_all(con, cid, ["ann-a", "ann-b"])
    a = _assignments(con, cid)
    regular = a[~a.is_gold & ~a.is_repeat]
    assert regular.groupby("item_id").size().eq(2).all() and regular.item_id.nunique() == 10
    gold = a[a.is_gold]
    assert (
        set(gold.item_id) == {"item-010", "item-011"}
        and not gold.duplicated(["item_id", "annotator_id"]).any()
    )
    repeats = a[a.is_repeat]
    assert len(repeats) == 2 * 2  # floor(10 * 0.2) per annotator
    originals = a.set_index("assignment_id").loc[repeats.repeat_of]
    assert (originals.shown_left.to_numpy() == repeats.shown_right.to_numpy()).all()
    assert (originals.item_id.to_numpy() == repeats.item_id.to_numpy()).all()
    assert (originals.annotator_id.to_numpy() == repeats.annotator_id.to_numpy()).all()
    frame = judgments.judgments_frame(con, cid)
    assert frame.is_repeat.sum() == 4 and frame.repeat_of.notna().sum() == 4
    assert set(frame[frame.is_gold].gold_winner) == {"finetuned", "tie"}


def test_quota_and_progress(con, make_campaign):
    cid = make_campaign(k=2, items_per_annotator=4)
    assert assignment.progress(con, cid, "ann-q") == assignment.Progress(0, 4)
    assert _judge_all(con, cid, ["ann-q"]) == 4
    assert assignment.progress(con, cid, "ann-q") == assignment.Progress(4, 4)


def test_served_pair_is_blind(con, make_campaign):
    cid = make_campaign(k=1)
    pair = assignment.next_item(con, cid, "ann-b")
    text = repr(pair)
    assert "base" not in text.replace("base ", "") and "finetuned" not in text.replace("finetuned ", "")
    assert not hasattr(pair, "shown_left") and not hasattr(pair, "is_gold")
    assert "base" not in pair.token and "finetuned" not in pair.token


def test_concurrent_annotators_keep_every_rule(con, make_campaign):
    """16 threads race for 12 items x k=3 (with double submits): no duplicate, no item above or below k."""
    cid = make_campaign(k=3)
    errors = []

    def annotate(name):
        try:
            while (pair := assignment.next_item(con, cid, name)) is not None:
                first = judgments.submit(con, pair.token, name, random.choice(["A", "B", "tie"]))
                second = judgments.submit(con, pair.token, name, "A")  # double click
                assert second.judgment_id == first.judgment_id and not second.created
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=annotate, args=(f"ann-{i}",)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    a = _assignments(con, cid)
    assert a.groupby("item_id").size().eq(3).all() and a.item_id.nunique() == 12
    assert not a.duplicated(["item_id", "annotator_id"]).any()
    counts = Counter(con.execute("SELECT assignment_id FROM judgments").fetchall())
    assert len(counts) == 36 and max(counts.values()) == 1
    a["a_left"] = (a.shown_left == "base").astype(int) * 2 - 1
    assert a.groupby("item_id").a_left.sum().abs().max() <= 1


def test_two_tabs_of_one_annotator_cannot_exceed_the_quota(con, make_campaign, monkeypatch):
    """Both tabs ask for a pair at once; the real db.write is made to wait until both asked, so any count read
    before the write lock is stale. They must get the same pair, and the quota of 1 holds."""
    cid = make_campaign(k=2, items_per_annotator=1)
    both_asked = threading.Barrier(2, timeout=10)
    real_write = db.write

    def write_once_both_asked(con, work, lane="store"):
        if lane == assignment.ASSIGNMENT_LANE and not both_asked.broken:
            both_asked.wait()
        return real_write(con, work, lane)

    monkeypatch.setattr(db, "write", write_once_both_asked)
    tokens, errors = [], []

    def tab():
        try:
            pair = assignment.next_item(con, cid, "ann-tabs")
            tokens.append(pair.token)
            judgments.submit(con, pair.token, "ann-tabs", "A")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=tab) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.setattr(db, "write", real_write)
    assert errors == [] and len(tokens) == 2
    assert tokens[0] == tokens[1]
    a = _assignments(con, cid)
    assert (a.status == "submitted").sum() == 1
    assert assignment.progress(con, cid, "ann-tabs") == assignment.Progress(1, 1)
    assert assignment.next_item(con, cid, "ann-tabs") is None
