"""The results page shows the faithfulness scores beside the human fidelity score
(annotations/stats/faithfulness.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from helpers import synthetic
from helpers.login_as import login_as


def test_results_page_shows_faithfulness_beside_fidelity(
    open_page, app_env, researcher, tmp_path, run_writer
):
    run_dir = run_writer(tmp_path / "runs" / "faithful", n_items=16)
    path = run_dir / "scores" / "per_example.parquet"
    scores = pd.read_parquet(path)
    rng = np.random.default_rng(1)
    scores["novel_1gram"] = rng.random(len(scores))
    scores["likelihood"] = -rng.random(len(scores))
    scores.to_parquet(path)
    synthetic.fill_store(app_env, run_dir, n_annotators=3, name="faithful")
    at = login_as(open_page("results"), researcher).run()
    assert not at.exception, at.exception
    assert any("beside the human fidelity score" in m.value for m in at.markdown)
    (table,) = [d.value for d in at.dataframe if "better" in d.value.columns]
    # the source-comparing scores only: the run's reference-based metrics (rougeL, sentence_bleu,
    # bertscore_f1) are in the campaign and in "Every correlation", not under faithfulness
    assert list(dict.fromkeys(table["metric"])) == ["likelihood", "novel_1gram"]
    (every,) = [
        d.value for d in at.dataframe if "n_skipped" in d.value.columns and "human" in d.value.columns
    ]
    assert {"rougeL", "sentence_bleu", "bertscore_f1"} <= set(every["metric"])
