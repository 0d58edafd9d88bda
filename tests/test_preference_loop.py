"""The whole preference loop on tiny models, in one test: a tiny SFT run generates on its training items; a
campaign over base vs fine-tuned is judged (simulated annotators, through the real assignment and submit
path); the preferences export feeds a few DPO steps; one `generate` call writes base, fine-tuned and DPO
outputs for the test items, `score` scores all three; a three-system campaign over them is judged;
`rank_systems` ranks the three systems."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from helpers import synthetic

from annotations import campaigns, store
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging import judgments
from annotations.report.preferences import PreferenceOptions, campaign_preferences, write_preferences
from annotations.stats.ranking import rank_systems
from ft_core import runfolder
from ft_core.config import DPOTrainConfig, GenerateConfig, ScoreConfig, TrainConfig
from ft_core.dpo import dpo
from ft_core.generate import generate
from ft_core.scoring import score
from ft_core.train import train

TEMPLATE = "Summarize the following scientific abstract in one sentence.\n\n{source}"
THREE = ["base", "finetuned", "dpo"]
# simulated taste in the second study: the chance that the row's system wins against any other
STRENGTH = {"base": 0.2, "finetuned": 0.5, "dpo": 0.8}


def _judge_by_strength(con, rng):
    """A simulated annotator for `synthetic.judge_round_robin`: prefers the stronger system, with noise and
    some ties (simulated judgments, labelled so: no human saw these outputs)."""

    def judge(annotator, pair, item_id, left, right, now):
        u = rng.random()
        p_left = STRENGTH[left] / (STRENGTH[left] + STRENGTH[right])
        choice = "tie" if u > 0.9 else ("A" if u < 0.9 * p_left else "B")
        now = now + timedelta(seconds=float(rng.uniform(5, 40)))
        judgments.submit(con, pair.token, annotator, choice, now=now)
        return now

    return judge


@pytest.mark.slow
def test_judgments_to_export_to_dpo_to_three_system_generation_to_ranking(
    tmp_path, tiny_causal_dir, tiny_jsonl
):
    train_file = str(tiny_jsonl / "train.jsonl")
    # 1. a tiny SFT run, and its outputs on the training items (a study whose pairs may become training data)
    sft = train(
        TrainConfig(
            base_model=str(tiny_causal_dir),
            train_file=train_file,
            validation_file=None,
            test_file=str(tiny_jsonl / "test.jsonl"),
            run_dir=str(tmp_path / "runs" / "sft"),
            max_steps=2,
            batch_size=4,
            max_source_length=48,
            max_target_length=16,
            prompt_template=TEMPLATE,
        ),
        progress=False,
    )
    generate(GenerateConfig(run_dir=str(sft), split=train_file, no_repeat_ngram_size=1, batch_size=8))
    con = store.connect(tmp_path / "app.duckdb")
    first = synthetic.fill_store(
        con, sft, n_annotators=3, left_biased=(), name="base vs SFT", k=3, repeat_rate=0.0, p_finetuned=0.8
    )

    # 2. the preferences export (TRL's format), then DPO from the SFT run for a few steps
    data = campaign_preferences(con, first, PreferenceOptions(min_pairs=4))
    export = tmp_path / "prefs"
    write_preferences(data, export)
    summary = json.loads((export / "summary.json").read_text())
    assert summary["written"] == len(data.pairs) >= 4 and set(data.pairs["split"]) == {"train"}
    dpo_run = dpo(
        DPOTrainConfig(
            sft_run=str(sft),
            preferences=str(export),
            run_dir=str(tmp_path / "runs" / "dpo"),
            max_steps=2,
            batch_size=2,
            eval_share=0.0,
            min_pairs=4,
            max_length=128,
            precision="fp32",
        ),
        progress=False,
    )
    assert runfolder.read_status(dpo_run).state == "finished" and runfolder.has_adapter(dpo_run)
    assert runfolder.read_preference_source(dpo_run)["campaign_id"] == first

    # 3. base, SFT and DPO generated in one call, into the next study's folder
    study = tmp_path / "runs" / "next"
    paths = generate(
        GenerateConfig(
            run_dir=str(sft),
            output_dir=str(study),
            extra_systems={"dpo": str(dpo_run)},
            no_repeat_ngram_size=1,
            batch_size=8,
        )
    )
    assert [runfolder.parse_output_name(p).system for p in paths] == THREE
    n_test = len((tiny_jsonl / "test.jsonl").read_text().splitlines())
    items = [[json.loads(line)["item_id"] for line in p.read_text().splitlines()] for p in paths]
    assert len(items[0]) == n_test and items[0] == items[1] == items[2]
    score(ScoreConfig(run_dir=str(study), metrics=["bleu"], system_a="finetuned", system_b="dpo", n_boot=100))
    assert set(runfolder.read_per_example(study).system) == set(THREE)

    # 4. a three-system campaign over that folder, judged, and the ranking of the three systems
    config = CampaignConfig(
        name="base, SFT, DPO", run_dir=str(study), systems=THREE, system_a="finetuned", system_b="dpo", k=6
    )
    second = create_campaign(con, config)
    assert set(campaigns.outputs_frame(con, second).system) == set(THREE)
    metrics = campaigns.metrics_frame(con, second)
    bleu = runfolder.per_item_metric("bleu")
    assert set(metrics.loc[metrics.metric == bleu, "system"]) == set(THREE)
    annotators = [f"rater-{i}" for i in range(6)]
    rng = np.random.default_rng(0)
    synthetic.judge_round_robin(con, second, annotators, store.utcnow(), _judge_by_strength(con, rng))
    frame = judgments.judgments_frame(con, second)
    assert len(frame) == n_test * 6
    ranking = rank_systems(frame[~frame.is_gold & ~frame.is_repeat], n_boot=100)
    assert sorted(ranking.systems) == sorted(THREE)
    table = ranking.table.set_index("system")
    assert sorted(table.index) == sorted(THREE)
    assert table[["strength", "ci_low", "ci_high"]].notna().all().all()  # strengths with their intervals
    assert ranking.win_rates[["system", "opponent"]].drop_duplicates().shape[0] == 6  # every ordered pair
    assert ranking.compare("dpo", "finetuned").n_judgments > 0
    con.close()
