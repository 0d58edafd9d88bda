"""A job's processes, real ones (tiny `python -c` jobs), with a real DuckDB file and real signals: started
detached, found again after an app restart, killed from outside, and the environment every job gets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from helpers.fake_jobs import cpu, py, wait_for, wait_for_line

from annotations import store
from jobs import logs, processes, queue, scheduler
from jobs.errors import JobError


def test_a_quick_job_runs_detached_and_finishes_with_its_log(con, log_dir):
    job = queue.submit(con, "fake", py("print('hello from the job')"), log_dir=log_dir)
    assert job.status == "queued"
    scheduler.reconcile(con, **cpu())
    started = queue.get_job(con, job.job_id)
    assert started.status in ("running", "finished") and started.pid
    # its own session: the job is not in the app's process group, so closing the app's terminal spares it
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "finished" and done.exit_code == 0 and done.error is None
    assert os.getpgid(os.getpid()) != done.pid
    assert "hello from the job" in logs.log_tail(done)
    assert done.started_at is not None and done.finished_at >= done.started_at


def test_every_job_numbers_gpus_as_nvidia_smi_does(con, log_dir, monkeypatch):
    """nvidia-smi lists GPUs in PCI bus order, CUDA by default fastest first: CUDA_VISIBLE_DEVICES=1 must
    mean nvidia-smi's GPU 1, so every job runs with CUDA_DEVICE_ORDER=PCI_BUS_ID (whatever the app's own
    setting)."""
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "FASTEST_FIRST")
    code = (
        "import os; print('order', os.environ.get('CUDA_DEVICE_ORDER'), os.environ['CUDA_VISIBLE_DEVICES'])"
    )
    on_gpu = queue.submit(con, "fake", py(code), log_dir=log_dir, needs_gpu=True)
    on_cpu = queue.submit(con, "fake", py(code), log_dir=log_dir, needs_gpu=False)
    for job in (on_gpu, on_cpu):
        wait_for(con, job.job_id, gpus=["1"])
    assert wait_for_line(queue.get_job(con, on_gpu.job_id), "order") == "order PCI_BUS_ID 1"
    assert wait_for_line(queue.get_job(con, on_cpu.job_id), "order") == "order PCI_BUS_ID "  # no GPU for it


def test_a_job_killed_from_outside_is_reported_and_its_run_folder_says_so(con, log_dir, tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    code = (
        "import json, os, sys, time, pathlib; p = pathlib.Path(sys.argv[1], 'status.json'); "
        "p.write_text(json.dumps({'state': 'running', 'step': 1, 'total_steps': 10, 'pid': os.getpid()})); "
        "print('training', flush=True); time.sleep(60)"
    )
    job = scheduler.launch(con, "train", [*py(code), str(run_dir)], log_dir=log_dir, run_dir=run_dir)
    wait_for_line(job, "training")
    os.killpg(queue.get_job(con, job.job_id).pid, signal.SIGKILL)  # e.g. `kill -9` from a terminal
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "failed"
    assert "killed from outside" in done.error
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and "killed from outside" in status["error"]
    assert "training" in (run_dir / "job.log").read_text()  # the log is kept with the run


def test_the_child_killed_alone_gives_its_signal(con, log_dir):
    job = scheduler.launch(
        con,
        "fake",
        py("import os, time; print('pid', os.getpid(), flush=True); time.sleep(60)"),
        log_dir=log_dir,
    )
    child = int(wait_for_line(job, "pid ").split()[1])
    os.kill(child, signal.SIGKILL)  # the out-of-memory killer picks the python process, not the wrapper
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "failed" and done.exit_code == 128 + 9
    assert "signal 9" in done.error


def test_jobs_survive_an_app_restart(tmp_path, log_dir):
    path = tmp_path / "app.duckdb"
    con = store.connect(path)
    job = scheduler.launch(con, "fake", py("import time; time.sleep(1.5); print('done')"), log_dir=log_dir)
    scheduler.reconcile(con, **cpu())
    assert queue.get_job(con, job.job_id).status == "running"
    con.close()
    processes.forget_children()  # the app process is gone: no handle on the child any more

    con = store.connect(path)
    scheduler.reconcile(con, **cpu())
    assert queue.get_job(con, job.job_id).status == "running"  # still tracked: pid + process group
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "finished" and done.exit_code == 0  # from the exit file, not from waitpid
    con.close()


def test_a_full_disk_while_writing_the_log_fails_the_job_cleanly(con, log_dir, tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is Linux-only")
    log = tmp_path / "full.log"
    log.symlink_to("/dev/full")  # every write: ENOSPC, as on a full disk
    job = scheduler.launch(con, "fake", py("print(1)"), log_dir=log_dir, log_path=log)
    assert job.status == "failed"
    assert "No space left on device" in job.error and "disk full" in job.error
    # the queue keeps working
    ok = scheduler.launch(con, "fake", py("print(1)"), log_dir=log_dir)
    assert wait_for(con, ok.job_id, **cpu()).status == "finished"


@pytest.mark.parametrize("ignores_sigterm", [False, True])
def test_a_job_whose_start_cannot_be_recorded_leaves_no_process(
    con, log_dir, tmp_path, monkeypatch, ignores_sigterm
):
    """The child is started, then the store refuses the 'running' mark (a full disk): the child must not run
    on untracked, or the still-queued row would start the job a second time."""
    ready = tmp_path / "ready"
    code = (
        "import pathlib, signal, sys, time; "
        + ("signal.signal(signal.SIGTERM, signal.SIG_IGN); " if ignores_sigterm else "")
        + f"pathlib.Path({str(ready)!r}).write_text('up'); time.sleep(60)"
    )
    job = queue.submit(con, "fake", py(code), log_dir=log_dir)
    started = []
    real_popen, real_write = subprocess.Popen, store.write

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

    monkeypatch.setattr(processes.subprocess, "Popen", popen)
    monkeypatch.setattr(store, "write", write)
    monkeypatch.setattr(processes, "CANCEL_GRACE_S", 0.5)
    try:
        with pytest.raises(JobError, match="disk full"):
            scheduler.reconcile(con, **cpu())
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
        assert queue.get_job(con, job.job_id).status == "queued" and pgid not in processes._CHILDREN
    finally:
        for proc in started:  # without the fix: do not leave the child behind
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def test_a_run_folder_deleted_while_its_job_runs(con, log_dir, tmp_path):
    run_dir = tmp_path / "runs" / "gone"
    run_dir.mkdir(parents=True)
    job = scheduler.launch(
        con,
        "train",
        py("import time; time.sleep(0.5); raise SystemExit(1)"),
        log_dir=log_dir,
        run_dir=run_dir,
    )
    run_dir.rmdir()
    done = wait_for(con, job.job_id, **cpu())
    assert done.status == "failed" and done.exit_code == 1
    assert len(queue.jobs_frame(con)) == 1
