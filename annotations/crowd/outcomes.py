"""Per participant of the crowd studies: each phase's outcome, training score, silent gold accuracy and
attention checks, as DataFrames (pure reads; the quality statistics and the Campaigns page take them).

`participant_outcomes(con, campaign_id)` has one row per participant and study: user_id, campaign_id,
study_id, platform, phase (where they are now), outcome (complete, screened_out or in progress), consent,
training_score, qualification, gold_total, gold_correct, attention_total, attention_passed, judged,
refused_arrivals, arrived_at, task_started_at, finished_at. Platform ids are not in it (personal data: see
`participant_ids`). `phase_outcomes` is the long form: one row per participant and phase passed through.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from annotations import store


def phase_outcomes(con: duckdb.DuckDBPyConnection, campaign_id: str | None = None) -> pd.DataFrame:
    """study_id, campaign_id, user_id, phase, outcome, score, recorded_at: one row per phase a participant
    went through."""
    where, params = ("WHERE s.campaign_id = ?", [campaign_id]) if campaign_id else ("", [])
    return store.read_frame(
        con,
        "SELECT o.study_id, s.campaign_id, o.user_id, o.phase, o.outcome, o.score, o.recorded_at "
        f"FROM crowd_phase_outcomes o JOIN crowd_studies s USING (study_id) {where} "
        "ORDER BY o.study_id, o.user_id, o.recorded_at, o.phase",
        params,
    )


def participant_outcomes(con: duckdb.DuckDBPyConnection, campaign_id: str | None = None) -> pd.DataFrame:
    """One row per participant and study (see the module's docstring for the columns)."""
    where, params = ("WHERE s.campaign_id = ?", [campaign_id]) if campaign_id else ("", [])
    frame = store.read_frame(
        con,
        f"""
        WITH latest AS (  -- each assignment's last judgment version
            SELECT assignment_id, winner FROM (
                SELECT assignment_id, winner,
                       row_number() OVER (PARTITION BY assignment_id ORDER BY version DESC) AS newest
                FROM judgments) AS versions
            WHERE newest = 1
        ),
        gold AS (
            SELECT a.campaign_id, a.annotator_id AS user_id, count(*) AS gold_total,
                   count(*) FILTER (WHERE l.winner = i.gold_winner) AS gold_correct
            FROM assignments a JOIN latest l USING (assignment_id)
            JOIN items i ON i.campaign_id = a.campaign_id AND i.item_id = a.item_id
            WHERE a.is_gold AND a.status = 'submitted' GROUP BY a.campaign_id, a.annotator_id
        ),
        judged AS (
            SELECT campaign_id, annotator_id AS user_id, count(*) AS judged FROM assignments
            WHERE status = 'submitted' GROUP BY campaign_id, annotator_id
        ),
        attention AS (
            SELECT study_id, user_id, count(*) FILTER (WHERE answered_at IS NOT NULL) AS attention_total,
                   count(*) FILTER (WHERE passed) AS attention_passed
            FROM crowd_attention_checks GROUP BY study_id, user_id
        ),
        outcome AS (  -- one row per (study, user, phase): max() picks that row's value
            SELECT study_id, user_id,
                   max(outcome) FILTER (WHERE phase = 'consent') AS consent,
                   max(score) FILTER (WHERE phase = 'training') AS training_score,
                   max(outcome) FILTER (WHERE phase = 'training') AS qualification,
                   max(outcome) FILTER (WHERE phase = 'task') AS task
            FROM crowd_phase_outcomes GROUP BY study_id, user_id
        )
        SELECT p.user_id, s.campaign_id, p.study_id, s.platform, p.phase,
               CASE WHEN p.phase IN ('complete', 'screened_out') THEN p.phase ELSE 'in progress' END
                   AS outcome,
               o.consent, o.training_score, o.qualification, o.task,
               coalesce(g.gold_total, 0) AS gold_total, coalesce(g.gold_correct, 0) AS gold_correct,
               coalesce(t.attention_total, 0) AS attention_total,
               coalesce(t.attention_passed, 0) AS attention_passed,
               coalesce(j.judged, 0) AS judged, p.refused_arrivals, p.arrived_at, p.task_started_at,
               p.finished_at
        FROM crowd_participants p JOIN crowd_studies s USING (study_id)
        LEFT JOIN outcome o ON o.study_id = p.study_id AND o.user_id = p.user_id
        LEFT JOIN gold g ON g.campaign_id = s.campaign_id AND g.user_id = p.user_id
        LEFT JOIN judged j ON j.campaign_id = s.campaign_id AND j.user_id = p.user_id
        LEFT JOIN attention t ON t.study_id = p.study_id AND t.user_id = p.user_id
        {where}
        ORDER BY p.arrived_at, p.study_id, p.user_id
        """,
        params,
    )
    for column in ("gold_total", "gold_correct", "attention_total", "attention_passed", "judged"):
        frame[column] = frame[column].astype(int)
    return frame


def check_outcomes(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """user_id, attention_passed, gold_accuracy: the silent checks per participant of the campaign's studies,
    in the form the annotator table on Results takes (annotations.stats.competence.participant_table).
    attention_passed is True when every answered attention check was passed, False when one failed, None when
    none was answered; gold_accuracy is the share of silent gold items judged right (NaN when none)."""
    frame = participant_outcomes(con, campaign_id)
    per = frame.groupby("user_id", sort=False)[
        ["attention_total", "attention_passed", "gold_total", "gold_correct"]
    ].sum()
    answered = per["attention_total"] > 0
    passed = [
        bool(ok) if n else None for ok, n in zip(per["attention_passed"] == per["attention_total"], answered)
    ]
    accuracy = (per["gold_correct"] / per["gold_total"]).where(per["gold_total"] > 0)
    return pd.DataFrame(
        {
            "user_id": per.index.astype(str),
            "attention_passed": pd.Series(passed, dtype=object).values,
            "gold_accuracy": accuracy.astype(float).values,
        }
    )


def participant_ids(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """user_id, study_id, platform, participant_id and the platform's other ids: personal data, for
    researchers only (payments, answering a participant's message)."""
    return store.read_frame(
        con,
        "SELECT p.user_id, p.study_id, s.platform, p.participant_id, p.platform_ids "
        "FROM crowd_participants p JOIN crowd_studies s USING (study_id) WHERE s.campaign_id = ? "
        "ORDER BY p.arrived_at, p.study_id, p.user_id",
        [campaign_id],
    )
