"""Small campaigns with a fixed outcome, judged through the real assignment and submit path: every
annotator picks what `decide(item_id, annotator)` says ("finetuned", "base", "tie" or "both_bad") and
scores the two outputs with fixed scores, so a test knows every number (unanimous campaigns, one annotator,
a few items, ties only)."""

from __future__ import annotations

from datetime import timedelta

from annotations import store
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging import judgments
from helpers.synthetic import judge_round_robin


def fill_decided(
    con,
    run_dir,
    decide=lambda item_id, annotator: "finetuned",
    n_annotators: int = 2,
    scores: dict[str, int] | None = None,
    **config,
) -> str:
    """A campaign on `run_dir` judged by n_annotators (each item by `k` of them, default all), each
    choosing `decide(item_id, annotator)`; `scores` maps a system to the score it gets on every criterion
    (default base 2, finetuned 5). Returns the campaign id."""
    scores = scores or {"base": 2, "finetuned": 5}
    settings = {"name": "decided", "k": n_annotators, "repeat_rate": 0.0, **config}
    cid = create_campaign(con, CampaignConfig(run_dir=str(run_dir), **settings), design_secret="ab" * 32)
    annotators = [f"ann-{i}" for i in range(n_annotators)]

    def judge(annotator, pair, item_id, left, right, now):
        winner = decide(item_id, annotator)
        choice = winner if winner in ("tie", "both_bad") else ("A" if winner == left else "B")
        given = {c.name: {"A": scores[left], "B": scores[right]} for c in pair.criteria}
        now = now + timedelta(seconds=20)
        judgments.submit(con, pair.token, annotator, choice, given, None, now=now)
        return now

    judge_round_robin(con, cid, annotators, store.utcnow(), judge)
    return cid


def decided_frames(
    n_items: int = 10,
    annotators: tuple[str, ...] = ("ann-0", "ann-1"),
    decide=lambda item, annotator: "finetuned",
    scores: dict[str, int] | None = None,
    metric=None,
):
    """(judgments, scores, metrics) frames as `analyze` takes them (docs/frames.md), without a store: every
    annotator judges every item as `decide(i, annotator)` says, scores each system with `scores[system]` on
    one criterion, and `metric(i, system)` (when given) is a "bleu" value per output."""
    import pandas as pd

    scores = scores or {"base": 2, "finetuned": 5}
    start = pd.Timestamp("2026-01-01", tz="UTC")
    rows, score_rows, metric_rows = [], [], []
    for i in range(n_items):
        for k, annotator in enumerate(annotators):
            left = "base" if (i + k) % 2 == 0 else "finetuned"
            right = "finetuned" if left == "base" else "base"
            winner = decide(i, annotator)
            jid = f"j{len(rows)}"
            rows.append(
                {
                    "judgment_id": jid,
                    "campaign_id": "c",
                    "item_id": f"item-{i:03d}",
                    "annotator_id": annotator,
                    "version": 1,
                    "assignment_id": f"as{len(rows)}",
                    "system_a": "base",
                    "system_b": "finetuned",
                    "shown_left": left,
                    "shown_right": right,
                    "winner": winner,
                    "choice": winner
                    if winner in ("tie", "both_bad")
                    else ("left" if winner == left else "right"),
                    "comment": None,
                    "served_at": start,
                    "submitted_at": start + pd.Timedelta(seconds=30 * len(rows)),
                    "duration_s": 30.0,
                    "is_gold": False,
                    "gold_winner": None,
                    "is_repeat": False,
                    "repeat_of": None,
                    "left_length": 40,
                    "right_length": 40,
                }
            )
            score_rows += [
                {
                    "judgment_id": jid,
                    "item_id": f"item-{i:03d}",
                    "annotator_id": annotator,
                    "criterion": "quality",
                    "system": system,
                    "score": scores[system],
                }
                for system in ("base", "finetuned")
            ]
        if metric is not None:
            metric_rows += [
                {"item_id": f"item-{i:03d}", "system": s, "metric": "bleu", "value": float(metric(i, s))}
                for s in ("base", "finetuned")
            ]
    return (
        pd.DataFrame(rows),
        pd.DataFrame(score_rows),
        pd.DataFrame(metric_rows, columns=["item_id", "system", "metric", "value"]),
    )
