"""Small campaigns with a fixed outcome, judged through the real assignment and submit path: every annotator picks
what `decide(item_id, annotator)` says ("finetuned", "base", "tie" or "both_bad") and scores the two outputs with
fixed scores, so a test knows every number (unanimous campaigns, one annotator, a few items, ties only)."""

from __future__ import annotations

from datetime import timedelta

from annotations import assignment, judgments, store
from annotations.campaigns import CampaignConfig, create_campaign


def fill_decided(
    con,
    run_dir,
    decide=lambda item_id, annotator: "finetuned",
    n_annotators: int = 2,
    scores: dict[str, int] | None = None,
    **config,
) -> str:
    """A campaign on `run_dir` judged by n_annotators (each item by `k` of them, default all), each choosing
    `decide(item_id, annotator)`; `scores` maps a system to the score it gets on every criterion (default base 2,
    finetuned 5). Returns the campaign id."""
    scores = scores or {"base": 2, "finetuned": 5}
    settings = {"name": "decided", "k": n_annotators, "repeat_rate": 0.0, **config}
    cid = create_campaign(con, CampaignConfig(run_dir=str(run_dir), **settings), design_secret="ab" * 32)
    annotators = [f"ann-{i}" for i in range(n_annotators)]
    now = store.utcnow()
    active = True
    while active:
        active = False
        for annotator in annotators:
            pair = assignment.next_item(con, cid, annotator, now=now)
            if pair is None:
                continue
            active = True
            item_id, left, right = con.execute(
                "SELECT item_id, shown_left, shown_right FROM assignments WHERE assignment_id = ?", [pair.token]
            ).fetchone()
            winner = decide(item_id, annotator)
            choice = winner if winner in ("tie", "both_bad") else ("A" if winner == left else "B")
            given = {c.name: {"A": scores[left], "B": scores[right]} for c in pair.criteria}
            now = now + timedelta(seconds=20)
            judgments.submit(con, pair.token, annotator, choice, given, None, now=now)
    return cid
