"""The scheduler with real processes (tiny `python -c` jobs) and a real DuckDB file: one job per slot, GPUs
handed out and waited for, pipelines, why a job failed, cancelling; and what a multi-GPU job's command line
becomes when it starts (a fake `accelerate launch` stands in for the real one on this CPU machine)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest
from helpers.fake_jobs import cpu, fake_accelerate, launched_args, py, wait_for, wait_for_line

from ft_core import runfolder
from jobs import commands, logs, processes, queue, scheduler
from jobs.errors import JobError


def test_a_failing_job_says_why(con, log_dir):
    code = (
        "import sys; print('working'); print('error: column summary not found', file=sys.stderr); sys.exit(1)"
    )
    job = scheduler.launch(con, "fake", py(code), log_dir=log_dir)
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "failed" and done.exit_code == 1
    assert done.error == "column summary not found"
    assert "working" in logs.log_tail(done)


def test_one_cpu_job_at_a_time_then_the_queue_moves(con, log_dir):
    first = queue.submit(con, "fake", py("import time; time.sleep(1)"), log_dir=log_dir)
    second = queue.submit(con, "fake", py("print(2)"), log_dir=log_dir)
    scheduler.reconcile(con, **cpu())
    assert queue.get_job(con, first.job_id).status == "running"
    assert queue.get_job(con, second.job_id).status == "queued"
    wait_for(con, first.job_id, **cpu())
    assert wait_for(con, second.job_id, **cpu()).status == "finished"
    assert queue.get_job(con, second.job_id).started_at >= queue.get_job(con, first.job_id).finished_at


def test_gpu_jobs_queue_when_the_gpu_is_busy_and_get_their_gpu(con, log_dir):
    code = "import os, time; print('CUDA', os.environ['CUDA_VISIBLE_DEVICES']); time.sleep(0.6)"
    a = queue.submit(con, "fake", py(code), log_dir=log_dir, needs_gpu=True)
    b = queue.submit(con, "fake", py(code), log_dir=log_dir, needs_gpu=True)
    c = queue.submit(con, "fake", py(code), log_dir=log_dir, needs_gpu=True)
    scheduler.reconcile(con, gpus=["0", "1"])
    states = [queue.get_job(con, j.job_id) for j in (a, b, c)]
    assert [s.status for s in states] == ["running", "running", "queued"]
    assert {states[0].gpus, states[1].gpus} == {"0", "1"}
    for job in (a, b, c):
        assert wait_for(con, job.job_id, gpus=["0", "1"]).status == "finished"
    assert "CUDA 0" in logs.log_tail(queue.get_job(con, a.job_id)) or "CUDA 1" in logs.log_tail(
        queue.get_job(con, a.job_id)
    )
    # a multi-GPU job takes the GPUs it asked for
    wide = queue.submit(con, "fake", py(code), log_dir=log_dir, needs_gpu=True, n_gpus=2)
    scheduler.reconcile(con, gpus=["0", "1"])
    assert queue.get_job(con, wide.job_id).gpus == "0,1"
    assert "CUDA 0,1" in logs.log_tail(wait_for(con, wide.job_id, gpus=["0", "1"]))


def test_a_multi_gpu_job_on_a_smaller_machine_runs_one_process_per_gpu_it_got(con, log_dir, tmp_path):
    """Asked for 4 GPUs on a 2-GPU machine: the command that runs says --num_processes 2 (ranks 2 and 3 would
    ask for devices that do not exist), and the log says why."""
    env = fake_accelerate(tmp_path / "fake")
    job = queue.submit(
        con, "train", commands.train_command("c.yaml", n_gpus=4), log_dir=log_dir, n_gpus=4, env=env
    )
    scheduler.reconcile(con, gpus=["0", "1"])
    started = queue.get_job(con, job.job_id)
    assert started.gpus == "0,1"
    args = launched_args(started)  # what the process really got
    assert args[args.index("--num_processes") + 1] == "2"
    assert args[-4:] == ["ft_core", "train", "--config", "c.yaml"]
    assert started.command[started.command.index("--num_processes") + 1] == "2"  # and what the table says ran
    assert "asked for 4 GPUs; this machine gives 2" in logs.log_tail(started)
    assert wait_for(con, job.job_id, gpus=["0", "1"]).status == "finished"


def test_a_multi_gpu_job_on_a_machine_without_gpus_runs_ft_core_in_one_process(con, log_dir, tmp_path):
    job = queue.submit(
        con, "train", commands.train_command("missing.yaml", n_gpus=2), log_dir=log_dir, n_gpus=2
    )
    done = wait_for(con, job.job_id, timeout=120, **cpu())
    assert done.command == [sys.executable, "-m", "ft_core", "train", "--config", "missing.yaml"]
    assert logs.log_tail(done).splitlines()[0] == "$ python -m ft_core train --config missing.yaml"
    assert done.status == "failed" and done.error == "config file not found: missing.yaml"  # ft_core ran


def test_two_multi_gpu_jobs_at_once_get_ports_of_their_own(con, log_dir, tmp_path):
    """Both start in one pass, before either has bound its port: each gets its own --main_process_port (on
    accelerate's default 29500 the second would fail to bind)."""
    env = {**fake_accelerate(tmp_path / "fake"), "FAKE_LAUNCH_HOLD_S": "3"}
    submitted = [
        queue.submit(con, "train", commands.train_command(f"{n}.yaml", 2), log_dir=log_dir, n_gpus=2, env=env)
        for n in ("a", "b")
    ]
    scheduler.reconcile(con, gpus=["0", "1", "2", "3"])
    started = [queue.get_job(con, j.job_id) for j in submitted]
    assert [j.status for j in started] == ["running", "running"]
    assert {started[0].gpus, started[1].gpus} == {"0,1", "2,3"}
    ports = []
    for job in started:
        args = launched_args(job)
        ports.append(int(args[args.index("--main_process_port") + 1]))
        assert (
            commands.main_process_port(job.command) == ports[-1]
        )  # the table knows it: not handed out again
    assert ports[0] != ports[1]
    assert [wait_for(con, j.job_id, gpus=["0", "1", "2", "3"]).status for j in started] == ["finished"] * 2


def test_a_pipeline_waits_for_its_first_step_and_stops_when_it_fails(con, log_dir, tmp_path):
    run_dir = tmp_path / "runs" / "p"
    first = queue.submit(
        con, "generate", py("import time; time.sleep(0.5)"), log_dir=log_dir, run_dir=run_dir, pipeline="p1"
    )
    second = queue.submit(
        con,
        "score",
        py("print('scored')"),
        log_dir=log_dir,
        run_dir=run_dir,
        pipeline="p1",
        depends_on=first.job_id,
    )
    scheduler.reconcile(con, **cpu(max_cpu_jobs=2))
    assert queue.get_job(con, second.job_id).status == "queued"  # a free slot, but it waits for generate
    assert wait_for(con, second.job_id, **cpu()).status == "finished"

    bad = queue.submit(
        con, "generate", py("raise SystemExit(2)"), log_dir=log_dir, run_dir=run_dir, pipeline="p2"
    )
    after = queue.submit(
        con, "score", py("pass"), log_dir=log_dir, run_dir=run_dir, pipeline="p2", depends_on=bad.job_id
    )
    done = wait_for(con, after.job_id, ("finished", "failed", "cancelled", "skipped"), **cpu())
    # it never ran: skipped with the reason, not counted as a failure of its own
    assert done.status == "skipped" and "before it in its chain" in done.error and "failed" in done.error
    assert done.pid is None


def test_a_cancel_plan_names_the_chain_and_what_will_be_skipped(con, log_dir, busy_cpu):
    first = queue.submit(con, "train", py("pass"), log_dir=log_dir, label="a: train", pipeline="q")
    second = queue.submit(
        con,
        "generate",
        py("pass"),
        log_dir=log_dir,
        label="b: generate",
        pipeline="q",
        depends_on=first.job_id,
    )
    alone = queue.submit(con, "score", py("pass"), log_dir=log_dir, label="alone")
    plan = scheduler.cancel_plan(con, second.job_id)
    assert [j.job_id for j in plan.chain] == [first.job_id, second.job_id] and plan.skipped == []
    assert "step 2 of 2 of its chain: 'a: train' (queued) -> 'b: generate' (queued)" in plan.question()
    plan = scheduler.cancel_plan(con, first.job_id)
    assert [j.job_id for j in plan.skipped] == [second.job_id]
    assert plan.question().endswith("The job after it ('b: generate') will then be skipped.")
    assert scheduler.cancel_plan(con, alone.job_id).question() == "Cancel 'alone' (queued)?"
    # chains without a pipeline name are followed through depends_on
    loose = queue.submit(con, "score", py("pass"), log_dir=log_dir, label="loose", depends_on=alone.job_id)
    assert [j.job_id for j in queue.chain(con, queue.get_job(con, loose.job_id))] == [
        alone.job_id,
        loose.job_id,
    ]


def test_out_of_memory_says_what_to_lower(con, log_dir, tmp_path):
    # what ft_core.train does on a CUDA OOM: status.json failed with the advice, `error: ...` and exit code 1
    advice = (
        "out of GPU memory at batch_size=64, max_source_length=2048: lower batch_size (raise "
        "gradient_accumulation_steps to keep the effective batch), set gradient_checkpointing=true, or lower "
        "max_source_length"
    )
    run_dir = tmp_path / "runs" / "oom"
    code = (
        "import json, pathlib, sys; run = pathlib.Path(sys.argv[1]); run.mkdir(parents=True); "
        "(run / 'status.json').write_text(json.dumps({'state': 'failed', 'error': sys.argv[2]})); "
        "print('error: ' + sys.argv[2], file=sys.stderr); sys.exit(1)"
    )
    job = scheduler.launch(con, "train", [*py(code), str(run_dir), advice], log_dir=log_dir, run_dir=run_dir)
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "failed" and done.error == advice


def test_a_failed_sanity_overfit_names_the_failure(con, log_dir):
    code = (
        "print('sanity overfit: final train loss 1.2000 -> FAILED (loss not near zero)'); raise SystemExit(3)"
    )
    done = wait_for(con, scheduler.launch(con, "train", py(code), log_dir=log_dir).job_id, **cpu())
    assert done.status == "failed" and done.error.startswith(
        "sanity overfit: final train loss 1.2000 -> FAILED"
    )


# --------------------------------------------------------------------------------------------- cancelling
def test_cancel_stops_a_running_job_within_10_s(con, log_dir):
    job = scheduler.launch(
        con, "fake", py("import time; print('up', flush=True); time.sleep(60)"), log_dir=log_dir
    )
    scheduler.reconcile(con, **cpu())
    t0 = time.monotonic()
    done = scheduler.cancel(con, job.job_id)
    assert time.monotonic() - t0 < 10
    assert done.status == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.killpg(done.pid, 0)


@pytest.mark.slow
def test_cancel_kills_a_job_that_ignores_sigterm(con, log_dir):
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    job = scheduler.launch(
        con, "fake", ["/bin/sh", "-c", 'trap "" TERM; exec "$@"', "sh", *py(code)], log_dir=log_dir
    )
    wait_for_line(job, "ready")
    t0 = time.monotonic()
    done = scheduler.cancel(con, job.job_id)
    elapsed = time.monotonic() - t0
    assert done.status == "cancelled"
    assert processes.CANCEL_GRACE_S - 0.5 <= elapsed < 10


def test_cancel_a_queued_job_and_refuse_a_finished_one(con, log_dir):
    blocker = scheduler.launch(con, "fake", py("import time; time.sleep(1)"), log_dir=log_dir)
    queued = scheduler.launch(con, "fake", py("print(1)"), log_dir=log_dir)
    assert queue.get_job(con, queued.job_id).status == "queued"
    assert scheduler.cancel(con, queued.job_id).status == "cancelled"
    wait_for(con, blocker.job_id, **cpu())
    with pytest.raises(JobError, match="finished already"):
        scheduler.cancel(con, blocker.job_id)


# rank 0's SIGTERM handler, as ft_core's (`runfolder.ending`): a cancel when the app left its marker, else a
# teardown
RANK_ZERO = """
import pathlib, signal, sys, time
run, MARKER = pathlib.Path(sys.argv[1]), sys.argv[2]
def on_term(signum, frame):
    marked = (run / MARKER).exists()
    (run / "seen.txt").write_text("cancelled" if marked else "torn down")
    sys.exit(143)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
time.sleep(60)
"""


def test_a_cancel_from_the_app_is_marked_in_the_run_folder_before_sigterm(
    con, log_dir, tmp_path, monkeypatch
):
    """So that ft_core records a real cancel as "cancelled", and a SIGTERM from torchrun after another rank
    died (no marker) as "failed": the marker is `runfolder.request_cancel`'s, the one `runfolder.ending`
    reads."""
    monkeypatch.setenv("FT_CPU_JOBS", "2")  # both jobs at once
    marker = runfolder.CANCEL_REQUEST
    folders = []
    for name in ("cancelled", "torn-down"):
        folders.append(tmp_path / "runs" / name)
        folders[-1].mkdir(parents=True)
    cancelled, torn_down = (
        scheduler.launch(con, "train", [*py(RANK_ZERO), str(f), marker], log_dir=log_dir, run_dir=f)
        for f in folders
    )
    for job in (cancelled, torn_down):
        wait_for_line(job, "ready")
    assert scheduler.cancel(con, cancelled.job_id).status == "cancelled"
    assert (folders[0] / "seen.txt").read_text() == "cancelled"
    os.killpg(queue.get_job(con, torn_down.job_id).pid, signal.SIGTERM)  # as torchrun tears the ranks down
    assert wait_for(con, torn_down.job_id, **cpu(max_cpu_jobs=2)).status == "failed"
    assert (folders[1] / "seen.txt").read_text() == "torn down"
    assert not (folders[1] / marker).exists()
