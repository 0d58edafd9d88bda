"""Synthetic campaigns with known answers, in the frames `analyze` takes (docs/frames.md): a known winner,
a known position-biased annotator, a metric that tracks quality and a useless one. Used by the statistics
tests and by bench/analysis_scale.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class SyntheticCampaign:
    judgments: pd.DataFrame
    scores: pd.DataFrame
    metrics: pd.DataFrame
    items: pd.DataFrame
    outputs: pd.DataFrame
    quality: pd.DataFrame  # item_id, system, quality: the latent truth


def make_campaign(
    n_items: int = 200,
    n_annotators: int = 5,
    k: int = 3,
    advantage: float = 0.8,  # latent quality gap finetuned - base (0: no winner)
    tie_band: float = 0.3,  # |perceived difference| below this is judged a tie
    left_biased: tuple[str, ...] = ("ann-left",),  # annotators who pick "left" 90% of the time
    fast: tuple[str, ...] = (),  # annotators who answer in about one second
    criteria: tuple[str, ...] = ("fluency", "faithfulness"),
    gold_share: float = 0.1,
    repeat_share: float = 0.1,
    systems: tuple[str, str] = ("base", "finetuned"),
    seed: int = 0,
) -> SyntheticCampaign:
    """A campaign of `n_items` items, each judged by `k` of the annotators (plus flipped repeats)."""
    rng = np.random.default_rng(seed)
    base, finetuned = systems
    annotators = [f"ann-{i:02d}" for i in range(n_annotators - len(left_biased) - len(fast))]
    annotators += list(left_biased) + list(fast)
    item_ids = np.array([f"item-{i:05d}" for i in range(n_items)])
    q_base = rng.normal(0, 1, n_items)
    q_ft = q_base * 0.5 + rng.normal(advantage, 1, n_items)
    quality = pd.DataFrame(
        {
            "item_id": np.repeat(item_ids, 2),
            "system": np.tile([base, finetuned], n_items),
            "quality": np.column_stack([q_base, q_ft]).ravel(),
        }
    )
    is_gold = rng.random(n_items) < gold_share
    # gold items have a clear answer, set by the latent truth
    gold_winner = np.where(is_gold, np.where(q_ft > q_base, finetuned, base), None)

    # k distinct annotators per item
    picks = np.argsort(rng.random((n_items, len(annotators))), axis=1)[:, :k]
    item_index = np.repeat(np.arange(n_items), k)
    ann_index = picks.ravel()
    n = len(item_index)
    repeat = rng.random(n) < repeat_share
    rows_item = np.concatenate([item_index, item_index[repeat]])
    rows_ann = np.concatenate([ann_index, ann_index[repeat]])
    original_row = np.concatenate([np.full(n, -1), np.flatnonzero(repeat)])
    total = len(rows_item)
    ft_left = rng.random(n) < 0.5
    ft_left = np.concatenate([ft_left, ~ft_left[repeat]])  # a repeat flips the sides

    ann_names = np.array(annotators)[rows_ann]
    perceived = (q_ft - q_base)[rows_item] + rng.normal(0, 0.4, total)
    winner = np.where(perceived > tie_band, finetuned, np.where(perceived < -tie_band, base, "tie"))
    shown_left = np.where(ft_left, finetuned, base)
    shown_right = np.where(ft_left, base, finetuned)
    choice = np.where(winner == "tie", "tie", np.where(winner == shown_left, "left", "right"))
    biased = np.isin(ann_names, list(left_biased))
    biased_choice = np.where(rng.random(total) < 0.9, "left", "right")
    choice = np.where(biased, biased_choice, choice)
    winner = np.where(choice == "tie", "tie", np.where(choice == "left", shown_left, shown_right))

    length_base = rng.integers(20, 80, n_items)
    length_ft = rng.integers(20, 80, n_items)
    left_length = np.where(ft_left, length_ft[rows_item], length_base[rows_item])
    right_length = np.where(ft_left, length_base[rows_item], length_ft[rows_item])
    duration = rng.lognormal(np.log(25), 0.4, total)
    duration = np.where(np.isin(ann_names, list(fast)), rng.uniform(0.5, 1.5, total), duration)
    served = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(total) * 30, unit="s")
    assignment_ids = np.array([f"asg-{i:06d}" for i in range(total)])
    judgments = pd.DataFrame(
        {
            "judgment_id": [f"jdg-{i:06d}" for i in range(total)],
            "campaign_id": "cmp-synthetic",
            "item_id": item_ids[rows_item],
            "annotator_id": ann_names,
            "version": 1,
            "assignment_id": assignment_ids,
            "system_a": base,
            "system_b": finetuned,
            "shown_left": shown_left,
            "shown_right": shown_right,
            "choice": choice,
            "winner": winner,
            "comment": None,
            "served_at": served,
            "submitted_at": served + pd.to_timedelta(duration, unit="s"),
            "duration_s": duration,
            "is_gold": is_gold[rows_item],
            "gold_winner": gold_winner[rows_item],
            "is_repeat": original_row >= 0,
            "repeat_of": np.where(original_row >= 0, assignment_ids[np.maximum(original_row, 0)], None),
            "left_length": left_length,
            "right_length": right_length,
        }
    )
    judgments["comment"] = judgments["comment"].astype(object)

    score_rows = []
    for criterion in criteria:
        for system, q in ((base, q_base), (finetuned, q_ft)):
            s = np.clip(np.rint(3 + q[rows_item] + rng.normal(0, 0.6, total)), 1, 5).astype(int)
            score_rows.append(
                pd.DataFrame(
                    {
                        "judgment_id": judgments["judgment_id"],
                        "campaign_id": "cmp-synthetic",
                        "item_id": judgments["item_id"],
                        "annotator_id": judgments["annotator_id"],
                        "criterion": criterion,
                        "system": system,
                        "score": s,
                    }
                )
            )
    scores = pd.concat(score_rows, ignore_index=True)

    q_all = quality["quality"].to_numpy()
    metrics = pd.concat(
        [
            quality[["item_id", "system"]].assign(
                metric="good_metric", value=q_all + rng.normal(0, 0.5, len(q_all))
            ),
            quality[["item_id", "system"]].assign(metric="useless_metric", value=rng.random(len(q_all))),
        ],
        ignore_index=True,
    )
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "source": [f"Source document {i}." for i in range(n_items)],
            "references": [[f"Reference {i}."] for i in range(n_items)],
            "is_gold": is_gold,
            "metadata": None,
        }
    )
    outputs = pd.DataFrame(
        {
            "item_id": np.repeat(item_ids, 2),
            "system": np.tile([base, finetuned], n_items),
            "output": [f"{s} output for {i}" for i in item_ids for s in (base, finetuned)],
        }
    )
    return SyntheticCampaign(judgments, scores, metrics, items, outputs, quality)


def fill_store(
    con,
    run_dir,
    n_annotators: int = 4,
    p_finetuned: float = 0.7,
    left_biased: tuple[str, ...] = ("ann-left",),
    seed: int = 0,
    **config,
) -> str:
    """A campaign in a real DuckDB store, judged through the real assignment and submit path: honest
    annotators prefer the fine-tuned output with probability p_finetuned, left-biased ones pick left 90%.
    Returns the campaign id. Writes a train_log.jsonl into run_dir for the loss curve."""
    import json
    from datetime import timedelta
    from pathlib import Path

    from annotations import store
    from annotations.campaigns import CampaignConfig, create_campaign
    from annotations.judging import judgments

    log = Path(run_dir) / "train_log.jsonl"
    if not log.exists():
        rows = [{"step": s, "epoch": s / 20, "loss": 2.5 * 0.97**s + 0.3, "lr": 1e-4} for s in range(1, 61)]
        rows += [
            {"step": s, "epoch": s / 20, "loss": None, "eval_loss": 2.0 * 0.98**s + 0.5} for s in (20, 40, 60)
        ]
        log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    defaults = {"name": "synthetic", "k": 3, "repeat_rate": 0.15}
    defaults.update(config)
    # a design secret from the seed: the same seed gives the same sides, order and judgments
    secret = np.random.default_rng(seed).bytes(32).hex()
    cid = create_campaign(con, CampaignConfig(run_dir=str(run_dir), **defaults), design_secret=secret)
    rng = np.random.default_rng(seed)
    annotators = [f"ann-{i}" for i in range(n_annotators - len(left_biased))] + list(left_biased)

    def judge(annotator, pair, item_id, left, right, now):
        if annotator in left_biased:
            choice = "A" if rng.random() < 0.9 else "B"
        else:
            u = rng.random()
            winner = "tie" if u > 0.9 else ("finetuned" if u < p_finetuned * 0.9 else "base")
            choice = "tie" if winner == "tie" else ("A" if left == winner else "B")
        score_a, score_b = (int(v) for v in rng.integers(1, 6, 2))
        scores = {c.name: {"A": score_a, "B": score_b} for c in pair.criteria}
        now = now + timedelta(seconds=float(rng.uniform(5, 40)))
        judgments.submit(con, pair.token, annotator, choice, scores, None, now=now)
        return now

    judge_round_robin(con, cid, annotators, store.utcnow(), judge)
    return cid


def judge_round_robin(con, campaign_id: str, annotators, now, judge) -> None:
    """Each annotator in turn asks for their next pair until none gets one; `judge(annotator, pair, item_id,
    shown_left, shown_right, now)` submits it and returns the clock after the judgment."""
    from annotations.judging import assignment

    active = True
    while active:
        active = False
        for annotator in annotators:
            pair = assignment.next_item(con, campaign_id, annotator, now=now)
            if pair is None:
                continue
            active = True
            item_id, left, right = con.execute(
                "SELECT item_id, shown_left, shown_right FROM assignments WHERE assignment_id = ?",
                [pair.token],
            ).fetchone()
            now = judge(annotator, pair, item_id, left, right, now)
