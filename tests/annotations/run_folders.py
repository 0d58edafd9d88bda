"""Tiny run folders written as plain files in the contracts.md layout (outputs/*.jsonl, scores/per_example.parquet).

Imported by tests/annotations, tests/app and tests/e2e (the latter by path) so all build the same fixtures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def write_run_folder(
    root: Path,
    n_items: int = 12,
    systems: tuple[str, ...] = ("base", "finetuned"),
    decodings: tuple[str, ...] = ("greedy",),
    seeds: tuple[int, ...] = (0,),
    metric_seed: int = 0,
    output_text=None,
) -> Path:
    """A run folder with outputs/<system>__<decoding>__seed<seed>.jsonl and scores/per_example.parquet.

    `output_text(system, i)` gives the output of item i (default: a text naming the system, decoding and seed).
    """
    (root / "outputs").mkdir(parents=True, exist_ok=True)
    (root / "scores").mkdir(exist_ok=True)
    rng = np.random.default_rng(metric_seed)
    scores = []
    for system in systems:
        for decoding in decodings:
            for seed in seeds:
                with (root / "outputs" / f"{system}__{decoding}__seed{seed}.jsonl").open("w") as f:
                    for i in range(n_items):
                        row = {
                            "item_id": f"item-{i:03d}",
                            "system": system,
                            "decoding": decoding,
                            "seed": seed,
                            "prompt": f"Summarize: source text {i}",
                            "source": f"source text {i}",
                            "output": output_text(system, i)
                            if output_text
                            else f"{system} {decoding} {seed} output for item {i}",
                            "references": [f"reference {i}", f"second reference {i}"],
                            "new_tokens": 7,
                            "hit_max_new_tokens": False,
                            "time_s": 0.01,
                        }
                        f.write(json.dumps(row) + "\n")
                        scores.append(
                            {
                                "item_id": f"item-{i:03d}",
                                "system": system,
                                "decoding": decoding,
                                "seed": seed,
                                "rougeL": rng.random(),
                                "bleu": rng.random() * 100,
                                "bertscore_f1": rng.random(),
                                "output_tokens": 7,
                            }
                        )
    pd.DataFrame(scores).to_parquet(root / "scores" / "per_example.parquet")
    return root
