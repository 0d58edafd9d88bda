"""The demo's second part, closing the loop on a tiny model: the finished demo campaign's SIMULATED
preferences exported, a few DPO steps (a real `ft_core dpo` process), base + fine-tuned + DPO generated and
scored in one step, a three-system demo campaign with simulated judgments, and its ranking of three systems.
No torch in this process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotations.campaigns import campaign_config, list_campaigns, outputs_frame
from annotations.judging.assignment import next_item
from annotations.judging.judgments import judgments_frame, submit
from annotations.report.ranking import campaign_ranking
from ft_core import runfolder
from jobs import demo, queue
from jobs.errors import JobError


def wait_for(con, runs_root, ended, timeout=600):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = demo.advance(con, runs_root)
        if ended(state):
            return state
        time.sleep(0.5)
    raise AssertionError(f"the demo did not end in {timeout} s: {demo.status(con, runs_root)}")


def tiny_data(tmp_path) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"source": [f"We study topic {i}.", "It works."], "target": [f"Topic {i} works."]} for i in range(18)
    ]
    for name, part in (("train", rows[:6]), ("dev", rows[6:8]), ("test", rows[8:])):
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    return {
        "train_file": str(data / "train.jsonl"),
        "validation_file": str(data / "dev.jsonl"),
        "test_file": str(data / "test.jsonl"),
    }


def judge_every_pair_by_hand(con, campaign_id, annotator_id) -> int:
    """The third demo account, as the newcomer using it: a decided vote on every pair (left each time)."""
    made = 0
    while (pair := next_item(con, campaign_id, annotator_id)) is not None:
        submit(con, pair.token, annotator_id, "A")
        made += 1
    return made


def test_the_dpo_part_is_refused_before_the_demo_has_finished(con, tmp_path):
    with pytest.raises(JobError, match="run the demo first"):
        demo.start_dpo(con, tmp_path / "runs")


def test_the_demo_dpo_run_is_small_on_cpu_and_sized_like_training(tmp_path):
    for cpus in (2, 4, 16):
        config = demo.dpo_config(tmp_path / "sft", tmp_path / "prefs", tmp_path / "dpo", cpus=cpus)
        assert config.max_steps == demo.cpu_sizing(cpus)["max_steps"]  # 6 steps on 2 cores
        assert config.eval_share == 0 and config.min_pairs == demo.DPO_MIN_PAIRS
    assert demo.dpo_config(tmp_path / "s", tmp_path / "p", tmp_path / "d", on_gpu=True).max_steps > 6


@pytest.mark.slow
def test_the_demo_closes_the_loop_on_a_tiny_model(con, tmp_path, tiny_model):
    runs_root = tmp_path / "runs"
    overrides = {"base_model": str(tiny_model), **tiny_data(tmp_path), "max_steps": 2, "eval_every_steps": 2}
    demo.start(
        con, runs_root, on_gpu=False, limit=10, max_new_tokens=8, overrides=overrides, metrics=["rouge"]
    )
    state = wait_for(con, runs_root, lambda s: s.over)
    assert state.finished and state.dpo_steps == [], [(s.name, s.detail) for s in state.steps]
    third = demo.accounts_ids(con)[demo.ANNOTATORS[2]]
    assert judge_every_pair_by_hand(con, state.campaign_id, third) == 10

    state = demo.start_dpo(
        con, runs_root, overrides={"min_pairs": 2, "max_steps": 2, "batch_size": 2, "max_length": 96}
    )
    assert [s.name for s in state.dpo_steps] == list(demo.DPO_STEP_NAMES.values())
    assert state.dpo_steps[0].state == "done" and "simulated" in state.dpo_steps[0].detail
    with pytest.raises(JobError, match="running already"):
        demo.start_dpo(con, runs_root)
    with pytest.raises(JobError, match="running already"):  # nor a new first part over it
        demo.start(con, runs_root, on_gpu=False)
    state = wait_for(con, runs_root, lambda s: s.dpo_over)
    assert state.dpo_finished, [(s.name, s.state, s.detail) for s in state.dpo_steps]
    second = demo._read_manifest(runs_root)["dpo"]

    # the export: TRL's format, the test items included (the demo's campaign is over them), said simulated
    export = Path(second["export_dir"])
    assert "simulated" in export.name
    summary = json.loads((export / "summary.json").read_text())
    assert "SIMULATED" in summary["note"] and summary["campaign_id"] == state.campaign_id
    assert summary["include_eval_split"] and summary["written"] >= 2

    # the DPO run: a finished run folder that says simulated and records the campaign it learnt from
    dpo_run = Path(state.dpo_run_dir)
    assert "simulated" in dpo_run.name and runfolder.is_dpo_run(dpo_run) and runfolder.has_adapter(dpo_run)
    assert runfolder.read_status(dpo_run).state == "finished"
    source = runfolder.read_preference_source(dpo_run)
    assert source["campaign_id"] == state.campaign_id and "SIMULATED" in source["export_summary"]["note"]
    assert Path(source["preferences"]).parent == export.resolve()
    dpo_job = queue.get_job(con, second["jobs"]["dpo"])
    assert dpo_job.kind == "train" and "simulated" in dpo_job.label

    # base, fine-tuned and DPO generated on the same items and scored, in the study folder
    study = Path(second["study_dir"])
    assert set(runfolder.read_per_example(study).system) == set(demo.THREE_SYSTEMS)

    # the three-system campaign: simulated judgments, labelled, and a ranking of the three systems
    campaign_id = state.dpo_campaign_id
    assert campaign_config(con, campaign_id).systems == demo.THREE_SYSTEMS
    assert set(outputs_frame(con, campaign_id).system) == set(demo.THREE_SYSTEMS)
    name = list_campaigns(con).set_index("campaign_id").loc[campaign_id, "name"]
    assert "simulated" in name and "dpo" not in name.lower() and "fine" not in name.lower()
    frame = judgments_frame(con, campaign_id)
    assert len(frame) == 2 * 10 and set(frame.comment) == {demo.SIMULATED_COMMENT}
    ranking = campaign_ranking(con, campaign_id, n_boot=50)
    assert sorted(ranking.table.system) == sorted(demo.THREE_SYSTEMS)

    # advancing again changes nothing; the first part's campaign is untouched
    demo.advance(con, runs_root)
    assert len(list_campaigns(con)) == 2
    assert len(judgments_frame(con, state.campaign_id)) == 2 * 10 + 10
