"""A judge's run-folder output (judges/<name>/verdicts.jsonl, judge_config.json, summary.json) written by
hand in the format of docs/run-folder.md#judges, through ft_core.runfolder's paths, so import and Results
tests know every verdict."""

from __future__ import annotations

import json
from pathlib import Path

from ft_core import runfolder


def write_judge(
    run_dir: Path,
    name: str,
    n_items: int,
    prefers=lambda i: "finetuned",
    p_finetuned=lambda i: 0.8,
    consistent=lambda i: True,
    decoding: str = "greedy",
    seed: int = 0,
    system_a: str = "base",
    system_b: str = "finetuned",
    finished: bool = True,
    extra_records: list[dict] | None = None,
) -> Path:
    """Verdicts on items item-000.. (`prefers(i)`: the system both orders prefer, or "tie"; `consistent(i)`
    False makes the ba order name the other system, so the verdict is a tie); summary.json unless not
    `finished`."""
    folder = runfolder.judge_dir(run_dir, name)
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n_items):
        winner = prefers(i)
        other = {system_a: system_b, system_b: system_a}.get(winner, winner)
        agree = consistent(i)
        ba_winner = winner if agree else other
        label = {system_a: "A", system_b: "B"}
        p_b = p_finetuned(i) if system_b == "finetuned" else 1 - p_finetuned(i)
        records.append(
            {
                "item_id": f"item-{i:03d}",
                "decoding": decoding,
                "seed": seed,
                "system_a": system_a,
                "system_b": system_b,
                "ab_label": label.get(winner, "C"),
                "ba_label": {system_b: "A", system_a: "B"}.get(ba_winner, "C"),
                "ab_p_a": 1 - p_b,
                "ab_p_b": p_b,
                "ab_p_tie": 0.0,
                "ba_p_a": p_b,
                "ba_p_b": 1 - p_b,
                "ba_p_tie": 0.0,
                "ab_winner": winner,
                "ba_winner": ba_winner,
                "ab_raw": "[[A]]",
                "ba_raw": "[[B]]",
                "probs_from": "next_token",
                "consistent": agree,
                "verdict": winner if agree else "tie",
                "p_b_better": p_b,
                "source_tokens_cut": 0,
                "prompt_tokens": 200,
                "completion_tokens": 2,
                "time": 0.0,
            }
        )
    records += extra_records or []
    runfolder.verdicts_path(run_dir, name).write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / runfolder.JUDGE_CONFIG).write_text(
        json.dumps({"name": name, "backend": "local", "model": "tiny"})
    )
    if finished:
        summary = {
            "pairs": n_items,
            "prompt_tokens": 200 * n_items,
            "completion_tokens": 2 * n_items,
            "seconds": 12.5,
            "judge": name,
            "model": "tiny",
        }
        (folder / runfolder.JUDGE_SUMMARY).write_text(json.dumps(summary))
    return folder
