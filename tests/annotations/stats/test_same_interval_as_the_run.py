"""The run's comparison (`python -m ft_core score`) and the results page's metric table answer "did the metric
go up?" with the same number: for a per-item metric, the same outputs imported as a campaign and the same
bootstrap seed give exactly the same delta and interval, both through
`ft_core.resampling.paired_difference`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotations.campaigns import CampaignConfig
from annotations.campaigns.imports import load_run_folder
from annotations.stats.paired_metrics import metric_differences
from ft_core import resampling
from ft_core.scoring import ScoreConfig, score


def write_outputs(run: Path, system: str, outputs: list[str], references: list[str]) -> None:
    (run / "outputs").mkdir(parents=True, exist_ok=True)
    with (run / "outputs" / f"{system}__greedy__seed0.jsonl").open("w") as f:
        for i, (output, reference) in enumerate(zip(outputs, references)):
            record = {"item_id": f"it{i:05d}", "output": output, "references": [reference], "source": "s"}
            f.write(json.dumps(record) + "\n")


def scitldr_run(run: Path, shared_data: Path) -> None:
    """base = the abstract's first sentence; fine-tuned = another author's TLDR for 3 items in 4."""
    lines = (shared_data / "scitldr-a" / "dev.jsonl").read_text().splitlines()[:60]
    rows = [json.loads(line) for line in lines]
    references = [r["target"][0] for r in rows]
    write_outputs(run, "base", [r["source"][0] for r in rows], references)
    finetuned = [r["target"][-1] if i % 4 else r["source"][0] for i, r in enumerate(rows)]
    write_outputs(run, "finetuned", finetuned, references)


# 60 items: their per-item differences take few distinct values, so the engine draws a multinomial over them;
# with PATTERN_LIMIT 0 it draws explicit item weights, as for thousands of items (the two ways it resamples)
@pytest.mark.parametrize("pattern_limit", [resampling.PATTERN_LIMIT, 0])
def test_run_comparison_and_results_page_give_the_same_interval(
    tmp_path, shared_data, monkeypatch, pattern_limit
):
    monkeypatch.setattr(resampling, "PATTERN_LIMIT", pattern_limit)
    scitldr_run(tmp_path, shared_data)
    n_boot, seed, confidence = 300, 11, 0.9
    cfg = ScoreConfig(
        run_dir=str(tmp_path), metrics=["bleu", "rouge"], n_boot=n_boot, seed=seed, confidence=confidence
    )
    comparison = score(cfg).set_index("metric")
    metrics = load_run_folder(CampaignConfig(name="same interval", run_dir=str(tmp_path))).metrics
    page = metric_differences(
        metrics, "finetuned", "base", n_boot=n_boot, seed=seed, confidence=confidence
    ).set_index("metric")
    shared = ["rouge1", "rouge2", "rougeL", "rougeLsum", "sentence_bleu", "sentence_sacrebleu"]
    assert set(shared) <= set(page.index) & set(comparison.index)
    for metric in shared:
        run, shown = comparison.loc[metric], page.loc[metric]
        assert shown["n_items"] == run["n"] == 60
        assert (shown["mean_opponent"], shown["mean_system"]) == (run["base"], run["finetuned"]), metric
        assert (shown["delta"], shown["ci_low"], shown["ci_high"]) == (
            run["delta"],
            run["ci_low"],
            run["ci_high"],
        )
        assert shown["share_system_higher"] == run["share_finetuned_higher"]
    # a real difference (not two empty intervals being equal)
    assert comparison.loc["rouge1", "ci_low"] < comparison.loc["rouge1", "ci_high"]
    # another bootstrap seed draws other resamples: the equality above is not one of constants
    other = metric_differences(
        metrics, "finetuned", "base", n_boot=n_boot, seed=seed + 1, confidence=confidence
    )
    assert other.set_index("metric").loc["rouge1", "ci_low"] != comparison.loc["rouge1", "ci_low"]
