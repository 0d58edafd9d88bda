# ruff: noqa: E501  (JavaScript or code run in a subprocess, embedded in strings: kept as written)
"""Jobs page with AppTest and fake quick jobs (tiny `python -c` processes writing a run folder): every state
is shown, a running job shows its progress and curves, cancel works, a failed job shows its error and log."""

from __future__ import annotations

import json
import sys
import time

from helpers.fake_jobs import wait_for
from helpers.login_as import open_as

from jobs import queue, scheduler
from pages.plain_text import escape_markdown

FAKE_TRAIN = """
import json, pathlib, sys, time
run = pathlib.Path(sys.argv[1]); run.mkdir(parents=True, exist_ok=True)
log = open(run / 'train_log.jsonl', 'a')
for step in range(1, 4):
    row = {'step': step, 'loss': 3.0 / step, 'tokens_per_s': 500.0, 'gpu_mem_gb': 11.5}
    log.write(json.dumps(row) + '\\n'); log.flush()
(run / 'train_log.jsonl').open('a').write(json.dumps({'step': 3, 'eval_loss': 1.5}) + '\\n')
status = {'state': 'running', 'step': 3, 'total_steps': 10, 'started_at': time.time() - 3}
(run / 'status.json').write_text(json.dumps(status))
print('step 3/10', flush=True)
time.sleep(60)
"""


def test_no_jobs_yet(app_env, researcher):
    at = open_as("jobs", researcher)
    assert not at.exception and "No job yet" in at.info[0].value


def test_running_job_progress_curves_and_cancel(app_env, researcher, tmp_path):
    run_dir = tmp_path / "runs" / "fake"
    logs = tmp_path / "runs" / ".jobs"
    job = scheduler.launch(
        app_env, "train", [sys.executable, "-c", FAKE_TRAIN, str(run_dir)], log_dir=logs, run_dir=run_dir
    )
    queued = scheduler.launch(
        app_env, "generate", [sys.executable, "-c", "print(1)"], log_dir=logs, label="waiting"
    )
    deadline = time.monotonic() + 20
    while not (run_dir / "status.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    at = open_as("jobs", researcher)
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "train fake" in text and "running" in text and "waiting" in text and "queued" in text
    assert "Waits for a free GPU" in " ".join(c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert (
        metrics["Train loss"] == "1.0000"
        and metrics["Eval loss"] == "1.5000"
        and metrics["Tokens/s"] == "500"
    )
    bar = at.get("progress")[0]
    assert bar.value == 30 and "step 3/10" in bar.proto.text and "left" in bar.proto.text
    assert len(at.get("vega_lite_chart")) == 1  # the live curves

    at.button(key=f"cancel_{job.job_id}").click().run()  # asks first, naming the job
    assert queue.get_job(app_env, job.job_id).status == "running"
    assert any(escape_markdown("Cancel 'train fake' (running)?") in w.value for w in at.warning)
    at.button(key=f"keep_{job.job_id}").click().run()  # "No, keep it": nothing happens
    assert queue.get_job(app_env, job.job_id).status == "running"
    assert not any("Cancel" in w.value for w in at.warning), [w.value for w in at.warning]
    at.button(key=f"cancel_{job.job_id}").click().run()
    t0 = time.monotonic()
    at.button(key=f"confirm_{job.job_id}").click().run()
    assert time.monotonic() - t0 < 10
    assert queue.get_job(app_env, job.job_id).status == "cancelled"
    assert json.loads((run_dir / "status.json").read_text())["state"] == "cancelled"
    # the queued job starts once the slot is free
    assert wait_for(app_env, queued.job_id, ("finished",)).status == "finished"


def test_failed_job_shows_its_error_and_log_and_survives_a_reload(app_env, researcher, tmp_path):
    logs = tmp_path / "runs" / ".jobs"
    code = (
        "import sys; print('loading data'); print('error: data file not found: x.jsonl', file=sys.stderr); "
        "sys.exit(1)"
    )
    job = scheduler.launch(
        app_env, "train", [sys.executable, "-c", code], log_dir=logs, run_dir=tmp_path / "runs" / "x"
    )
    wait_for(app_env, job.job_id, ("failed",))
    at = open_as("jobs", researcher)
    at.selectbox(key="job_detail").set_value(job.job_id).run()
    assert at.error[0].value == escape_markdown("data file not found: x.jsonl")  # shown verbatim
    assert "loading data" in at.code[0].value
    # a new browser session (reload) sees the same job
    again = open_as("jobs", researcher)
    assert job.job_id in again.dataframe[0].value.job_id.tolist()


def test_home_starts_the_demo_and_shows_each_step(app_env, researcher, tmp_path):
    at = open_as("home", researcher)
    assert not at.exception
    at.button(key="demo_start").click().run()
    assert not at.exception
    bars = [b.proto.text for b in at.get("progress")]
    assert len(bars) == 5 and "Train a small LoRA" in bars[0] and "Demo campaign" in bars[3]
    assert "Judge the pairs with the embedded LLM judge" in bars[4] and "after the campaign" in bars[4]
    started = queue.list_jobs(app_env)
    assert sorted(j.kind for j in started) == ["generate", "score", "train"]
    for job in started:  # not the real demo here: tests/jobs/test_demo.py runs it on a tiny model
        if queue.get_job(app_env, job.job_id).active:
            scheduler.cancel(app_env, job.job_id)
    at.run()
    assert not at.error  # cancelled and skipped steps are no failure
    assert "cancelled" in at.warning[0].value and at.button(key="demo_start")  # it can be started again


FAKE_SWEEP = """
import json, pathlib, sys, time
root = pathlib.Path(sys.argv[1])
for name, state in (('lr0.0001_r8', 'finished'), ('lr0.0001_r16', 'running')):
    (root / name).mkdir(parents=True, exist_ok=True)
    status = {'state': state, 'step': 2, 'total_steps': 4, 'started_at': time.time() - 2, 'best_eval_loss': 1.0}
    (root / name / 'status.json').write_text(json.dumps(status))
print('swept', flush=True)
time.sleep(60)
"""


def test_a_running_sweep_shows_its_grid_progress(app_env, researcher, tmp_path):
    root = tmp_path / "runs" / "grid"
    command = [sys.executable, "-c", FAKE_SWEEP, str(root), "--lr", "1e-4,3e-4", "--r", "8,16"]
    job = scheduler.launch(
        app_env, "sweep", command, log_dir=tmp_path / "logs", run_dir=root, label="sweep grid"
    )
    deadline = time.monotonic() + 20
    while not (root / "lr0.0001_r16" / "status.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    at = open_as("jobs", researcher)
    assert not at.exception
    bar = at.get("progress")[0]
    assert bar.value == 25 and bar.proto.text.startswith(
        escape_markdown("1/4 runs finished; lr0.0001_r16: step 2/4")
    )
    scheduler.cancel(app_env, job.job_id)


def test_a_run_trained_from_a_terminal_is_shown(app_env, researcher, tmp_path):
    import os

    run = tmp_path / "runs" / "from-terminal"
    run.mkdir(parents=True)
    status = {
        "state": "running",
        "step": 5,
        "total_steps": 10,
        "started_at": time.time() - 5,
        "pid": os.getpid(),
    }
    (run / "status.json").write_text(json.dumps(status))
    at = open_as("jobs", researcher)
    assert not at.exception
    assert any(
        escape_markdown("from-terminal") in m.value and "outside the app" in m.value for m in at.markdown
    )
    assert at.get("progress")[0].value == 50


def test_cancel_names_the_chain_and_the_jobs_after_it_are_skipped_not_failed(app_env, researcher, tmp_path):
    logs = tmp_path / "runs" / ".jobs"
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    first = scheduler.launch(app_env, "train", sleep, log_dir=logs, label="chain 1/3: train", pipeline="p")
    second = scheduler.launch(
        app_env,
        "generate",
        sleep,
        log_dir=logs,
        label="chain 2/3: generate",
        pipeline="p",
        depends_on=first.job_id,
    )
    third = scheduler.launch(
        app_env,
        "score",
        sleep,
        log_dir=logs,
        label="chain 3/3: score",
        pipeline="p",
        depends_on=second.job_id,
    )
    at = open_as("jobs", researcher)
    captions = " ".join(c.value for c in at.caption)
    assert escape_markdown("Waits for 'chain 1/3: train', the job before it in its chain") in captions
    at.button(key=f"cancel_{first.job_id}").click().run()
    question = at.warning[0].value
    assert (
        escape_markdown(
            "Cancel 'chain 1/3: train' (running)? It is step 1 of 3 of its chain: 'chain 1/3: train' "
            "(running) -> 'chain 2/3: generate' (queued) -> 'chain 3/3: score' (queued). The 2 jobs after it "
            "('chain 2/3: generate', 'chain 3/3: score') will then be skipped."
        )
        == question
    )
    at.button(key=f"confirm_{first.job_id}").click().run()
    for job in (second, third):
        done = wait_for(app_env, job.job_id, ("skipped", "failed"))
        assert done.status == "skipped" and done.pid is None
    assert "chain 1/3: train', was cancelled" in queue.get_job(app_env, second.job_id).error
    assert "chain 2/3: generate', was skipped" in queue.get_job(app_env, third.job_id).error
    at.run()
    counts = next(c.value for c in at.caption if "finished" in c.value)
    assert "0 failed" in counts and "2 skipped" in counts and "1 cancelled" in counts
    at.selectbox(key="job_detail").set_value(second.job_id).run()
    assert not at.error and "Skipped (it never ran, so it is not counted as failed)" in at.info[0].value


def test_a_curve_with_one_point_lies_inside_its_axes(app_env, researcher, tmp_path):
    run_dir = tmp_path / "runs" / "one"
    code = (
        "import json, pathlib, sys, time; run = pathlib.Path(sys.argv[1]); run.mkdir(parents=True); (run / "
        "'train_log.jsonl').write_text(json.dumps({'step': 1, 'loss': 3.6067, 'time': time.time()}) + "
        "'\\n'); (run / 'status.json').write_text(json.dumps({'state': 'running', 'step': 1, 'total_steps': "
        "8, 'started_at': time.time()})); time.sleep(60)"
    )
    job = scheduler.launch(
        app_env,
        "train",
        [sys.executable, "-c", code, str(run_dir)],
        log_dir=tmp_path / "logs",
        run_dir=run_dir,
    )
    deadline = time.monotonic() + 20
    while not (run_dir / "status.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    at = open_as("jobs", researcher)
    (chart,) = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    x, y = spec["encoding"]["x"], spec["encoding"]["y"]
    assert (
        x["scale"]["domain"] == [0, 2] and x["axis"]["format"] == "d"
    )  # whole steps, the point in the middle
    low, high = y["scale"]["domain"]
    assert low < 3.6067 < high and y["scale"]["nice"] is False
    assert "estimating the time left" in at.get("progress")[0].proto.text  # one logged step: no guess yet
    scheduler.cancel(app_env, job.job_id)
