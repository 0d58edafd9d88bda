"""Train page with AppTest: the form covers every TrainConfig field, validates with the CLI's own errors,
presets fill it, and a real CPU training job on a tiny model is launched through it."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from login_as import login_as

from annotations import runs
from ft_core.config import TrainConfig
from jobs import logs, queue, scheduler
from pages.plain_text import escape_markdown

APP = Path(__file__).resolve().parents[2]


def page(name: str):
    """An AppTest of pages/<name>.py (the fixtures app_env/researcher come from tests/app/conftest.py)."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(APP / "pages" / f"{name}.py"), default_timeout=60)


def _as(user):
    at = page("train")
    login_as(at, user)
    return at.run()


def test_the_form_has_every_field_of_the_training_config(app_env, researcher):
    at = _as(researcher)
    assert not at.exception
    keys = {w.key for w in at.text_input} | {w.key for w in at.number_input} | {w.key for w in at.checkbox}
    keys |= {w.key for w in at.selectbox} | {w.key for w in at.text_area}
    assert {f"cfg_{f.name}" for f in dataclasses.fields(TrainConfig)} <= keys
    assert [t.label for t in at.tabs] == ["Data", "Model", "Lora", "Optimization", "Validation", "Hardware"]
    assert "valid" in at.success[0].value
    assert re.search(r"python -m ft_core train --config run-\d{8}-\d{4}\.yaml", at.code[0].value)


def test_a_bad_value_gives_the_error_the_cli_gives(app_env, researcher, tmp_path):
    at = _as(researcher)
    at.text_input(key="cfg_learning_rate").input("fast").run()
    shown = at.error[0].value
    cli = subprocess.run(
        [sys.executable, "-m", "ft_core", "train", "--set", "learning_rate=fast", "--check"],
        capture_output=True,
        text=True,
        cwd=APP,
        timeout=120,
    )
    cli_error = cli.stderr.strip().splitlines()[-1]
    assert cli.returncode != 0 and cli_error.startswith("error: ")
    assert shown == escape_markdown(cli_error.removeprefix("error: "))  # the same words, shown as text
    assert at.button(key="launch").disabled
    at.text_input(key="cfg_learning_rate").input("1e-4").run()
    at.number_input(key="cfg_lora_r").set_value(0).run()
    assert at.error[0].value == escape_markdown("lora_r must be positive, got 0")


def test_presets_fill_the_form(app_env, researcher):
    at = _as(researcher)
    at.selectbox(key="preset").set_value("Sanity overfit (32 examples, loss must reach ~0)").run()
    assert at.checkbox(key="cfg_sanity_overfit").value is True
    assert at.text_input(key="cfg_max_train_examples").value == "32"
    at.selectbox(key="preset").set_value("3-5 epochs with validation and early stopping").run()
    assert at.checkbox(key="cfg_sanity_overfit").value is False
    assert at.number_input(key="cfg_early_stopping_patience").value == 2
    at.selectbox(key="preset").set_value("lr x r sweep over {3e-5, 1e-4, 3e-4} x {8, 16, 32}").run()
    assert at.text_input(key="sweep_lrs").value == "3e-5, 1e-4, 3e-4"
    assert re.search(
        r"sweep train --config run-[\d-]+\.yaml --lr 3e-05,0.0001,0.0003 --r 8,16,32", at.code[0].value
    )


@pytest.mark.slow
def test_a_real_cpu_training_job_through_the_page(app_env, researcher, tmp_path, tiny_causal_dir, tiny_jsonl):
    at = _as(researcher)
    run_dir = tmp_path / "runs" / "tiny"
    fill = {
        "cfg_base_model": str(tiny_causal_dir),
        "cfg_train_file": str(tiny_jsonl / "train.jsonl"),
        "cfg_validation_file": str(tiny_jsonl / "dev.jsonl"),
        "cfg_test_file": str(tiny_jsonl / "test.jsonl"),
        "cfg_run_dir": str(run_dir),
        "cfg_max_source_length": 16,
    }
    for key, value in fill.items():
        widget = at.number_input(key=key) if isinstance(value, int) else at.text_input(key=key)
        widget.set_value(value)
    at.number_input(key="cfg_max_steps").set_value(3)
    at.number_input(key="cfg_batch_size").set_value(4)
    at.number_input(key="cfg_eval_every_steps").set_value(2)
    at.number_input(key="cfg_log_every_steps").set_value(1)
    at.run()
    assert not at.error, at.error[0].value

    at.button(key="check").click().run(timeout=180)
    assert not at.error, at.error[0].value
    labels = {m.label: m.value for m in at.metric}
    assert labels["Training examples"] == "16" and labels["Validation examples"] == "4"
    assert labels["Sources truncated"] == "100.0%"  # every tiny source is longer than 16 tokens

    at.button(key="launch").click().run()
    assert not at.exception and "started" in at.success[-1].value
    at.button(key="launch").click().run()  # a second launch of the same run folder while it runs
    assert "already has a queued or running job" in at.error[0].value

    (job,) = queue.list_jobs(app_env)
    deadline = time.monotonic() + 240
    while job.status in queue.ACTIVE and time.monotonic() < deadline:
        time.sleep(0.5)
        scheduler.reconcile(app_env)
        job = queue.get_job(app_env, job.job_id)
    assert job.status == "finished", logs.log_tail(job)
    status = runs.read_status(run_dir)
    assert status["state"] == "finished" and status["step"] == 3
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    assert runs.read_log(run_dir).loss.notna().sum() == 3


def test_several_gpus_launch_through_accelerate(app_env, researcher, monkeypatch):
    monkeypatch.setenv(
        "FT_JOB_GPUS", "0,1"
    )  # what detect_gpus reads before CUDA_VISIBLE_DEVICES / nvidia-smi
    at = _as(researcher)
    assert at.number_input(key="n_gpus").value == 2
    assert "accelerate launch --multi_gpu --num_processes 2 -m ft_core train --config" in at.code[0].value
    assert "#SBATCH --gres=gpu:2" in at.code[2].value
    at.number_input(key="n_gpus").set_value(1).run()
    assert at.code[0].value.startswith("python -m ft_core train --config")
