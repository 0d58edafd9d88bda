"""An LLM judge on a campaign's pairs as a job (issue 21, section 2): queued with the right command line and
config file, a real `python -m ft_core judge` process on a tiny model, its verdicts imported into the store
by the finishing step (and only then is the job finished), for a campaign made from a run folder and from a
CSV; a failing judge leaves the store as it was and the job failed with a one-line reason."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from helpers.fake_jobs import wait_for
from helpers.judge_verdicts import write_judge

from annotations import store
from annotations.campaigns import (
    CampaignConfig,
    create_campaign,
    import_judge,
    judge_folder,
    judge_runs,
    judge_verdicts_frame,
)
from annotations.judging.judgments import judgments_frame
from jobs import judging, logs, progress, queue, scheduler
from jobs.errors import JobError


@pytest.fixture(autouse=True)
def connected(monkeypatch):
    """What the app does once (streamlit_app.py): hand the campaign's two steps to its judging jobs."""
    monkeypatch.setattr(judging, "_STEPS", {})
    judging.connect(judge_folder.prepare_judging, judge_folder.store_judging)


def local_judge(model, **fields) -> dict:
    return {"name": "tiny-judge", "backend": "local", "model": str(model), "batch_size": 8, **fields}


def _config_file(job: queue.Job) -> dict:
    assert job.command[-2] == "--config"
    return yaml.safe_load(open(job.command[-1]).read())


def _store_rows(con) -> tuple[list, list]:
    cur = store.read(con)
    return (
        cur.execute("SELECT * FROM judge_runs ORDER BY campaign_id, judge").fetchall(),
        cur.execute("SELECT * FROM judge_verdicts ORDER BY campaign_id, judge, item_id").fetchall(),
    )


def test_a_judge_is_queued_with_the_right_command_and_no_key_in_it(
    con, tmp_path, run_folder, busy_cpu, monkeypatch
):
    cid = create_campaign(con, CampaignConfig(name="run", run_dir=str(run_folder)))
    job = judging.start(con, cid, tmp_path / "runs", {"name": "small", "backend": "local"})
    assert job.status == "queued" and job.kind == judging.KIND and job.needs_gpu
    assert job.command[1:5] == ["-m", "ft_core", "judge", "--config"]
    config = _config_file(job)
    # the campaign's pairs: its run folder, decoding, seed and two systems
    assert config["run_dir"] == str(run_folder) == job.run_dir
    assert (config["system_a"], config["system_b"]) == ("base", "finetuned")
    assert (config["decodings"], config["seeds"]) == (["greedy"], [0])
    assert judging.campaign_of(job) == cid and judging.pending(con, cid).job_id == job.job_id

    # an endpoint judge: its key's NAME travels, never the key; it needs no GPU
    monkeypatch.setenv("JUDGE_KEY", "sk-secret-value-123")
    other = create_campaign(con, CampaignConfig(name="other", run_dir=str(run_folder)))
    endpoint = {
        "name": "remote",
        "backend": "endpoint",
        "base_url": "http://localhost:9/v1",
        "model_name": "m",
        "api_key_env": "JUDGE_KEY",
    }
    with pytest.raises(JobError, match="already has a queued or running job"):  # one job per run folder
        judging.start(con, other, tmp_path / "runs", endpoint)
    scheduler.cancel(con, job.job_id)
    remote = judging.start(con, other, tmp_path / "runs", endpoint)
    assert not remote.needs_gpu and _config_file(remote)["api_key_env"] == "JUDGE_KEY"
    assert "sk-secret" not in open(remote.command[-1]).read()
    assert "sk-secret" not in str(queue.get_job(con, remote.job_id))


def test_nothing_is_queued_or_written_without_the_key_variable_or_the_campaigns(con, tmp_path, run_folder):
    cid = create_campaign(con, CampaignConfig(name="run", run_dir=str(run_folder)))
    judge = {"name": "remote", "backend": "endpoint", "api_key_env": "NO_SUCH_VARIABLE_SET_HERE"}
    with pytest.raises(JobError, match="NO_SUCH_VARIABLE_SET_HERE is not set"):
        judging.start(con, cid, tmp_path / "runs", judge)
    judging._STEPS.clear()  # fault injected on purpose: a process that never connected the campaigns
    with pytest.raises(JobError, match="not connected the campaigns"):
        judging.start(con, cid, tmp_path / "runs", {"name": "small"})
    assert queue.list_jobs(con) == []
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["run-1"]  # no job file, no folder


def test_a_finished_judge_is_imported_before_the_job_is_finished(
    con, tmp_path, run_folder, tiny_model, cpu_machine
):
    cid = create_campaign(con, CampaignConfig(name="run", run_dir=str(run_folder), k=2))
    job = judging.start(con, cid, tmp_path / "runs", local_judge(tiny_model))
    ended = wait_for(con, job.job_id, timeout=300, poll=0.5)
    assert ended.status == "finished", f"{ended.error}\n{open(ended.log_path).read()}"
    runs = judge_runs(con, cid)
    assert list(runs.judge) == ["tiny-judge"] and runs.n_verdicts[0] == 12
    verdicts = judge_verdicts_frame(con, cid)
    assert len(verdicts) == 12 and set(verdicts.item_id) == {f"item-{i:03d}" for i in range(12)}
    assert verdicts.p_system_b.between(0, 1).all()  # every verdict carries a probability
    assert judgments_frame(con, cid).empty  # kept apart: no human judgment appeared
    assert (run_folder / "judges" / "tiny-judge" / "summary.json").is_file()  # beside the run's outputs
    # its progress in words, read from the real judge's log as the Campaigns page and Home read it
    assert progress.job_progress(ended) == progress.JobProgress(1.0, "pairs judged (both orders): 12/12")
    assert "  6/12 pairs judged" in logs.log_text(ended)  # the count comes often, not once per 50 pairs


def test_a_campaign_made_from_a_file_is_judged_in_a_folder_written_from_it(
    con, tmp_path, tiny_model, cpu_machine
):
    rows = [
        {"item_id": f"q{i}", "system": system, "output": f"{system} says {i}", "source": f"text {i}"}
        for i in range(3)
        for system in ("gpt", "mine")
    ]
    rows.append({"item_id": "q9", "system": "gpt", "output": "alone", "source": "x"})  # no pair: not judged
    pd.DataFrame(rows).to_csv(tmp_path / "outputs.csv", index=False)
    cid = create_campaign(
        con,
        CampaignConfig(
            name="csv", source_file=str(tmp_path / "outputs.csv"), system_a="gpt", system_b="mine"
        ),
    )
    job = judging.start(con, cid, tmp_path / "runs", local_judge(tiny_model))
    assert job.run_dir == str(judging.judge_folder(tmp_path / "runs", cid))
    ended = wait_for(con, job.job_id, timeout=300, poll=0.5)
    assert ended.status == "finished", f"{ended.error}\n{open(ended.log_path).read()}"
    verdicts = judge_verdicts_frame(con, cid)
    assert sorted(verdicts.item_id) == ["q0", "q1", "q2"]
    # stored under the campaign's own system names, not the folder's a/b
    stored = store.read(con).execute("SELECT DISTINCT system_a, system_b FROM judge_verdicts").fetchall()
    assert stored == [("gpt", "mine")]
    assert set(verdicts.winner.dropna()) <= {"gpt", "mine", "tie"}


def test_a_failing_judge_leaves_the_store_untouched_and_says_why_in_one_line(
    con, tmp_path, run_folder, cpu_machine
):
    cid = create_campaign(con, CampaignConfig(name="run", run_dir=str(run_folder)))
    write_judge(run_folder, "earlier", 12)
    import_judge(con, cid, "earlier")
    before = _store_rows(con)
    job = judging.start(con, cid, tmp_path / "runs", local_judge(tmp_path / "no-such-model"))
    ended = wait_for(con, job.job_id, timeout=300, poll=0.5)
    assert ended.status == "failed" and "\n" not in ended.error
    assert "no-such-model" in ended.error
    assert _store_rows(con) == before
    assert not (run_folder / "judges" / "tiny-judge").exists()


def test_verdicts_that_cannot_be_imported_fail_the_job_with_the_reason(
    con, tmp_path, run_folder, cpu_machine
):
    # fault injected on purpose: the job "judges" by writing nothing, so there is nothing to import
    cid = create_campaign(con, CampaignConfig(name="run", run_dir=str(run_folder)))
    config = tmp_path / "judge.yaml"
    config.write_text(yaml.safe_dump({"name": "silent", "run_dir": str(run_folder)}))
    job = scheduler.launch(
        con,
        judging.KIND,
        ["true", "--config", str(config)],
        log_dir=tmp_path / "logs",
        run_dir=str(run_folder),
        needs_gpu=False,
        env={judging.CAMPAIGN_ENV: cid},
    )
    ended = wait_for(con, job.job_id, timeout=300, poll=0.5)
    assert ended.status == "failed" and "could not be imported" in ended.error and "silent" in ended.error
    assert judge_runs(con, cid).empty
