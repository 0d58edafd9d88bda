"""The embedded demo: its chained jobs (real ft_core processes on a tiny model), the demo campaign, the
demo accounts and the clearly labelled simulated judgments. No torch in this process: the model is built
and trained in subprocesses."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers.at_once import at_once

from annotations.accounts.users import authenticate
from annotations.campaigns import (
    CampaignConfig,
    create_campaign,
    judge_runs,
    judge_verdicts_frame,
    list_campaigns,
)
from annotations.judging.assignment import next_item
from annotations.judging.judgments import judgments_frame
from jobs import demo, judging, logs, progress, queue
from jobs.errors import JobError


def test_simulated_judgments_are_labelled_complete_and_reproducible(tmp_path, run_folder):
    from annotations import store

    winners = []
    for name in ("one", "two"):
        con = store.connect(tmp_path / f"{name}.duckdb")
        demo.demo_accounts(con)
        ids = demo.accounts_ids(con)
        campaign_id = create_campaign(con, CampaignConfig(name="demo", run_dir=str(run_folder), k=3))
        made = demo.simulate_judgments(con, campaign_id, [ids[a] for a in demo.SIMULATED])
        frame = judgments_frame(con, campaign_id)
        assert made == len(frame) == 2 * 12  # two simulated annotators, every item of the 12-item run
        assert set(frame.comment) == {demo.SIMULATED_COMMENT}
        assert set(frame.winner) <= {"base", "finetuned", "tie", "both_bad"}
        assert frame.duration_s.between(15, 60).all()  # paced like a person, so not flagged as too fast
        assert (frame.submitted_at <= pd.Timestamp.now(tz="UTC")).all()
        # the third demo account still has every pair to judge by hand
        assert next_item(con, campaign_id, ids[demo.ANNOTATORS[2]]) is not None
        position = {ids[a]: n for n, a in enumerate(demo.SIMULATED)}
        frame = frame.assign(who=frame.annotator_id.map(position))
        winners.append(frame.sort_values(["who", "item_id"]).winner.tolist())
        con.close()
    assert winners[0] == winners[1]


def test_demo_accounts_get_fresh_passwords(con):
    first = demo.demo_accounts(con)
    assert set(first) == set(demo.ANNOTATORS)
    assert authenticate(con, "demo-annotator-1", first["demo-annotator-1"]).role == "annotator"
    second = demo.demo_accounts(con)
    assert second["demo-annotator-1"] != first["demo-annotator-1"]
    assert authenticate(con, "demo-annotator-1", second["demo-annotator-1"]).role == "annotator"


def test_demo_config_is_small_on_cpu_and_longer_on_gpu(tmp_path):
    cpu = demo.train_config(tmp_path / "d", cpus=2)
    gpu = demo.train_config(tmp_path / "d", on_gpu=True)
    assert cpu.base_model == "smollm2-135m" and cpu.max_steps * cpu.batch_size <= 24  # 2 cores: ~5 min in all
    assert (
        cpu.eval_every_steps == cpu.max_steps and cpu.max_source_length < 256
    )  # one validation, short inputs
    bigger = demo.train_config(tmp_path / "d", cpus=16)
    assert bigger.max_steps > demo.train_config(tmp_path / "d", cpus=4).max_steps > cpu.max_steps  # sized
    assert (
        demo.train_config(tmp_path / "d").max_steps
        == demo.train_config(tmp_path / "d", cpus=demo.machine_cpus()).max_steps
    )
    assert gpu.max_train_examples > cpu.max_train_examples and gpu.max_steps == 0


def wait_for_demo(con, runs_root, timeout=420):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = demo.advance(con, runs_root)
        if state.over:
            return state
        time.sleep(0.5)
    raise AssertionError(f"the demo did not end in {timeout} s: {demo.status(con, runs_root)}")


def test_a_failing_step_stops_the_demo_and_says_why(con, tmp_path):
    runs_root = tmp_path / "runs"
    state = demo.start(
        con, runs_root, on_gpu=False, overrides={"base_model": str(tmp_path / "no-such-model")}
    )
    assert [s.state for s in state.steps] in (
        ["running", "waiting", "waiting", "waiting", "waiting"],
        ["failed", "waiting", "waiting", "waiting", "waiting"],
    )
    assert state.steps[-1].name == demo.STEP_NAMES["judge"] and state.steps[-1].detail == "after the campaign"
    with pytest.raises(JobError, match="running already"):
        demo.start(con, runs_root, on_gpu=False)
    state = wait_for_demo(con, runs_root, timeout=120)
    assert state.failed and not state.finished
    assert "does not exist" in state.steps[0].detail
    assert [s.state for s in state.steps[1:3]] == ["skipped", "skipped"]  # never ran: not failures
    assert "not started" in state.steps[1].detail
    assert list_campaigns(con).empty
    manifest = demo._read_manifest(runs_root)
    assert "judge" not in manifest["jobs"]  # no campaign, so no judge was queued
    assert manifest["judge"]["model"] == str(tmp_path / "no-such-model")  # the judge is the demo's own model


def test_the_demo_judge_is_the_demo_model_reading_sources_as_long_as_training_does(con, tmp_path):
    assert demo.judge_fields("smollm2-135m", 192) == {
        "name": "local-smollm2-135m",
        "backend": "local",
        "model": "smollm2-135m",
        "max_source_tokens": 192,
        "batch_size": 8,
    }
    assert demo.judge_fields("/models/my model/", 192)["name"] == "local-my-model"
    demo.start(con, tmp_path / "runs", on_gpu=False, overrides={"base_model": str(tmp_path / "none")})
    judge = demo._read_manifest(tmp_path / "runs")["judge"]
    assert judge["max_source_tokens"] == demo.train_config(tmp_path, on_gpu=False).max_source_length
    wait_for_demo(con, tmp_path / "runs", timeout=120)


@pytest.mark.slow
def test_the_whole_demo_loop_on_a_tiny_model(con, tmp_path, tiny_model):
    model = tiny_model
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"source": [f"We study topic {i}.", "It works."], "target": [f"Topic {i} works."]} for i in range(12)
    ]
    for name, part in (("train", rows[:6]), ("dev", rows[6:8]), ("test", rows[8:])):
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    runs_root = tmp_path / "runs"
    overrides = {
        "base_model": str(model),
        "train_file": str(data / "train.jsonl"),
        "validation_file": str(data / "dev.jsonl"),
        "test_file": str(data / "test.jsonl"),
        "max_steps": 2,
        "eval_every_steps": 1,
    }
    state = demo.start(
        con,
        runs_root,
        on_gpu=False,
        limit=4,
        max_new_tokens=8,
        overrides=overrides,
        metrics=["bleu", "rouge"],
    )
    state = wait_for_demo(con, runs_root)
    assert state.finished, [(s.name, s.detail) for s in state.steps]
    assert [s.state for s in state.steps] == ["done"] * 5
    assert state.steps[-1].name == demo.STEP_NAMES["judge"]
    assert (Path(state.run_dir) / "scores" / "comparison.json").is_file()
    frame = judgments_frame(con, state.campaign_id)
    assert len(frame) == 2 * 4 and set(frame.comment) == {demo.SIMULATED_COMMENT}
    assert set(state.accounts) == set(demo.ANNOTATORS)
    assert authenticate(con, "demo-annotator-3", state.accounts["demo-annotator-3"]).role == "annotator"
    # the judge step: the demo's model judged the campaign's 4 pairs in both orders, imported as judge
    # verdicts (apart from the human judgments above), so Results has a judge card from the first visit
    manifest = demo._read_manifest(runs_root)
    judge = queue.get_job(con, manifest["jobs"]["judge"])
    assert (
        judge.kind == judging.KIND and judge.pipeline == manifest["pipeline"] and judge.status == "finished"
    )
    assert list(judge_runs(con, state.campaign_id).judge) == ["local-tiny-model"]
    verdicts = judge_verdicts_frame(con, state.campaign_id)
    assert len(verdicts) == 4 and verdicts.p_system_b.between(0, 1).all()
    record = json.loads(
        (Path(state.run_dir) / "judges" / "local-tiny-model" / "verdicts.jsonl").read_text().splitlines()[0]
    )
    assert {"ab_label", "ba_label", "consistent"} <= set(record)  # both orders kept
    # advancing again changes nothing: one campaign, made once, judged once
    demo.advance(con, runs_root)
    assert len(list_campaigns(con)) == 1
    assert len([j for j in queue.list_jobs(con) if j.kind == judging.KIND]) == 1
    # its name says what the study is about, never which system is which (annotators see it)
    campaign = list_campaigns(con).iloc[0]
    assert campaign["name"].startswith("Demo study: SciTLDR summaries")
    for word in {campaign.system_a, campaign.system_b, "base", "fine", "tuned"}:
        assert word.lower() not in campaign["name"].lower()
    # the real generation's log, read as Home reads it: both models, in words, complete only at the end
    generation = queue.get_job(con, demo._read_manifest(runs_root)["jobs"]["generate"])
    log = logs.log_text(generation)
    assert progress.job_progress(generation).text == "items written: base model 4/4, fine-tuned model 4/4"
    assert progress.generation_progress(log[: log.index("merging the fine-tuned")]).fraction == 0.5


def test_two_clicks_at_once_start_one_demo(con, tmp_path):
    runs_root = tmp_path / "runs"

    def click(_) -> demo.DemoState:
        return demo.start(con, runs_root, on_gpu=False, overrides={"base_model": str(tmp_path / "none")})

    outcomes = at_once(click, range(3))
    assert sum(isinstance(o, demo.DemoState) for o in outcomes) == 1
    assert all(isinstance(o, (demo.DemoState, JobError)) for o in outcomes), outcomes
    assert len([j for j in queue.list_jobs(con) if j.kind == "train"]) == 1
    wait_for_demo(con, runs_root, timeout=120)
