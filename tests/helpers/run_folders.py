"""Tiny run folders (outputs/*.jsonl, scores/per_example.parquet) written through ft_core.runfolder, the
one owner of the layout (docs/run-folder.md), so every suite builds the same fixtures the way generation
and scoring do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ft_core import runfolder


def write_run_folder(
    root: Path,
    n_items: int = 12,
    systems: tuple[str, ...] = ("base", "finetuned"),
    decodings: tuple[str, ...] = ("greedy",),
    seeds: tuple[int, ...] = (0,),
    metric_seed: int = 0,
    output_text=None,
    references=None,
) -> Path:
    """A run folder with outputs/<system>__<decoding>__seed<seed>.jsonl and scores/per_example.parquet.

    `output_text(system, i)` gives the output of item i (default: a text naming the system, decoding and
    seed), `references(i)` its references (default: two short made-up ones).
    """
    runfolder.outputs_dir(root).mkdir(parents=True, exist_ok=True)
    runfolder.scores_dir(root).mkdir(exist_ok=True)
    rng = np.random.default_rng(metric_seed)
    scores = []
    for system in systems:
        for decoding in decodings:
            for seed in seeds:
                rows = []
                for i in range(n_items):
                    rows.append(
                        {
                            "item_id": f"item-{i:03d}",
                            "system": system,
                            "decoding": decoding,
                            "seed": seed,
                            "prompt": f"Summarize: source text {i}",
                            "source": f"source text {i}",
                            "output": output_text(system, i)
                            if output_text
                            else f"{system} {decoding} {seed} output for item {i}",
                            "references": references(i)
                            if references
                            else [f"reference {i}", f"second reference {i}"],
                            "new_tokens": 7,
                            "hit_max_new_tokens": False,
                            "time_s": 0.01,
                        }
                    )
                    scores.append(
                        {
                            "item_id": f"item-{i:03d}",
                            "system": system,
                            "decoding": decoding,
                            "seed": seed,
                            "rougeL": rng.random(),
                            "sentence_bleu": rng.random() * 100,
                            "bertscore_f1": rng.random(),
                            "output_tokens": 7,
                        }
                    )
                runfolder.write_jsonl_atomic(runfolder.output_path(root, system, decoding, seed), rows)
    pd.DataFrame(scores).to_parquet(runfolder.scores_dir(root) / runfolder.PER_EXAMPLE)
    return root
