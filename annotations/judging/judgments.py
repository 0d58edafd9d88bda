"""Judgments: submit, skip, edit (append-only versions), the annotator's own history, and the analysis frames.

The page speaks in "A" (left) and "B" (right); this module turns that into system names with the side stored
on the assignment, so the winner in the store is de-randomized. Idempotency: an assignment gets exactly one
version-1 judgment however often its form is sent (double click, resubmitted form); an edit names the version
it edits and a repeated edit of the same version is answered with the version already written.
`judgments_frame` and `scores_frame` return the latest version of each judgment (docs/frames.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pandas as pd

from annotations import store
from annotations.campaigns import campaign_config
from annotations.campaigns.judges import check_judge
from annotations.errors import AnnotationError, AuthError
from annotations.judging.assignment import ASSIGNMENT_LANE, OwnedPair, has_room, own_assignment
from annotations.store import read_frame

CHOICES = ("A", "B", "tie", "both_bad")
_TO_SIDE = {"A": "left", "B": "right", "left": "left", "right": "right", "tie": "tie", "both_bad": "both_bad"}
_TO_LETTER = {"left": "A", "right": "B", "tie": "tie", "both_bad": "both_bad"}

Scores = dict[str, dict[str, int]]  # criterion -> {"A": score, "B": score}


# Write lanes (see store.write): judging runs beside assigning, because a judgment of a pair whose lease still
# runs takes no slot that assignment could give away. A late judgment (lease ran out) must be weighed against
# new assignments, so it is written in the assignment lane.
JUDGMENT_LANE = "judgments"
logger = logging.getLogger(__name__)


class JudgmentRejected(AnnotationError):
    """The judgment cannot be stored (pair skipped, or its lease ran out and someone else took the slot)."""


class CommentTooLong(AnnotationError):
    """The comment is longer than the campaign allows (CampaignConfig.max_comment_chars); nothing was
    stored."""


@dataclass(frozen=True)
class SubmitResult:
    """What a submit or edit wrote (or found already written)."""

    judgment_id: str
    version: int
    created: bool  # False: an identical earlier request already wrote it


@dataclass(frozen=True)
class OwnJudgment:
    """One of the annotator's own judgments, in A/B terms only (for undo/edit on the annotate page)."""

    token: str
    version: int
    choice: str  # A | B | tie | both_bad
    scores: Scores = field(default_factory=dict)
    comment: str | None = None
    submitted_at: datetime | None = None
    source_start: str = ""


@dataclass(frozen=True)
class _AssignmentState:
    """An assignment as a submit finds it inside its write."""

    pair: OwnedPair
    status: str  # open | submitted | skipped | expired
    served_at: datetime
    lease_expires_at: datetime
    is_gold: bool
    is_repeat: bool

    def is_late(self, at: datetime) -> bool:
        """Its lease ran out, so its slot may have gone to someone else (gold items and repeats hold none)."""
        return (self.status == "expired" or self.lease_expires_at <= at) and not (
            self.is_gold or self.is_repeat
        )


def _assignment_state(cur: duckdb.DuckDBPyConnection, token: str, annotator_id: str) -> _AssignmentState:
    row = cur.execute(
        "SELECT annotator_id, campaign_id, item_id, shown_left, shown_right, status, served_at, "
        "lease_expires_at, is_gold, is_repeat FROM assignments WHERE assignment_id = ?",
        [token],
    ).fetchone()
    if row is None:
        raise AnnotationError("this pair does not exist (any more)")
    owner, campaign_id, item_id, left, right, status, served_at, lease_ends, is_gold, is_repeat = row
    if owner != annotator_id:
        raise AuthError("this pair is not assigned to you")
    pair = OwnedPair(campaign_id, item_id, left, right)
    return _AssignmentState(pair, status, served_at, lease_ends, is_gold, is_repeat)


def _side_and_winner(choice: str, shown_left: str, shown_right: str) -> tuple[str, str]:
    side = _TO_SIDE.get(choice)
    if side is None:
        raise AnnotationError(f"choice must be one of {', '.join(CHOICES)}, got '{choice}'")
    return side, {"left": shown_left, "right": shown_right}.get(side, side)


def _check_scores(con: duckdb.DuckDBPyConnection, campaign_id: str, scores: Scores | None) -> Scores:
    scores = scores or {}
    criteria = {c.name: c for c in campaign_config(con, campaign_id).criteria}
    for name, by_side in scores.items():
        if name not in criteria:
            raise AnnotationError(f"criterion '{name}' is not part of this campaign ({', '.join(criteria)})")
        for side, value in by_side.items():
            if side not in ("A", "B"):
                raise AnnotationError(f"scores are given for 'A' and 'B', got '{side}'")
            c = criteria[name]
            if value is not None and not c.min_score <= int(value) <= c.max_score:
                raise AnnotationError(f"{name} score {value} outside {c.min_score}-{c.max_score}")
    return scores


def _check_comment(con: duckdb.DuckDBPyConnection, campaign_id: str, comment: str | None) -> None:
    limit = campaign_config(con, campaign_id).max_comment_chars
    if comment is not None and len(comment) > limit:
        raise CommentTooLong(
            f"the comment has {len(comment):,} characters; the limit is {limit:,}: shorten it and send again"
        )


def _insert_version(
    cur: duckdb.DuckDBPyConnection,
    assignment: OwnedPair,
    token: str,
    annotator_id: str,
    version: int,
    side: str,
    winner: str,
    scores: Scores,
    comment: str | None,
    served_at: datetime,
    submitted_at: datetime,
    duration_s: float | None,
) -> str:
    campaign_id, item_id = assignment.campaign_id, assignment.item_id
    shown_left, shown_right = assignment.shown_left, assignment.shown_right
    judgment_id = store.new_id("j-")
    cur.execute(
        "INSERT INTO judgments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            judgment_id,
            token,
            campaign_id,
            item_id,
            annotator_id,
            version,
            side,
            winner,
            comment or None,
            served_at,
            submitted_at,
            duration_s,
        ],
    )
    rows = []
    for criterion, by_side in scores.items():
        for letter, value in by_side.items():
            if value is not None:
                system = shown_left if letter == "A" else shown_right
                rows.append(
                    [judgment_id, criterion, "left" if letter == "A" else "right", system, int(value)]
                )
    if rows:  # one statement for all scores: each statement costs more than its rows
        placeholders = ", ".join(["(?, ?, ?, ?, ?)"] * len(rows))
        cur.execute(f"INSERT INTO judgment_scores VALUES {placeholders}", [v for row in rows for v in row])
    return judgment_id


def submit(
    con: duckdb.DuckDBPyConnection,
    token: str,
    annotator_id: str,
    choice: str,
    scores: Scores | None = None,
    comment: str | None = None,
    now: datetime | None = None,
) -> SubmitResult:
    """Store the first judgment of an assignment; sending it again returns the stored one (created=False).

    `choice` is "A" (left), "B" (right), "tie" or "both_bad"; `scores` maps criterion -> {"A": int, "B": int}.
    The duration is measured here: submit time minus the time the pair was first served.
    """
    if choice not in _TO_SIDE:
        raise AnnotationError(f"choice must be one of {', '.join(CHOICES)}, got '{choice}'")
    judged: list[OwnedPair] = []  # the pair a new judgment was stored for

    def work(cur: duckdb.DuckDBPyConnection, lane: str) -> SubmitResult | None:
        """The submit, in `lane`; None when it is late and so must run in the assignment lane instead."""
        at = now or store.utcnow()
        state = _assignment_state(cur, token, annotator_id)
        pair = state.pair
        check_judge(cur, pair.campaign_id, annotator_id)  # may have left the judges since it was served
        side, winner = _side_and_winner(choice, pair.shown_left, pair.shown_right)
        checked = _check_scores(con, pair.campaign_id, scores)
        _check_comment(con, pair.campaign_id, comment)
        if state.status == "submitted":
            (first_id,) = cur.execute(
                "SELECT judgment_id FROM judgments WHERE assignment_id = ? AND version = 1", [token]
            ).fetchone()
            return SubmitResult(first_id, 1, created=False)
        if state.status == "skipped":
            raise JudgmentRejected("this pair was skipped; it cannot be judged any more")
        if state.is_late(at):
            if lane != ASSIGNMENT_LANE:
                return None
            k = campaign_config(con, pair.campaign_id).k
            if not has_room(cur, pair.campaign_id, pair.item_id, k, at, token):
                raise JudgmentRejected(
                    "this pair went to another annotator while it was left idle; it was not saved"
                )
        duration = (at - state.served_at).total_seconds()
        judgment_id = _insert_version(
            cur, pair, token, annotator_id, 1, side, winner, checked, comment, state.served_at, at, duration
        )
        cur.execute(
            "UPDATE assignments SET status = 'submitted', submitted_at = ? WHERE assignment_id = ?",
            [at, token],
        )
        judged.append(pair)
        return SubmitResult(judgment_id, 1, created=True)

    result = store.write(con, lambda cur: work(cur, JUDGMENT_LANE), lane=JUDGMENT_LANE)
    if (
        result is None
    ):  # late: whether its slot is still free is decided beside new assignments, in their lane
        result = store.write(con, lambda cur: work(cur, ASSIGNMENT_LANE), lane=ASSIGNMENT_LANE)
    if result.created:
        _stop_if_decided(con, judged[-1].campaign_id, judged[-1].item_id)
    return result


def _stop_if_decided(con: duckdb.DuckDBPyConnection, campaign_id: str, item_id: str) -> None:
    """The campaign's anytime-valid stop (annotations.judging.stopping), after the judgment is stored: a
    failure to close is logged, never turned into a failed submit (the judgment is saved)."""
    if not campaign_config(con, campaign_id).close_when_decided:  # cached: no query
        return
    # imported here, not at the top: it pulls in the statistics (scipy), which took seconds on the first
    # submit of a process that never closes a campaign by itself (bench/annotation_load.py's p99)
    from annotations.judging import stopping

    try:
        stopping.after_submit(con, campaign_id, item_id)
    except (AnnotationError, *store.DatabaseError):
        logger.exception("could not close campaign %s after a decided judgment", campaign_id)


def skip(con: duckdb.DuckDBPyConnection, token: str, annotator_id: str) -> None:
    """Give the pair back without judging it; the item returns to the pool for other annotators."""
    own_assignment(con, token, annotator_id)
    store.write_statement(
        con,
        "UPDATE assignments SET status = 'skipped' WHERE assignment_id = ? AND status = 'open'",
        [token],
        lane=JUDGMENT_LANE,  # freeing a slot never lets assignment overfill an item
    )


def edit(
    con: duckdb.DuckDBPyConnection,
    token: str,
    annotator_id: str,
    base_version: int,
    choice: str,
    scores: Scores | None = None,
    comment: str | None = None,
    now: datetime | None = None,
) -> SubmitResult:
    """Write version `base_version + 1` of a judgment; repeating the same edit returns it (created=False).

    Earlier versions stay in the store; analyses read the latest. `duration_s` keeps the first judgment's
    time.
    """
    assignment = own_assignment(con, token, annotator_id)
    side, winner = _side_and_winner(choice, assignment.shown_left, assignment.shown_right)
    scores = _check_scores(con, assignment.campaign_id, scores)
    _check_comment(con, assignment.campaign_id, comment)

    def work(cur: duckdb.DuckDBPyConnection) -> SubmitResult:
        check_judge(cur, assignment.campaign_id, annotator_id)
        latest = cur.execute(
            "SELECT judgment_id, version, served_at, duration_s FROM judgments WHERE assignment_id = ? "
            "ORDER BY version DESC LIMIT 1",
            [token],
        ).fetchone()
        if latest is None:
            raise JudgmentRejected("there is no judgment of this pair to edit yet; submit it first")
        latest_id, latest_version, served_at, duration_s = latest
        if latest_version != base_version:
            if latest_version == base_version + 1:
                return SubmitResult(latest_id, latest_version, created=False)
            raise JudgmentRejected(
                f"this judgment changed meanwhile (now version {latest_version}); reload and edit again"
            )
        at = now or store.utcnow()
        judgment_id = _insert_version(
            cur,
            assignment,
            token,
            annotator_id,
            base_version + 1,
            side,
            winner,
            scores,
            comment,
            served_at,
            at,
            duration_s,
        )
        return SubmitResult(judgment_id, base_version + 1, created=True)

    return store.write(con, work, lane=JUDGMENT_LANE)


def own_judgments(
    con: duckdb.DuckDBPyConnection, campaign_id: str, annotator_id: str, limit: int = 5
) -> list[OwnJudgment]:
    """The annotator's latest judgments (newest first), in A/B terms, for undo/edit."""
    cur = store.read(con)
    rows = cur.execute(
        """
        WITH versions AS (
            SELECT j.judgment_id, j.assignment_id, j.version, j.choice, j.comment, a.submitted_at, i.source,
                   i.prompt,
                   row_number() OVER (PARTITION BY j.assignment_id ORDER BY j.version DESC) AS newest
            FROM judgments j
            JOIN assignments a ON a.assignment_id = j.assignment_id
            JOIN items i ON i.campaign_id = j.campaign_id AND i.item_id = j.item_id
            WHERE j.campaign_id = ? AND j.annotator_id = ?
        ),
        latest AS (
            SELECT judgment_id, assignment_id, version, choice, comment, submitted_at, source, prompt
            FROM versions WHERE newest = 1
            ORDER BY submitted_at DESC, assignment_id LIMIT ?
        )
        SELECT l.judgment_id, l.assignment_id, l.version, l.choice, l.comment, l.submitted_at, l.source,
               l.prompt,
               array_agg(s.criterion ORDER BY s.criterion, s.side) FILTER (WHERE s.criterion IS NOT NULL),
               array_agg(s.side ORDER BY s.criterion, s.side) FILTER (WHERE s.criterion IS NOT NULL),
               array_agg(s.score ORDER BY s.criterion, s.side) FILTER (WHERE s.criterion IS NOT NULL)
        FROM latest l LEFT JOIN judgment_scores s ON s.judgment_id = l.judgment_id
        GROUP BY l.judgment_id, l.assignment_id, l.version, l.choice, l.comment, l.submitted_at, l.source,
                 l.prompt
        ORDER BY l.submitted_at DESC, l.assignment_id
        """,
        [campaign_id, annotator_id, limit],
    ).fetchall()
    result = []
    for _, token, version, side, comment, submitted_at, source, prompt, criteria, sides, values in rows:
        scores: Scores = {}  # one query for the judgments and their scores: this runs on every redraw
        for criterion, score_side, score in zip(criteria or [], sides or [], values or []):
            scores.setdefault(criterion, {})["A" if score_side == "left" else "B"] = int(score)
        text = (source or prompt or "").strip().replace("\n", " ")
        result.append(
            OwnJudgment(token, int(version), _TO_LETTER[side], scores, comment, submitted_at, text[:80])
        )
    return result


# ----------------------------------------------------------------------------------------------------- frames


def _latest(item_ids: list[str] | None) -> str:
    """The CTE `latest`: each assignment's latest judgment version in one campaign (parameter: its id), and
    only in the items `item_ids` (one parameter each, after the id) when given: every version of an
    assignment has its item, so filtering before the window is the same as after, and spares the window every
    other item. A plain window in a subquery, not QUALIFY, so that PostgreSQL reads it too."""
    items = "" if item_ids is None else f" AND item_id IN ({store.in_list(item_ids)})"
    return f"""
    latest AS (
        SELECT * FROM (
            SELECT *, row_number() OVER (PARTITION BY assignment_id ORDER BY version DESC) AS newest
            FROM judgments WHERE campaign_id = ?{items}
        ) AS versions WHERE newest = 1
    )
"""


def _utc(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
    return frame


# what the sequential decision reads (annotations.stats.certainty: item_labels and default_pair)
DECISION_COLUMNS = (
    "item_id",
    "system_a",
    "system_b",
    "shown_left",
    "shown_right",
    "winner",
    "submitted_at",
    "is_gold",
    "is_repeat",
)


def decision_frame(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """The judgments frame's DECISION_COLUMNS, same rows and order, without the joins the rest needs: what
    the campaign's self-close reads after a submit that completes an item (annotations.judging.stopping)."""
    frame = read_frame(
        con,
        f"""
        WITH {_latest(None)}
        SELECT j.item_id, c.system_a, c.system_b, a.shown_left, a.shown_right, j.winner, j.submitted_at,
               a.is_gold, a.is_repeat
        FROM latest j
        JOIN assignments a ON a.assignment_id = j.assignment_id
        JOIN campaigns c ON c.campaign_id = j.campaign_id
        ORDER BY j.submitted_at, j.judgment_id
        """,
        [campaign_id],
    )
    frame["is_gold"] = frame["is_gold"].astype(bool)
    frame["is_repeat"] = frame["is_repeat"].astype(bool)
    return _utc(frame, ["submitted_at"])


def judgments_frame(
    con: duckdb.DuckDBPyConnection, campaign_id: str, item_ids: list[str] | None = None
) -> pd.DataFrame:
    """One row per judged assignment, latest version; columns as in docs/frames.md (winner is
    de-randomized); only the items `item_ids` names when given (the results page's example browser reads
    one item at a time)."""
    # the outputs' lengths and the gold answers joined from the campaign's own rows (every judged item is an
    # item of its campaign: assignments are made from items): a third of the cost of joining the outputs and
    # items tables on (campaign, item) (docs/benchmarks.md, "Figures behind choices in the code")
    frame = read_frame(
        con,
        f"""
        WITH {_latest(item_ids)},
        lengths AS (SELECT item_id, system, n_words FROM outputs WHERE campaign_id = ?),
        gold AS (SELECT item_id, gold_winner FROM items WHERE campaign_id = ? AND gold_winner IS NOT NULL)
        SELECT j.judgment_id, j.campaign_id, j.item_id, j.annotator_id, j.version, j.assignment_id,
               c.system_a, c.system_b, a.shown_left, a.shown_right, j.choice, j.winner, j.comment,
               j.served_at, j.submitted_at, j.duration_s, a.is_gold, g.gold_winner, a.is_repeat, a.repeat_of,
               ol.n_words AS left_length, orr.n_words AS right_length
        FROM latest j
        JOIN assignments a ON a.assignment_id = j.assignment_id
        JOIN campaigns c ON c.campaign_id = j.campaign_id
        LEFT JOIN gold g ON g.item_id = j.item_id
        LEFT JOIN lengths ol ON ol.item_id = j.item_id AND ol.system = a.shown_left
        LEFT JOIN lengths orr ON orr.item_id = j.item_id AND orr.system = a.shown_right
        ORDER BY j.submitted_at, j.judgment_id
        """,
        [campaign_id, *(item_ids or []), campaign_id, campaign_id],
    )
    frame["is_gold"] = frame["is_gold"].astype(bool)
    frame["is_repeat"] = frame["is_repeat"].astype(bool)
    frame["gold_winner"] = frame["gold_winner"].where(frame["is_gold"], None)
    return _utc(frame, ["served_at", "submitted_at"])


def scores_frame(
    con: duckdb.DuckDBPyConnection, campaign_id: str, item_ids: list[str] | None = None, lean: bool = False
) -> pd.DataFrame:
    """Long format, latest versions: judgment_id, campaign_id, item_id, annotator_id, criterion, system,
    score, side, is_gold, is_repeat; only the items `item_ids` names when given. `lean`: only the columns
    the statistics read (`annotations.stats.analysis.SCORE_COLUMNS`), in the same rows and order: half the
    reading time at 400,000 scores (the results page's cold analysis)."""
    columns = (
        "j.judgment_id, j.item_id, j.annotator_id, s.criterion, s.system, s.score"
        if lean
        else "j.judgment_id, j.campaign_id, j.item_id, j.annotator_id, s.criterion, s.system, s.score, "
        "s.side, a.is_gold, a.is_repeat"
    )
    flags = "" if lean else "JOIN assignments a ON a.assignment_id = j.assignment_id"
    frame = read_frame(
        con,
        f"""
        WITH {_latest(item_ids)}
        SELECT {columns}
        FROM latest j
        JOIN judgment_scores s ON s.judgment_id = j.judgment_id
        {flags}
        ORDER BY j.submitted_at, j.judgment_id, s.criterion, s.side
        """,
        [campaign_id, *(item_ids or [])],
    )
    frame["score"] = frame["score"].astype(int)
    return frame
