"""Paying a crowd study's participants, and forgetting one (issue 22, item 5).

`payments_frame` lists each participant of a campaign's studies with their panel id, time spent, pairs judged,
phase outcome and a bonus; `prolific_bonus_lines` gives Prolific's bulk bonus upload (`participant_id,amount`,
one line each), `mturk_bonus_frame` the worker and assignment ids MTurk's SendBonus needs. Panel ids are
personal data: only researchers run these, and every file written says so in its name.
`python -m annotations forget-participant` replaces a panel id by an anonymous one: the account (a pseudonym
that never held the id) and its judgments stay, the id and the platform's other ids go.
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path

import duckdb
import pandas as pd

from annotations import store
from annotations.accounts.sessions import revoke_all
from annotations.crowd.outcomes import participant_outcomes
from annotations.errors import AnnotationError

PERSONAL = "PERSONAL_DATA"  # in the name of every file that holds panel ids


def payments_frame(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    bonus_per_pair: float = 0.0,
    bonus_completed: float = 0.0,
) -> pd.DataFrame:
    """platform, participant_id, assignment_id (MTurk), user_id, study_id, outcome, phase outcomes, judged,
    minutes, bonus: `bonus_per_pair` for each pair judged plus `bonus_completed` for a completed study."""
    if bonus_per_pair < 0 or bonus_completed < 0:
        raise AnnotationError("bonuses cannot be negative")
    outcomes = participant_outcomes(con, campaign_id)
    ids = store.read_frame(
        con,
        "SELECT p.study_id, p.user_id, p.participant_id, p.platform_ids, p.arrived_at, p.finished_at "
        "FROM crowd_participants p JOIN crowd_studies s USING (study_id) WHERE s.campaign_id = ?",
        [campaign_id],
    )
    frame = outcomes.merge(ids, on=["study_id", "user_id", "arrived_at", "finished_at"], how="left")
    frame["assignment_id"] = [json.loads(p or "{}").get("assignmentId") for p in frame.pop("platform_ids")]
    ended = frame["finished_at"].fillna(store.utcnow())
    frame["minutes"] = ((ended - frame["arrived_at"]).dt.total_seconds() / 60).round(1)
    completed = (frame["outcome"] == "complete").astype(float)
    frame["bonus"] = (frame["judged"] * bonus_per_pair + completed * bonus_completed).round(2)
    columns = [
        "platform",
        "participant_id",
        "assignment_id",
        "user_id",
        "study_id",
        "outcome",
        "consent",
        "qualification",
        "task",
        "judged",
        "gold_correct",
        "gold_total",
        "attention_passed",
        "attention_total",
        "minutes",
        "bonus",
    ]
    return frame[columns]


def prolific_bonus_lines(frame: pd.DataFrame) -> str:
    """Prolific's bulk bonus upload: `participant_id,amount` per line, for Prolific participants with a
    bonus."""
    paid = frame[(frame["platform"] == "prolific") & (frame["bonus"] > 0)]
    return "".join(f"{pid},{amount:.2f}\n" for pid, amount in zip(paid["participant_id"], paid["bonus"]))


def mturk_bonus_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """worker_id, assignment_id, amount: what MTurk's SendBonus takes, for MTurk workers with a bonus."""
    paid = frame[(frame["platform"] == "mturk") & (frame["bonus"] > 0)]
    return pd.DataFrame(
        {"worker_id": paid["participant_id"], "assignment_id": paid["assignment_id"], "amount": paid["bonus"]}
    )


def write_payments(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    out_dir: str | Path,
    bonus_per_pair: float = 0.0,
    bonus_completed: float = 0.0,
) -> list[Path]:
    """participants_PERSONAL_DATA.csv, prolific_bonus_PERSONAL_DATA.csv and mturk_bonus_PERSONAL_DATA.csv in
    `out_dir`; returns their paths."""
    frame = payments_frame(con, campaign_id, bonus_per_pair, bonus_completed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        out / f"participants_{PERSONAL}.csv",
        out / f"prolific_bonus_{PERSONAL}.csv",
        out / f"mturk_bonus_{PERSONAL}.csv",
    ]
    frame.to_csv(paths[0], index=False)
    paths[1].write_text(prolific_bonus_lines(frame))
    mturk_bonus_frame(frame).to_csv(paths[2], index=False)
    return paths


def forget_participant(con: duckdb.DuckDBPyConnection, platform: str, participant_id: str) -> str:
    """Replace a panel id by an anonymous one everywhere; the account's judgments stay under its user id.
    Returns the anonymous id; AnnotationError when the id is unknown."""
    anonymous = "forgotten-" + secrets.token_hex(6)

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        row = cur.execute(
            "SELECT user_id FROM crowd_accounts WHERE platform = ? AND participant_id = ?",
            [platform, participant_id],
        ).fetchone()
        if row is None:
            raise AnnotationError(f"no {platform} participant with this id")
        (user_id,) = row
        cur.execute(
            "UPDATE crowd_accounts SET participant_id = ? WHERE platform = ? AND participant_id = ?",
            [anonymous, platform, participant_id],
        )
        cur.execute(
            "UPDATE crowd_participants SET participant_id = ?, platform_ids = NULL WHERE user_id = ?",
            [anonymous, user_id],
        )
        # the name held a hash of the id: a new one; no session of the account lives on
        cur.execute(
            "UPDATE users SET username = ?, username_key = ?, active = FALSE WHERE user_id = ?",
            [f"{platform}:{anonymous}", f"{platform}:{anonymous}", user_id],
        )
        revoke_all(cur, user_id, "participant forgotten")

    store.write(con, work)
    return anonymous


def main_payments(argv: list[str] | None = None) -> int:
    """`python -m annotations crowd-payments --campaign ID --out DIR [--bonus-per-pair X]
    [--bonus-completed Y]`."""
    parser = argparse.ArgumentParser(
        prog="python -m annotations crowd-payments",
        description="Participants of a campaign's crowd studies with time spent, pairs, outcomes and "
        "bonuses, and the bonus files for Prolific and MTurk. The files hold panel ids: personal data.",
    )
    parser.add_argument("--campaign", required=True, help="campaign id")
    parser.add_argument("--out", required=True, help="folder to write into")
    parser.add_argument("--bonus-per-pair", type=float, default=0.0, help="bonus for each pair judged")
    parser.add_argument("--bonus-completed", type=float, default=0.0, help="bonus for a completed study")
    parser.add_argument("--db", default=None, help="the store (default: the app's)")
    args = parser.parse_args(argv)
    con = store.connect(args.db)
    try:
        paths = write_payments(con, args.campaign, args.out, args.bonus_per_pair, args.bonus_completed)
    finally:
        con.close()
    for path in paths:
        print(path)
    print(
        "These files hold participant ids (personal data): keep them to researchers, delete them once paid."
    )
    return 0


def main_forget(argv: list[str] | None = None) -> int:
    """`python -m annotations forget-participant --platform P --id ID [--db FILE]`."""
    parser = argparse.ArgumentParser(
        prog="python -m annotations forget-participant",
        description="Remove a participant's panel id; their judgments stay under their anonymous account.",
    )
    parser.add_argument("--platform", required=True, choices=("prolific", "mturk", "generic"))
    parser.add_argument("--id", required=True, help="the panel's participant id")
    parser.add_argument("--db", default=None, help="the store (default: the app's)")
    args = parser.parse_args(argv)
    con = store.connect(args.db)
    try:
        anonymous = forget_participant(con, args.platform, args.id)
    finally:
        con.close()
    print(f"forgotten: the id is now {anonymous}; the judgments stay")
    return 0
