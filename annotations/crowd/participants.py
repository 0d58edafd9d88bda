"""A participant's way through a study: arrival and binding, consent, instructions, training, the task with
its attention checks, and the end (completion or screen-out). Every phase's outcome is stored per participant.

Arrival (`arrive`): the first arrival of a platform id makes its passwordless account (never a second one:
`crowd_accounts` is keyed by platform and id), a session, and binds the study to that session, all in one
transaction. Later arrivals act only through that bound session (the browser's cookie): an arrival with the
same id and any other session, or none, is refused (`bound_elsewhere`) and counted, so a copied or guessed
link cannot act in the participant's name once they have started. The account has no password (its hash is
not an argon2 hash, so no login can match it) and a username with ':' that no login form can create.

Attention checks are stored in `crowd_attention_checks`, never as judgments: no win rate, agreement or other
statistic can count them. Silent gold items are the campaign's own gold items (`gold_rate`), served by the
assignment as for every annotator and marked `is_gold` on their assignment (the statistics leave them out).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from annotations import store
from annotations.accounts.sessions import NewSession, insert_session
from annotations.crowd.config import TrainingItem
from annotations.crowd.links import Arrival, CrowdLinkError
from annotations.crowd.phases import PhaseError, advance, qualified
from annotations.crowd.studies import Study
from annotations.errors import AnnotationError

NO_PASSWORD = "!crowd: no password"  # not an argon2 hash: no password can ever match it
_SIDES = {"A": "left", "B": "right", "left": "left", "right": "right", "tie": "tie", "both_bad": "both_bad"}


@dataclass(frozen=True)
class Participant:
    """One participant in one study."""

    study_id: str
    campaign_id: str
    user_id: str
    participant_id: str  # the panel's id: personal data, researchers only
    platform_ids: dict
    bound_session_id: str
    language: str | None
    phase: str
    task_started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class Entry:
    """An accepted arrival: the participant, and the session to hand to the browser when it is new."""

    participant: Participant
    new_session: NewSession | None  # None: resumed in the bound session

    @property
    def resumed(self) -> bool:
        return self.new_session is None


_COLUMNS = (
    "p.study_id, s.campaign_id, p.user_id, p.participant_id, p.platform_ids, p.bound_session_id, p.language, "
    "p.phase, p.task_started_at, p.finished_at"
)


def _participant(row) -> Participant:
    study_id, campaign_id, user_id, pid, ids, bound, language, phase, started, finished = row
    return Participant(
        study_id,
        campaign_id,
        user_id,
        pid,
        json.loads(ids or "{}"),
        bound,
        language,
        phase,
        started,
        finished,
    )


def _read(cur: duckdb.DuckDBPyConnection, where: str, params: list) -> Participant | None:
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM crowd_participants p JOIN crowd_studies s USING (study_id) WHERE {where} "
        "ORDER BY p.arrived_at DESC LIMIT 1",
        params,
    ).fetchone()
    return _participant(row) if row is not None else None


def crowd_username(platform: str, participant_id: str) -> str:
    """The account's name: the platform and a hash of the id (the id itself stays in the crowd tables)."""
    return f"{platform}:{hashlib.sha256(participant_id.encode()).hexdigest()[:16]}"


def is_crowd_account(username: str) -> bool:
    """Whether an account was made by a study link (no login form can make a name with ':')."""
    return ":" in username


def arrive(
    con: duckdb.DuckDBPyConnection,
    study: Study,
    arrival: Arrival,
    session_id: str | None = None,
    client: str | None = None,
    now: datetime | None = None,
) -> Entry:
    """Accept an arrival through a study link. `session_id`: the browser's live session, if any.

    CrowdLinkError: `closed` (a new participant of a closed study), `bound_elsewhere` (this id started in
    another session), `no_participant` (an MTurk preview has nobody to admit).
    """
    if arrival.participant_id is None:
        raise CrowdLinkError("no_participant", "a preview has no participant")
    now = now or store.utcnow()
    platform, pid = study.platform, arrival.participant_id

    def work(cur: duckdb.DuckDBPyConnection) -> Entry | None:
        account = cur.execute(
            "SELECT user_id FROM crowd_accounts WHERE platform = ? AND participant_id = ?", [platform, pid]
        ).fetchone()
        user_id = account[0] if account else None
        session_user = None
        if session_id:
            found = cur.execute(
                "SELECT user_id FROM sessions WHERE session_id = ? AND revoked_at IS NULL AND expires_at > ?",
                [session_id, now],
            ).fetchone()
            session_user = found[0] if found else None
        if user_id is not None:
            existing = _read(cur, "p.study_id = ? AND p.user_id = ?", [study.study_id, user_id])
            if existing is not None:
                if session_id and existing.bound_session_id == session_id and session_user == user_id:
                    return Entry(existing, None)
                return None  # bound to another session: refused (counted below, outside this transaction)
        if study.status != "open":
            raise CrowdLinkError("closed", "this study takes no new participants")
        if user_id is None:
            user_id = "ann-" + hashlib.sha256(f"{platform}:{pid}:{store.new_id()}".encode()).hexdigest()[:10]
            username = crowd_username(platform, pid)
            cur.execute(
                "INSERT INTO users (user_id, username, username_key, role, password_hash, active, "
                "created_at, created_by) VALUES (?, ?, ?, 'annotator', ?, TRUE, ?, ?)",
                [user_id, username, username, NO_PASSWORD, now, f"crowd:{study.study_id}"],
            )
            cur.execute(
                "INSERT INTO crowd_accounts (platform, participant_id, user_id, created_at) "
                "VALUES (?, ?, ?, ?)",
                [platform, pid, user_id, now],
            )
        if session_user == user_id:  # the same browser, already this participant's: bind this session
            new_session, bound = None, session_id
        else:
            new_session = insert_session(cur, user_id, client, now=now)
            bound = new_session.session_id
        language = arrival.language
        if language is None:
            language = cur.execute(
                "SELECT language FROM campaigns WHERE campaign_id = ?", [study.campaign_id]
            ).fetchone()[0]
        phase = "consent" if study.config.consent_text.strip() else "instructions"
        cur.execute(
            "INSERT INTO crowd_participants (study_id, user_id, participant_id, platform_ids, "
            "bound_session_id, language, phase, arrived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [study.study_id, user_id, pid, json.dumps(arrival.platform_ids), bound, language, phase, now],
        )
        cur.execute(
            "INSERT INTO campaign_judges (campaign_id, user_id, added_at, added_by) SELECT ?, ?, ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM campaign_judges WHERE campaign_id = ? AND user_id = ?)",
            [study.campaign_id, user_id, now, f"crowd:{study.study_id}", study.campaign_id, user_id],
        )
        participant = _read(cur, "p.study_id = ? AND p.user_id = ?", [study.study_id, user_id])
        return Entry(participant, new_session)

    entry = store.write(con, work)
    if entry is None:
        store.write_statement(
            con,
            "UPDATE crowd_participants SET refused_arrivals = refused_arrivals + 1 WHERE study_id = ? AND "
            "user_id = (SELECT user_id FROM crowd_accounts WHERE platform = ? AND participant_id = ?)",
            [study.study_id, platform, pid],
        )
        raise CrowdLinkError(
            "bound_elsewhere", "this participant started the study in another browser; continue there"
        )
    return entry


def participant_of_session(con: duckdb.DuckDBPyConnection, session_id: str) -> Participant | None:
    """The study participation bound to this session (the newest), or None."""
    return _read(store.read(con), "p.bound_session_id = ?", [session_id])


def participant_of_user(
    con: duckdb.DuckDBPyConnection, user_id: str, study_id: str | None = None
) -> Participant | None:
    """The participant's newest study (or this study), or None for an account that took no study."""
    if study_id is not None:
        return _read(store.read(con), "p.user_id = ? AND p.study_id = ?", [user_id, study_id])
    return _read(store.read(con), "p.user_id = ?", [user_id])


# ------------------------------------------------------------------------------------------------- phases
def _move(
    con: duckdb.DuckDBPyConnection,
    participant: Participant,
    event: str,
    outcome: str,
    score: float | None = None,
    now: datetime | None = None,
) -> str:
    """Advance the participant's phase by `event` and store the phase's outcome, in one transaction; returns
    the new phase. PhaseError when they are no longer in the phase the event belongs to (a resent button)."""
    now = now or store.utcnow()

    def work(cur: duckdb.DuckDBPyConnection) -> str:
        (phase,) = cur.execute(
            "SELECT phase FROM crowd_participants WHERE study_id = ? AND user_id = ?",
            [participant.study_id, participant.user_id],
        ).fetchone()
        new_phase = advance(phase, event)
        cur.execute(
            "INSERT INTO crowd_phase_outcomes (study_id, user_id, phase, outcome, score, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [participant.study_id, participant.user_id, phase, outcome, score, now],
        )
        cur.execute(
            "UPDATE crowd_participants SET phase = ?, "
            "task_started_at = CASE WHEN ? = 'task' THEN ? ELSE task_started_at END, "
            "finished_at = CASE WHEN ? IN ('complete', 'screened_out') THEN ? ELSE finished_at END "
            "WHERE study_id = ? AND user_id = ?",
            [new_phase, new_phase, now, new_phase, now, participant.study_id, participant.user_id],
        )
        return new_phase

    return store.write(con, work)


def record_consent(con: duckdb.DuckDBPyConnection, participant: Participant, agreed: bool) -> str:
    """Consent given (on to the instructions) or declined (screened out); returns the new phase."""
    return _move(con, participant, "agree" if agreed else "decline", "agreed" if agreed else "declined")


def record_instructions_read(con: duckdb.DuckDBPyConnection, participant: Participant, study: Study) -> str:
    """The instructions read: on to training, or straight to the task when the study has none."""
    event = "continue" if study.config.training else "continue_without_training"
    return _move(con, participant, event, "read")


# ------------------------------------------------------------------------------------------------ training
@dataclass(frozen=True)
class TrainingPair:
    """A training item as the participant sees it (blind: A and B, no system names)."""

    item_id: str
    number: int  # 1-based, of `total`
    total: int
    source: str
    text_a: str
    text_b: str


@dataclass(frozen=True)
class TrainingFeedback:
    """Whether the answer was right, the gold answer as the participant saw it (A, B, tie, both_bad), and the
    researcher's explanation."""

    correct: bool
    gold_choice: str
    explanation: str


def _shown_left(campaign: tuple[str, str], user_id: str, item_id: str) -> str:
    """The system shown as A on a training item: its own coin per participant and item."""
    coin = hashlib.sha256(f"training:{user_id}:{item_id}".encode()).digest()[0] & 1
    return campaign[coin]


def _systems(cur: duckdb.DuckDBPyConnection, campaign_id: str) -> tuple[str, str]:
    return tuple(
        cur.execute(
            "SELECT system_a, system_b FROM campaigns WHERE campaign_id = ?", [campaign_id]
        ).fetchone()
    )


def _texts(cur: duckdb.DuckDBPyConnection, campaign_id: str, item_id: str) -> tuple[str, dict[str, str]]:
    rows = cur.execute(
        "SELECT coalesce(i.source, i.prompt, ''), o.system, o.output FROM items i JOIN outputs o "
        "ON o.campaign_id = i.campaign_id AND o.item_id = i.item_id "
        "WHERE i.campaign_id = ? AND i.item_id = ?",
        [campaign_id, item_id],
    ).fetchall()
    if not rows:
        raise AnnotationError(f"training item {item_id} has no outputs in this campaign")
    return rows[0][0], {system: output for _, system, output in rows}


def _answered(cur: duckdb.DuckDBPyConnection, participant: Participant) -> dict[str, tuple]:
    rows = cur.execute(
        "SELECT item_id, choice, correct FROM crowd_training_answers WHERE study_id = ? AND user_id = ?",
        [participant.study_id, participant.user_id],
    ).fetchall()
    return {item_id: (choice, correct) for item_id, choice, correct in rows}


def next_training_item(
    con: duckdb.DuckDBPyConnection, participant: Participant, study: Study
) -> TrainingPair | None:
    """The first training item not yet answered, or None when all are."""
    cur = store.read(con)
    answered = _answered(cur, participant)
    items = study.config.training
    for number, item in enumerate(items, 1):
        if item.item_id in answered:
            continue
        source, outputs = _texts(cur, study.campaign_id, item.item_id)
        systems = _systems(cur, study.campaign_id)
        left = _shown_left(systems, participant.user_id, item.item_id)
        right = systems[1] if left == systems[0] else systems[0]
        return TrainingPair(item.item_id, number, len(items), source, outputs[left], outputs[right])
    return None


def _gold_choice(item: TrainingItem, left: str) -> str:
    return item.gold if item.gold in ("tie", "both_bad") else ("A" if item.gold == left else "B")


def _item(study: Study, item_id: str) -> TrainingItem:
    for item in study.config.training:
        if item.item_id == item_id:
            return item
    raise AnnotationError(f"'{item_id}' is not a training item of this study")


def answer_training(
    con: duckdb.DuckDBPyConnection, participant: Participant, study: Study, item_id: str, choice: str
) -> TrainingFeedback:
    """Store a training answer (the first one counts: a resent answer changes nothing) and give feedback."""
    item = _item(study, item_id)
    side = _SIDES.get(choice)
    if side is None:
        raise AnnotationError(f"choice must be A, B, tie or both_bad, got '{choice}'")

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        systems = _systems(cur, study.campaign_id)
        left = _shown_left(systems, participant.user_id, item_id)
        right = systems[1] if left == systems[0] else systems[0]
        winner = {"left": left, "right": right}.get(side, side)
        cur.execute(
            "INSERT INTO crowd_training_answers (study_id, user_id, item_id, shown_left, choice, winner, "
            "correct, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                participant.study_id,
                participant.user_id,
                item_id,
                left,
                side,
                winner,
                winner == item.gold,
                store.utcnow(),
            ],
        )

    store.write(con, work)
    feedback = training_feedback(con, participant, study, item_id)
    assert feedback is not None
    return feedback


def training_feedback(
    con: duckdb.DuckDBPyConnection, participant: Participant, study: Study, item_id: str
) -> TrainingFeedback | None:
    """The feedback on a stored training answer, or None when the item is not answered yet."""
    cur = store.read(con)
    row = cur.execute(
        "SELECT shown_left, correct FROM crowd_training_answers "
        "WHERE study_id = ? AND user_id = ? AND item_id = ?",
        [participant.study_id, participant.user_id, item_id],
    ).fetchone()
    if row is None:
        return None
    item = _item(study, item_id)
    return TrainingFeedback(bool(row[1]), _gold_choice(item, row[0]), item.explanation)


def finish_training(con: duckdb.DuckDBPyConnection, participant: Participant, study: Study) -> str:
    """Once every training item is answered: qualified (on to the task) or not (screened out)."""
    answered = _answered(store.read(con), participant)
    items = study.config.training
    if any(item.item_id not in answered for item in items):
        raise PhaseError("training is not finished yet")
    correct = sum(bool(answered[item.item_id][1]) for item in items)
    share = correct / len(items) if items else 1.0
    passed = qualified(correct, len(items), study.config.qualification)
    return _move(
        con, participant, "pass" if passed else "fail", "passed" if passed else "failed", score=share
    )


# ---------------------------------------------------------------------------------------------------- task
@dataclass(frozen=True)
class TaskState:
    """Where the participant's task stands: pairs judged, the quota, the time left, and whether it is over."""

    done: int
    quota: int | None
    seconds_left: float | None
    over: bool
    reason: str | None  # 'quota', 'time_limit' (over), else None


def task_state(
    con: duckdb.DuckDBPyConnection, participant: Participant, study: Study, now: datetime | None = None
) -> TaskState:
    """Pairs judged in the campaign (gold items included: they are silent), the quota and the time left."""
    now = now or store.utcnow()
    (done,) = (
        store.read(con)
        .execute(
            "SELECT count(*) FROM assignments "
            "WHERE campaign_id = ? AND annotator_id = ? AND status = 'submitted'",
            [study.campaign_id, participant.user_id],
        )
        .fetchone()
    )
    quota, limit = study.config.quota, study.config.time_limit_minutes
    seconds_left = None
    if limit is not None and participant.task_started_at is not None:
        ends = participant.task_started_at + timedelta(minutes=limit)
        seconds_left = max(0.0, (ends - now).total_seconds())
    if quota is not None and done >= quota:
        return TaskState(int(done), quota, seconds_left, True, "quota")
    if seconds_left is not None and seconds_left <= 0:
        return TaskState(int(done), quota, seconds_left, True, "time_limit")
    return TaskState(int(done), quota, seconds_left, False, None)


def finish_task(con: duckdb.DuckDBPyConnection, participant: Participant, outcome: str = "completed") -> str:
    """The task ends (quota reached, nothing left, or the time limit): the completion page comes next."""
    return _move(con, participant, "finish", outcome)


@dataclass(frozen=True)
class AttentionCheck:
    """An attention check as the participant sees it: the same text on both sides (`identical`: the expected
    answer is a tie) or an instruction to pick one side (`instructed`: its text is written by the page)."""

    check_id: str
    kind: str
    text: str
    expected: str  # left, right or tie
    source: str = ""  # identical: the source of the item whose output is shown, so it looks like any pair


def next_attention_check(
    con: duckdb.DuckDBPyConnection, participant: Participant, study: Study, done: int
) -> AttentionCheck | None:
    """The attention check due after `done` judged pairs (one after every `attention_every`), or None."""
    every = study.config.attention_every
    if every <= 0 or done < every:
        return None
    due = done // every

    def work(cur: duckdb.DuckDBPyConnection) -> AttentionCheck | None:
        rows = cur.execute(
            "SELECT check_id, kind, text, expected, answered_at, source FROM crowd_attention_checks "
            "WHERE study_id = ? AND user_id = ? ORDER BY position",
            [participant.study_id, participant.user_id],
        ).fetchall()
        for check_id, kind, text, expected, answered_at, source in rows:
            if answered_at is None:
                return AttentionCheck(check_id, kind, text, expected, source or "")
        position = len(rows) + 1
        if position > due:
            return None
        coin = hashlib.sha256(f"attention:{participant.user_id}:{position}".encode()).digest()
        source = ""
        if position % 2 == 1:
            kind, text, expected = "instructed", "", ("left", "right")[coin[0] & 1]
        else:
            outputs = cur.execute(
                "SELECT o.output, coalesce(i.source, i.prompt, '') FROM outputs o JOIN items i "
                "ON i.campaign_id = o.campaign_id AND i.item_id = o.item_id WHERE o.campaign_id = ? "
                "ORDER BY o.item_id, o.system",
                [study.campaign_id],
            ).fetchall()
            text, source = outputs[int.from_bytes(coin[:4], "big") % len(outputs)]
            kind, expected = "identical", "tie"
        check_id = store.new_id("chk-")
        cur.execute(
            "INSERT INTO crowd_attention_checks (check_id, study_id, user_id, position, kind, text, "
            "expected, source, served_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                check_id,
                participant.study_id,
                participant.user_id,
                position,
                kind,
                text,
                expected,
                source,
                store.utcnow(),
            ],
        )
        return AttentionCheck(check_id, kind, text, expected, source)

    return store.write(con, work)


def answer_attention(
    con: duckdb.DuckDBPyConnection, participant: Participant, check_id: str, choice: str
) -> bool:
    """Store the answer to an attention check (the first one counts); returns whether it passed."""
    side = _SIDES.get(choice)
    if side is None:
        raise AnnotationError(f"choice must be A, B, tie or both_bad, got '{choice}'")

    def work(cur: duckdb.DuckDBPyConnection) -> bool:
        row = cur.execute(
            "SELECT expected, passed FROM crowd_attention_checks WHERE check_id = ? AND user_id = ?",
            [check_id, participant.user_id],
        ).fetchone()
        if row is None:
            raise AnnotationError("this attention check is not yours")
        expected, passed = row
        if passed is not None:
            return bool(passed)
        cur.execute(
            "UPDATE crowd_attention_checks SET choice = ?, passed = ?, answered_at = ? WHERE check_id = ?",
            [side, side == expected, store.utcnow(), check_id],
        )
        return side == expected

    return store.write(con, work)
