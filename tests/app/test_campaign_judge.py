"""The Campaigns page's "Add a judge" (issue 21, section 2) with AppTest: a researcher launches a judge as a
job (the embedded one by default) and follows it until the page says its card is on Results; an annotator
never sees the section; endpoint fields that cannot work give a one-line error and queue nothing."""

from __future__ import annotations

import sys

import pytest
import yaml
from helpers.fake_jobs import wait_for
from helpers.judge_verdicts import write_judge
from helpers.login_as import login_as

from annotations.campaigns import judge_folder, judge_runs
from jobs import judging, queue, scheduler


@pytest.fixture(autouse=True)
def connected(monkeypatch):
    """What streamlit_app.main does first, for a test that opens one page file without it."""
    monkeypatch.setattr(judging, "_STEPS", {})
    judging.connect(judge_folder.prepare_judging, judge_folder.store_judging)


@pytest.fixture
def busy_cpu(app_env, tmp_path, monkeypatch):
    """A CPU-only machine with its one slot taken: a judge the page queues stays queued (no model runs)."""
    monkeypatch.setenv("FT_CPU_JOBS", "1")
    monkeypatch.setenv("FT_JOB_GPUS", "")
    blocker = scheduler.launch(
        app_env, "fake", [sys.executable, "-c", "import time; time.sleep(60)"], log_dir=tmp_path / "logs"
    )
    yield
    for job in queue.list_jobs(app_env, queue.ACTIVE):
        scheduler.cancel(app_env, job.job_id)
    assert blocker


def texts(at) -> str:
    """Everything the page says in words, Markdown escapes dropped."""
    kinds = ("success", "info", "error", "subheader", "caption")
    return "\n".join(e.value for kind in kinds for e in getattr(at, kind)).replace("\\", "")


def test_a_researcher_launches_the_embedded_judge_and_follows_it(
    open_page, app_env, researcher, campaign, busy_cpu, tmp_path
):
    at = login_as(open_page("campaigns"), researcher).run()
    assert not at.exception, at.exception
    assert "LLM judge" in [h.value for h in at.subheader]
    assert at.radio(key=f"judge_kind:{campaign}").value == "embedded"  # the default
    at.button(key=f"judge_start:{campaign}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (job,) = judging.campaign_jobs(app_env, campaign)
    config = yaml.safe_load(open(job.command[-1]).read())
    assert (config["backend"], config["model"], config["name"]) == (
        "local",
        "smollm2-135m",
        "local-smollm2-135m",
    )
    assert config["run_dir"] == str(tmp_path / "runs" / "run-1") and job.status == "queued"
    assert "Judge local-smollm2-135m queued" in texts(at)
    assert "waiting for a free slot" in texts(at)


def test_a_finished_judge_says_its_card_is_on_results(open_page, app_env, researcher, campaign, tmp_path):
    # a stand-in judge (no model): it writes verdicts as ft_core judge would; the finishing step imports them
    run = tmp_path / "runs" / "run-1"
    write_judge(run, "stand-in", 6)
    config = tmp_path / "judge.yaml"
    config.write_text(yaml.safe_dump({"name": "stand-in", "run_dir": str(run)}))
    job = scheduler.launch(
        app_env,
        judging.KIND,
        [sys.executable, "-c", "pass", "--config", str(config)],
        log_dir=tmp_path / "logs",
        run_dir=str(run),
        needs_gpu=False,
        env={judging.CAMPAIGN_ENV: campaign},
    )
    assert wait_for(app_env, job.job_id, gpus=[], max_cpu_jobs=1).status == "finished"
    assert list(judge_runs(app_env, campaign).judge) == ["stand-in"]
    at = login_as(open_page("campaigns"), researcher).run()
    assert not at.exception
    assert "Judge stand-in is done and its verdicts are in: the Results page has its card" in texts(at)


def test_an_annotator_never_sees_the_section(open_page, app_env, annotator, campaign):
    at = login_as(open_page("campaigns"), annotator).run()
    assert "LLM judge" not in texts(at) and "Add a judge" not in [e.label for e in at.expander]
    assert not [b for b in at.button if b.key and b.key.startswith("judge_")]
    annotate = login_as(open_page("annotate"), annotator).run()
    assert not annotate.exception
    assert "judge" not in texts(annotate).lower().replace("judgment", "")


@pytest.mark.parametrize(
    ("url", "model_name", "key_env", "says"),
    [
        ("localhost:8000/v1", "m", "", "needs base_url, an http(s) URL"),
        ("http://localhost:8000/v1", "", "", "needs model_name"),
        ("http://localhost:8000/v1", "m", "sk-abc123 secret", "must be the NAME of an environment variable"),
        ("http://localhost:8000/v1", "m", "NO_SUCH_JUDGE_KEY_HERE", "NO_SUCH_JUDGE_KEY_HERE is not set"),
    ],
)
def test_bad_endpoint_fields_give_one_line_and_queue_nothing(
    open_page, app_env, researcher, campaign, url, model_name, key_env, says, tmp_path
):
    at = login_as(open_page("campaigns"), researcher).run()
    at.radio(key=f"judge_kind:{campaign}").set_value("endpoint").run()
    at.text_input(key=f"judge_url:{campaign}").input(url)
    at.text_input(key=f"judge_model_name:{campaign}").input(model_name)
    at.text_input(key=f"judge_key_env:{campaign}").input(key_env)
    at.button(key=f"judge_start:{campaign}").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "\n" not in errors[0] and says in errors[0].replace("\\", ""), errors
    assert queue.list_jobs(app_env) == []
    assert not (tmp_path / "runs" / ".jobs").exists()  # no config file written either
