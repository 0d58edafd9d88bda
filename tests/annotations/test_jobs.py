"""The job queue with real processes (tiny `python -c` jobs), a real DuckDB file, and real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from annotations import db, jobs
from annotations.jobs import JobError


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait_for(con, job_id: str, states=("finished", "failed", "cancelled"), timeout: float = 20.0, **kw):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs.reconcile(con, **kw)
        job = jobs.get_job(con, job_id)
        if job.status in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {jobs.get_job(con, job_id).status} after {timeout} s")


def wait_for_line(job, start: str, timeout: float = 10.0) -> str:
    """The first line the job printed that starts with `start` (the log's `$ command` header excluded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in jobs.log_tail(job).splitlines():
            if line.startswith(start):
                return line
        time.sleep(0.05)
    raise AssertionError(f"the job never printed {start!r}")


@pytest.fixture
def logs(tmp_path) -> Path:
    return tmp_path / "logs"


def cpu(**kw):
    return {"gpus": [], "max_cpu_jobs": 1, **kw}


def test_a_quick_job_runs_detached_and_finishes_with_its_log(con, logs):
    job = jobs.submit(con, "fake", py("print('hello from the job')"), log_dir=logs)
    assert job.status == "queued"
    jobs.reconcile(con, **cpu())
    started = jobs.get_job(con, job.job_id)
    assert started.status in ("running", "finished") and started.pid
    # its own session: the job is not in the app's process group, so closing the app's terminal spares it
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "finished" and done.exit_code == 0 and done.error is None
    assert os.getpgid(os.getpid()) != done.pid
    assert "hello from the job" in jobs.log_tail(done)
    assert done.started_at is not None and done.finished_at >= done.started_at


def test_a_failing_job_says_why(con, logs):
    code = (
        "import sys; print('working'); print('error: column summary not found', file=sys.stderr); sys.exit(1)"
    )
    job = jobs.launch(con, "fake", py(code), log_dir=logs)
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "failed" and done.exit_code == 1
    assert done.error == "column summary not found"
    assert "working" in jobs.log_tail(done)


def test_one_cpu_job_at_a_time_then_the_queue_moves(con, logs):
    first = jobs.submit(con, "fake", py("import time; time.sleep(1)"), log_dir=logs)
    second = jobs.submit(con, "fake", py("print(2)"), log_dir=logs)
    jobs.reconcile(con, **cpu())
    assert jobs.get_job(con, first.job_id).status == "running"
    assert jobs.get_job(con, second.job_id).status == "queued"
    wait_for(con, first.job_id, **cpu())
    assert wait_for(con, second.job_id, **cpu()).status == "finished"
    assert jobs.get_job(con, second.job_id).started_at >= jobs.get_job(con, first.job_id).finished_at


def test_gpu_jobs_queue_when_the_gpu_is_busy_and_get_their_gpu(con, logs):
    code = "import os, time; print('CUDA', os.environ['CUDA_VISIBLE_DEVICES']); time.sleep(0.6)"
    a = jobs.submit(con, "fake", py(code), log_dir=logs, needs_gpu=True)
    b = jobs.submit(con, "fake", py(code), log_dir=logs, needs_gpu=True)
    c = jobs.submit(con, "fake", py(code), log_dir=logs, needs_gpu=True)
    jobs.reconcile(con, gpus=["0", "1"])
    states = [jobs.get_job(con, j.job_id) for j in (a, b, c)]
    assert [s.status for s in states] == ["running", "running", "queued"]
    assert {states[0].gpus, states[1].gpus} == {"0", "1"}
    for job in (a, b, c):
        assert wait_for(con, job.job_id, gpus=["0", "1"]).status == "finished"
    assert "CUDA 0" in jobs.log_tail(jobs.get_job(con, a.job_id)) or "CUDA 1" in jobs.log_tail(
        jobs.get_job(con, a.job_id)
    )
    # a multi-GPU job takes the GPUs it asked for
    wide = jobs.submit(con, "fake", py(code), log_dir=logs, needs_gpu=True, n_gpus=2)
    jobs.reconcile(con, gpus=["0", "1"])
    assert jobs.get_job(con, wide.job_id).gpus == "0,1"
    assert "CUDA 0,1" in jobs.log_tail(wait_for(con, wide.job_id, gpus=["0", "1"]))


def test_cancel_stops_a_running_job_within_10_s(con, logs):
    job = jobs.launch(con, "fake", py("import time; print('up', flush=True); time.sleep(60)"), log_dir=logs)
    jobs.reconcile(con, **cpu())
    t0 = time.monotonic()
    done = jobs.cancel(con, job.job_id)
    assert time.monotonic() - t0 < 10
    assert done.status == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.killpg(done.pid, 0)


@pytest.mark.slow
def test_cancel_kills_a_job_that_ignores_sigterm(con, logs):
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    job = jobs.launch(
        con, "fake", ["/bin/sh", "-c", 'trap "" TERM; exec "$@"', "sh", *py(code)], log_dir=logs
    )
    wait_for_line(job, "ready")
    t0 = time.monotonic()
    done = jobs.cancel(con, job.job_id)
    elapsed = time.monotonic() - t0
    assert done.status == "cancelled"
    assert jobs.CANCEL_GRACE_S - 0.5 <= elapsed < 10


def test_cancel_a_queued_job_and_refuse_a_finished_one(con, logs):
    blocker = jobs.launch(con, "fake", py("import time; time.sleep(1)"), log_dir=logs)
    queued = jobs.launch(con, "fake", py("print(1)"), log_dir=logs)
    assert jobs.get_job(con, queued.job_id).status == "queued"
    assert jobs.cancel(con, queued.job_id).status == "cancelled"
    wait_for(con, blocker.job_id, **cpu())
    with pytest.raises(JobError, match="finished already"):
        jobs.cancel(con, blocker.job_id)


def test_a_job_killed_from_outside_is_reported_and_its_run_folder_says_so(con, logs, tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    code = (
        "import json, os, sys, time, pathlib; p = pathlib.Path(sys.argv[1], 'status.json'); "
        "p.write_text(json.dumps({'state': 'running', 'step': 1, 'total_steps': 10, 'pid': os.getpid()})); "
        "print('training', flush=True); time.sleep(60)"
    )
    job = jobs.launch(con, "train", [*py(code), str(run_dir)], log_dir=logs, run_dir=run_dir)
    wait_for_line(job, "training")
    os.killpg(jobs.get_job(con, job.job_id).pid, signal.SIGKILL)  # e.g. `kill -9` from a terminal
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "failed"
    assert "killed from outside" in done.error
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and "killed from outside" in status["error"]
    assert "training" in (run_dir / "job.log").read_text()  # the log is kept with the run


def test_the_child_killed_alone_gives_its_signal(con, logs):
    job = jobs.launch(
        con,
        "fake",
        py("import os, time; print('pid', os.getpid(), flush=True); time.sleep(60)"),
        log_dir=logs,
    )
    child = int(wait_for_line(job, "pid ").split()[1])
    os.kill(child, signal.SIGKILL)  # the out-of-memory killer picks the python process, not the wrapper
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "failed" and done.exit_code == 128 + 9
    assert "signal 9" in done.error


def test_jobs_survive_an_app_restart(tmp_path, logs):
    path = tmp_path / "app.duckdb"
    con = db.connect(path)
    job = jobs.launch(con, "fake", py("import time; time.sleep(1.5); print('done')"), log_dir=logs)
    jobs.reconcile(con, **cpu())
    assert jobs.get_job(con, job.job_id).status == "running"
    con.close()
    jobs.forget_children()  # the app process is gone: no handle on the child any more

    con = db.connect(path)
    jobs.reconcile(con, **cpu())
    assert jobs.get_job(con, job.job_id).status == "running"  # still tracked: pid + process group
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "finished" and done.exit_code == 0  # from the exit file, not from waitpid
    con.close()


def test_two_launches_of_the_same_run_folder_at_once_are_refused(con, logs, tmp_path):
    run_dir = str(tmp_path / "runs" / "same")
    results: list[object] = []

    def launch() -> None:
        try:
            results.append(
                jobs.submit(con, "train", py("import time; time.sleep(1)"), log_dir=logs, run_dir=run_dir)
            )
        except JobError as e:
            results.append(e)

    threads = [threading.Thread(target=launch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = [r for r in results if isinstance(r, jobs.Job)]
    refused = [r for r in results if isinstance(r, JobError)]
    assert len(accepted) == 1 and len(refused) == 3
    assert "already has a queued or running job" in str(refused[0])
    # another run folder is fine, and the same one is free again once the job ended
    jobs.submit(con, "train", py("pass"), log_dir=logs, run_dir=run_dir + "-2")
    jobs.cancel(con, accepted[0].job_id)
    jobs.submit(con, "train", py("pass"), log_dir=logs, run_dir=run_dir)


def test_a_pipeline_waits_for_its_first_step_and_stops_when_it_fails(con, logs, tmp_path):
    run_dir = tmp_path / "runs" / "p"
    first = jobs.submit(
        con, "generate", py("import time; time.sleep(0.5)"), log_dir=logs, run_dir=run_dir, pipeline="p1"
    )
    second = jobs.submit(
        con,
        "score",
        py("print('scored')"),
        log_dir=logs,
        run_dir=run_dir,
        pipeline="p1",
        depends_on=first.job_id,
    )
    jobs.reconcile(con, **cpu(max_cpu_jobs=2))
    assert jobs.get_job(con, second.job_id).status == "queued"  # a free slot, but it waits for generate
    assert wait_for(con, second.job_id, **cpu()).status == "finished"

    bad = jobs.submit(
        con, "generate", py("raise SystemExit(2)"), log_dir=logs, run_dir=run_dir, pipeline="p2"
    )
    after = jobs.submit(
        con, "score", py("pass"), log_dir=logs, run_dir=run_dir, pipeline="p2", depends_on=bad.job_id
    )
    done = wait_for(con, after.job_id, **cpu())
    assert done.status == "failed" and "ended failed" in done.error and done.pid is None


def test_a_full_disk_while_writing_the_log_fails_the_job_cleanly(con, logs, tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is Linux-only")
    log = tmp_path / "full.log"
    log.symlink_to("/dev/full")  # every write: ENOSPC, as on a full disk
    job = jobs.launch(con, "fake", py("print(1)"), log_dir=logs, log_path=log)
    assert job.status == "failed"
    assert "No space left on device" in job.error and "disk full" in job.error
    # the queue keeps working
    ok = jobs.launch(con, "fake", py("print(1)"), log_dir=logs)
    assert wait_for(con, ok.job_id, **cpu()).status == "finished"


@pytest.mark.parametrize("ignores_sigterm", [False, True])
def test_a_job_whose_start_cannot_be_recorded_leaves_no_process(
    con, logs, tmp_path, monkeypatch, ignores_sigterm
):
    """The child is started, then the store refuses the 'running' mark (a full disk): the child must not run
    on untracked, or the still-queued row would start the job a second time."""
    ready = tmp_path / "ready"
    code = (
        "import pathlib, signal, sys, time; "
        + ("signal.signal(signal.SIGTERM, signal.SIG_IGN); " if ignores_sigterm else "")
        + f"pathlib.Path({str(ready)!r}).write_text('up'); time.sleep(60)"
    )
    job = jobs.submit(con, "fake", py(code), log_dir=logs)
    started = []
    real_popen, real_write = subprocess.Popen, db.write

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    def write(con, work, lane="store"):
        if getattr(work, "__name__", "") == "mark":
            deadline = time.monotonic() + 10  # let the command start (and ignore SIGTERM) first
            while not ready.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            raise duckdb.IOException("could not write the WAL: No space left on device")
        return real_write(con, work, lane)

    monkeypatch.setattr(jobs.subprocess, "Popen", popen)
    monkeypatch.setattr(jobs.db, "write", write)
    monkeypatch.setattr(jobs, "CANCEL_GRACE_S", 0.5)
    try:
        with pytest.raises(JobError, match="disk full"):
            jobs.reconcile(con, **cpu())
        assert len(started) == 1 and ready.exists()
        pgid = started[0].pid
        deadline = time.monotonic() + 3  # a grandchild is reaped by init shortly after it died
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
        assert jobs.get_job(con, job.job_id).status == "queued" and pgid not in jobs._CHILDREN
    finally:
        for proc in started:  # without the fix: do not leave the child behind
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def test_a_run_folder_deleted_while_its_job_runs(con, logs, tmp_path):
    run_dir = tmp_path / "runs" / "gone"
    run_dir.mkdir(parents=True)
    job = jobs.launch(
        con, "train", py("import time; time.sleep(0.5); raise SystemExit(1)"), log_dir=logs, run_dir=run_dir
    )
    run_dir.rmdir()
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "failed" and done.exit_code == 1
    assert len(jobs.jobs_frame(con)) == 1


def test_commands_for_several_gpus_and_for_a_cluster():
    one = jobs.ft_core_command("train", ["--config", "c.yaml"])
    assert one == [sys.executable, "-m", "ft_core", "train", "--config", "c.yaml"]
    four = jobs.ft_core_command("train", ["--config", "c.yaml"], n_gpus=4)
    assert (
        jobs.shell_command(four)
        == "accelerate launch --multi_gpu --num_processes 4 -m ft_core train --config c.yaml"
    )
    script = jobs.slurm_script(one, n_gpus=2, job_name="lora")
    assert "#SBATCH --gres=gpu:2" in script
    assert "accelerate launch --multi_gpu --num_processes 2 -m ft_core train --config c.yaml" in script


def test_out_of_memory_says_what_to_lower(con, logs, tmp_path):
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
    job = jobs.launch(con, "train", [*py(code), str(run_dir), advice], log_dir=logs, run_dir=run_dir)
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "failed" and done.error == advice


def test_a_finished_run_folder_is_refused_before_queueing(con, tmp_path):
    run_dir = tmp_path / "runs" / "done"
    run_dir.mkdir(parents=True)
    (run_dir / "status.json").write_text('{"state": "finished"}')
    with pytest.raises(JobError, match="exists already; choose another run_dir or set resume=true"):
        jobs.train_job(con, {"run_dir": str(run_dir)}, tmp_path / "runs")
    assert jobs.list_jobs(con) == []


def test_a_failed_sanity_overfit_names_the_failure(con, logs):
    code = (
        "print('sanity overfit: final train loss 1.2000 -> FAILED (loss not near zero)'); raise SystemExit(3)"
    )
    done = wait_for(con, jobs.launch(con, "train", py(code), log_dir=logs).job_id, **cpu())
    assert done.status == "failed" and done.error.startswith(
        "sanity overfit: final train loss 1.2000 -> FAILED"
    )


def test_a_gpu_held_outside_the_app_counts_as_busy():
    import pandas as pd

    memory = pd.DataFrame(
        {"gpu": ["0", "1", "2"], "used_gib": [70.0, 0.5, 60.0], "total_gib": [80.0, 80.0, 80.0]}
    )
    assert jobs.busy_gpus(memory, ours={"2"}, threshold=0.5) == {"0"}  # GPU 2 is ours: already counted
    assert jobs.busy_gpus(memory, ours=set(), threshold=0.9) == set()
