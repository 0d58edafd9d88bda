"""Several app processes share one store (docs/deploy.md, "Several app processes"): a scheduler pass holds a
lock every process of the machine shares (a flock in the runs folder), so two processes never start the same
queued job or settle the same ended one twice. Here another process holds that lock (injected on purpose: a
child process that takes the flock and waits), and this process's pass waits for it."""

from __future__ import annotations

import subprocess
import sys
import threading

from helpers.fake_jobs import cpu, py

from jobs import queue, scheduler

HOLD = (
    "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600); "
    "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.readline()"
)


def test_a_pass_waits_while_another_process_holds_the_scheduler_lock(con, log_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FT_RUNS_DIR", str(tmp_path / "runs"))
    path = scheduler.lock_path()
    assert path.parent == tmp_path / "runs"
    path.parent.mkdir(parents=True)
    job = queue.submit(con, "fake", py("print(1)"), log_dir=log_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        passing = threading.Thread(target=scheduler.reconcile, args=(con,), kwargs=cpu())
        passing.start()
        passing.join(1.0)
        assert passing.is_alive()  # waiting for the other process
        assert queue.get_job(con, job.job_id).status == "queued"
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
        passing.join(30)
        assert not passing.is_alive()
        assert queue.get_job(con, job.job_id).status in ("running", "finished")
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_is_reentrant_in_the_thread_that_holds_it(tmp_path, monkeypatch):
    # A finishing step run inside a pass may launch a job (another pass): it must not wait for itself.
    monkeypatch.setenv("FT_RUNS_DIR", str(tmp_path / "runs"))
    with scheduler.cross_process_lock():
        with scheduler.cross_process_lock():
            pass
    # released: another process gets it at once
    done = subprocess.run(
        [sys.executable, "-c", HOLD, str(scheduler.lock_path())],
        input="\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.strip() == "held"
