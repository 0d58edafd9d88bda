"""Judgments: de-randomized winners, idempotent submit, versioned edits, frames, durability after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pandas as pd
import pytest

from annotations import store
from annotations.judging import assignment, judgments
from annotations.judging.judgments import JudgmentRejected


def _shown(con, token):
    return con.execute(
        "SELECT shown_left, shown_right FROM assignments WHERE assignment_id = ?", [token]
    ).fetchone()


def test_winner_is_de_randomized(con, make_campaign):
    cid = make_campaign(k=2)
    expected = {}
    for annotator in ("ann-a", "ann-b"):
        for choice in ("A", "B", "tie", "both_bad", "A", "B"):
            pair = assignment.next_item(con, cid, annotator)
            left, right = _shown(con, pair.token)
            judgments.submit(con, pair.token, annotator, choice, {"fluency": {"A": 5, "B": 1}})
            expected[pair.token] = {"A": left, "B": right}.get(choice, choice), left, right
    frame = judgments_frame = judgments.judgments_frame(con, cid).set_index("assignment_id")
    for token, (winner, left, right) in expected.items():
        assert judgments_frame.loc[token, "winner"] == winner
        assert (frame.loc[token, "shown_left"], frame.loc[token, "shown_right"]) == (left, right)
    scores = judgments.scores_frame(con, cid)
    fluency = scores[scores.criterion == "fluency"].merge(
        frame[["judgment_id", "shown_left"]].reset_index(), on="judgment_id"
    )
    # 5 went to whatever system was on the left, 1 to the right one.
    assert ((fluency.score == 5) == (fluency.system == fluency.shown_left)).all()
    assert len(fluency) == 2 * len(expected)
    f = judgments.judgments_frame(con, cid)
    assert str(f.submitted_at.dt.tz) == "UTC" and (f.duration_s >= 0).all()
    assert (f.left_length > 0).all() and set(f.choice) == {"left", "right", "tie", "both_bad"}


def test_lean_scores_are_the_statistics_columns_of_the_same_rows(con, make_campaign):
    """The results page reads only the columns the statistics use: the same rows, in the same order, with the
    same values and types as those columns of the full frame (an edit's newer version included)."""
    from annotations.stats.analysis import SCORE_COLUMNS

    cid = make_campaign(k=2)
    for annotator in ("ann-a", "ann-b"):
        for choice in ("A", "B", "tie"):
            pair = assignment.next_item(con, cid, annotator)
            judgments.submit(con, pair.token, annotator, choice, {"fluency": {"A": 4, "B": 2}})
    judgments.edit(con, pair.token, "ann-b", 1, "A", {"fluency": {"A": 1, "B": 5}})
    full = judgments.scores_frame(con, cid)
    lean = judgments.scores_frame(con, cid, lean=True)
    assert list(lean.columns) == SCORE_COLUMNS
    pd.testing.assert_frame_equal(lean, full[SCORE_COLUMNS], check_exact=True)
    assert len(lean) == 2 * 6 and 5 in set(lean["score"])  # the edit's scores, not the first version's


def test_double_submit_writes_one_judgment(con, make_campaign):
    cid = make_campaign(k=1)
    pair = assignment.next_item(con, cid, "ann-a")
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(judgments.submit(con, pair.token, "ann-a", "A")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.judgment_id for r in results}) == 1 and sum(r.created for r in results) == 1
    assert (
        con.execute("SELECT count(*) FROM judgments WHERE assignment_id = ?", [pair.token]).fetchone()[0] == 1
    )


def test_edit_appends_a_version_and_frames_use_the_latest(con, make_campaign):
    cid = make_campaign(k=1)
    pair = assignment.next_item(con, cid, "ann-a")
    judgments.submit(con, pair.token, "ann-a", "A", {"fidelity": {"A": 2, "B": 3}}, "first")
    edited = judgments.edit(
        con, pair.token, "ann-a", 1, "B", {"fidelity": {"A": 4, "B": 4}}, "second thoughts"
    )
    repeated = judgments.edit(
        con, pair.token, "ann-a", 1, "B", {"fidelity": {"A": 4, "B": 4}}, "second thoughts"
    )
    assert (
        edited.version == 2
        and edited.created
        and repeated == judgments.SubmitResult(edited.judgment_id, 2, False)
    )
    assert (
        con.execute("SELECT count(*) FROM judgments WHERE assignment_id = ?", [pair.token]).fetchone()[0] == 2
    )
    frame = judgments.judgments_frame(con, cid)
    assert len(frame) == 1 and frame.version.iloc[0] == 2 and frame.comment.iloc[0] == "second thoughts"
    assert frame.winner.iloc[0] == _shown(con, pair.token)[1]
    scores = judgments.scores_frame(con, cid)
    assert set(scores.judgment_id) == {edited.judgment_id} and set(scores.score) == {4}
    mine = judgments.own_judgments(con, cid, "ann-a")
    assert mine[0].choice == "B" and mine[0].version == 2 and mine[0].scores == {"fidelity": {"A": 4, "B": 4}}
    with pytest.raises(JudgmentRejected, match="changed meanwhile"):
        judgments.edit(con, pair.token, "ann-a", 3, "A")


def test_someone_elses_pair_and_bad_input_are_refused(con, make_campaign):
    cid = make_campaign(k=2)
    pair = assignment.next_item(con, cid, "ann-a")
    with pytest.raises(Exception, match="not assigned to you"):
        judgments.submit(con, pair.token, "ann-b", "A")
    with pytest.raises(Exception, match="choice must be"):
        judgments.submit(con, pair.token, "ann-a", "base")
    with pytest.raises(Exception, match="outside 1-5"):
        judgments.submit(con, pair.token, "ann-a", "A", {"fluency": {"A": 9}})
    with pytest.raises(Exception, match="not part of this campaign"):
        judgments.submit(con, pair.token, "ann-a", "A", {"style": {"A": 3}})
    assert con.execute("SELECT count(*) FROM judgments").fetchone()[0] == 0


def test_late_submit_after_the_slot_was_taken_is_rejected(con, make_campaign):
    cid = make_campaign(k=1, lease_minutes=1)
    t0 = store.utcnow()
    held = [assignment.next_item(con, cid, f"ann-{i}", now=t0) for i in range(12)]
    later = t0 + timedelta(minutes=2)
    taken = assignment.next_item(con, cid, "late", now=later)
    item = con.execute("SELECT item_id FROM assignments WHERE assignment_id = ?", [taken.token]).fetchone()[0]
    loser = next(
        p
        for p in held
        if con.execute("SELECT item_id FROM assignments WHERE assignment_id = ?", [p.token]).fetchone()[0]
        == item
    )
    loser_name = con.execute(
        "SELECT annotator_id FROM assignments WHERE assignment_id = ?", [loser.token]
    ).fetchone()[0]
    judgments.submit(con, taken.token, "late", "A", now=later)
    with pytest.raises(JudgmentRejected, match="another annotator"):
        judgments.submit(con, loser.token, loser_name, "A", now=later)
    # A late submit whose slot is still free is accepted.
    other = next(p for p in held if p is not loser)
    other_name = con.execute(
        "SELECT annotator_id FROM assignments WHERE assignment_id = ?", [other.token]
    ).fetchone()[0]
    assert judgments.submit(con, other.token, other_name, "B", now=later).created
    counts = con.execute("SELECT item_id, count(*) FROM judgments GROUP BY item_id").fetchall()
    assert max(c for _, c in counts) == 1


_WRITER = """
import sys, time
from annotations.judging import assignment, judgments
from annotations import store
con = store.connect(sys.argv[1])
log = open(sys.argv[2], "a", buffering=1)
cid, i = sys.argv[3], 0
while True:
    name = f"ann-{i % 40}"
    pair = assignment.next_item(con, cid, name)
    if pair is None:
        i += 1
        continue
    result = judgments.submit(con, pair.token, name, "A")
    log.write(result.judgment_id + "\\n")  # written only after submit returned
    i += 1
"""


@pytest.mark.slow
def test_every_returned_submit_survives_kill_9(tmp_path, run_folder):
    from annotations.campaigns import CampaignConfig, create_campaign

    path = tmp_path / "kill.duckdb"
    con = store.connect(path)
    cid = create_campaign(con, CampaignConfig(name="kill", run_dir=str(run_folder), k=40))
    con.close()
    log = tmp_path / "returned.txt"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(log), cid], cwd=store.PROJECT_ROOT)
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or len(log.read_text().split()) < 150):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    returned = set(log.read_text().split())
    assert len(returned) >= 150
    con = store.connect(path)
    stored = {r[0] for r in con.execute("SELECT judgment_id FROM judgments").fetchall()}
    assert returned <= stored
    con.close()


def test_comments_are_limited_and_a_too_long_one_stores_nothing(con, make_campaign):
    cid = make_campaign(k=1)
    pair = assignment.next_item(con, cid, "ann-a")
    with pytest.raises(
        judgments.CommentTooLong, match=r"^the comment has 2,001 characters; the limit is 2,000"
    ):
        judgments.submit(con, pair.token, "ann-a", "A", comment="c" * 2_001)
    assert judgments.judgments_frame(con, cid).empty  # nothing stored, the pair is still open to judge
    judgments.submit(con, pair.token, "ann-a", "A", comment="c" * 2_000)
    with pytest.raises(judgments.CommentTooLong):
        judgments.edit(con, pair.token, "ann-a", 1, "B", comment="d" * 1_000_000)
    frame = judgments.judgments_frame(con, cid)
    assert len(frame) == 1 and frame.comment.iloc[0] == "c" * 2_000 and frame.version.iloc[0] == 1


def test_the_comment_limit_is_the_campaigns(con, make_campaign):
    cid = make_campaign(k=1, max_comment_chars=10)
    pair = assignment.next_item(con, cid, "ann-a")
    with pytest.raises(judgments.CommentTooLong, match="the limit is 10"):
        judgments.submit(con, pair.token, "ann-a", "A", comment="eleven char")
    assert judgments.submit(con, pair.token, "ann-a", "A", comment="ten chars!").created


def test_own_judgments_are_the_newest_first_with_their_scores(con, make_campaign):
    cid = make_campaign(k=1)
    tokens = []
    for n, scores in enumerate([{"fluency": {"A": 2, "B": 5}}, None, {"fidelity": {"B": 1}}]):
        pair = assignment.next_item(con, cid, "ann-o")
        judgments.submit(con, pair.token, "ann-o", ["A", "tie", "B"][n], scores, f"note {n}")
        tokens.append(pair.token)
    mine = judgments.own_judgments(con, cid, "ann-o", limit=2)
    assert [m.token for m in mine] == [tokens[2], tokens[1]]
    assert mine[0].scores == {"fidelity": {"B": 1}} and mine[0].choice == "B" and mine[0].comment == "note 2"
    assert mine[1].scores == {} and mine[1].choice == "tie"
    oldest = judgments.own_judgments(con, cid, "ann-o")[-1]
    assert oldest.token == tokens[0] and oldest.scores == {"fluency": {"A": 2, "B": 5}}
    assert oldest.source_start.startswith("source text")
