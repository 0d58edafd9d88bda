"""The judgments table of an export (one row per judgment, one score column per criterion and system) and its
inverse, so an export read back gives the frames `analyze` takes (docs/frames.md)."""

from __future__ import annotations

import pandas as pd

from annotations import stats

JUDGMENT_COLUMNS = [
    "judgment_id", "campaign_id", "item_id", "annotator_id", "version", "assignment_id", "system_a",
    "system_b", "shown_left", "shown_right", "choice", "winner", "comment", "served_at", "submitted_at",
    "duration_s", "is_gold", "gold_winner", "is_repeat", "repeat_of", "left_length", "right_length",
]  # fmt: skip
SCORE_PREFIX = "score"  # per-criterion score columns: score:<criterion>:<system>


def judgments_with_scores(judgments: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The judgments table of the export: one row per judgment with the shown-left system, the
    de-randomized winner, timestamps, duration, pseudonymous annotator id, version and one column per
    criterion and system."""
    out = judgments[[c for c in JUDGMENT_COLUMNS if c in judgments.columns]].copy()
    if {"duration_s", "left_length", "right_length"} <= set(out.columns):
        out["too_fast"] = stats.too_fast(out).to_numpy()  # default thresholds: stats.QualityThresholds
    if not scores.empty:
        wide = scores.pivot_table(
            index="judgment_id", columns=["criterion", "system"], values="score", aggfunc="first"
        )
        wide.columns = [f"{SCORE_PREFIX}:{criterion}:{system}" for criterion, system in wide.columns]
        out = out.merge(wide.reset_index(), on="judgment_id", how="left")
    return out


def split_scores(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inverse of judgments_with_scores: (judgments, long scores)."""
    score_columns = [c for c in table.columns if str(c).startswith(f"{SCORE_PREFIX}:")]
    judgments = table.drop(columns=[*score_columns, "too_fast"], errors="ignore")
    if not score_columns:
        return judgments, pd.DataFrame(
            columns=["judgment_id", "item_id", "annotator_id", "criterion", "system", "score"]
        )
    long = table[["judgment_id", "campaign_id", "item_id", "annotator_id", *score_columns]].melt(
        id_vars=["judgment_id", "campaign_id", "item_id", "annotator_id"],
        var_name="column",
        value_name="score",
    )
    long = long.dropna(subset=["score"])
    parts = long["column"].str.split(":", n=2, expand=True)
    long = long.assign(criterion=parts[1], system=parts[2], score=long["score"].astype(int)).drop(
        columns="column"
    )
    order = {j: i for i, j in enumerate(judgments["judgment_id"])}
    long = long.sort_values(
        ["judgment_id", "criterion", "system"], key=lambda s: s.map(order) if s.name == "judgment_id" else s
    )
    return judgments, long.reset_index(drop=True)
