"""The Train page's preference-tuning section with AppTest: it lists the runs with an adapter, shows the
DPOTrainConfig fields with their own labels, refuses a missing export or a bad value with the config's words,
and Launch queues `python -m ft_core dpo --config FILE` whose file reads back as the page's config. (A job
holding the one CPU slot keeps it queued: nothing trains.)"""

from __future__ import annotations

import sys
from pathlib import Path

from helpers.login_as import login_as

from ft_core import runfolder
from ft_core.config import DPOTrainConfig, TrainConfig, field_specs, load_config
from jobs import queue, scheduler
from jobs.logs import job_files_dir

APP = Path(__file__).resolve().parents[2]


def _page(user):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP / "pages" / "train.py"), default_timeout=60)
    login_as(at, user)
    return at.run()


def _sft_run(runs: Path) -> Path:
    run_dir = runs / "sft-a"
    runfolder.create(run_dir, TrainConfig(run_dir=str(run_dir)), {})
    (runfolder.adapter_dir(run_dir)).mkdir()
    (runfolder.adapter_dir(run_dir) / "adapter_config.json").write_text("{}")
    return run_dir


def test_preference_tuning_is_launched_from_the_train_page(app_env, researcher, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("FT_CPU_JOBS", "1")
    monkeypatch.setenv("FT_JOB_GPUS", "")
    scheduler.launch(
        app_env, "fake", [sys.executable, "-c", "import time; time.sleep(60)"], log_dir=job_files_dir(runs)
    )
    try:
        sft = _sft_run(runs)
        export = tmp_path / "prefs"
        export.mkdir()
        at = _page(researcher)
        assert not at.exception and not at.error
        assert at.selectbox(key="dpo_sft_run").options == ["sft-a"]  # run-1 has no adapter
        for spec in field_specs(DPOTrainConfig):
            if spec.name not in ("sft_run", "preferences", "run_dir"):
                assert getattr(at, _kind(spec))(key=f"dpo_{spec.name}").label == spec.label
        at.text_input(key="dpo_preferences").input(str(export)).run()
        assert any("no preferences export at" in e.value for e in at.error)
        assert at.button(key="dpo_launch").disabled
        (export / "preferences.jsonl").write_text("")
        at.text_input(key="dpo_beta").input("0").run()
        assert len(at.error) == 1 and "beta must be positive" in at.error[0].value
        at.text_input(key="dpo_beta").input("0.2").run()
        assert not at.error and not at.button(key="dpo_launch").disabled
        at.button(key="dpo_launch").click().run()
        assert "Job 'dpo sft\\-a\\-dpo' queued" in at.success[-1].value  # escaped markdown
        (job,) = [j for j in queue.list_jobs(app_env) if j.label == "dpo sft-a-dpo"]
        assert job.command[-4:-1] == ["ft_core", "dpo", "--config"]
        config = load_config(DPOTrainConfig, job.command[-1])
        assert (config.sft_run, config.preferences, config.beta) == (str(sft), str(export), 0.2)
        assert config.run_dir == str(runs / "sft-a-dpo")
    finally:
        for job in queue.list_jobs(app_env, queue.ACTIVE):
            scheduler.cancel(app_env, job.job_id)


def _kind(spec) -> str:
    if spec.choices:
        return "selectbox"
    if spec.annotation is bool:
        return "checkbox"
    if spec.annotation is int:
        return "number_input"
    return "text_input"
