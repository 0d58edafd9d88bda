"""A job's processes: started detached, found again after an app restart, signalled, reaped.

A job starts in its own session (`start_new_session=True`: its own process group, no tie to the browser or the
app), its output appended to its log, wrapped in `/bin/sh` that writes the command's exit code next to the
log. So after an app restart, or a job killed from outside, its state can still be told from the pid, the exit
file and the run folder's `status.json`. Stopping a job sends SIGTERM to its whole process group (every rank
of an `accelerate launch`), then SIGKILL after CANCEL_GRACE_S.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

import duckdb

from jobs.commands import shell_command
from jobs.queue import Job, mark_running

CANCEL_GRACE_S = 5.0  # SIGTERM, then SIGKILL after this: a job stops within 10 s
PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout holding ft_core: jobs run from here


def runs_dir() -> Path:
    """Where run folders live: `$FT_RUNS_DIR`, default `runs/` under the project."""
    env = os.environ.get("FT_RUNS_DIR")
    return Path(env) if env else PROJECT_ROOT / "runs"


_CHILDREN: dict[int, subprocess.Popen] = {}  # processes this app started: polled to reap them


def job_environment(extra: dict[str, str], cuda_visible_devices: str | None) -> dict[str, str]:
    """The environment of a job: the app's, the job's own variables, unbuffered output, this checkout on the
    path, GPUs numbered in PCI bus order as nvidia-smi numbers them, and the GPUs it may use (None: unchanged;
    "": none, so a CPU job cannot grab a GPU another job holds)."""
    env = {**os.environ, **extra, "PYTHONUNBUFFERED": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if cuda_visible_devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices
    return env


def _open_log(job: Job, command: list[str], notes: list[str]) -> IO[bytes] | str:
    """The job's log, opened for appending with `$ command` (and any notes) written first; or why it cannot
    be."""
    log_path = Path(job.log_path or f"{job.job_id}.log")
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        if job.exit_path is not None:
            job.exit_path.unlink(missing_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 (the child keeps writing to it)
    except OSError as e:
        return f"cannot write the job log {log_path}: {e.strerror or e} (is the disk full?)"
    try:
        log.write("".join(f"{line}\n" for line in [f"$ {shell_command(command)}", *notes]).encode())
        log.flush()
    except OSError as e:
        with contextlib.suppress(OSError):  # closing flushes the same bytes again, and fails the same way
            log.close()
        return f"cannot write the job log {log_path}: {e.strerror or e} (is the disk full?)"
    return log


def start(
    con: duckdb.DuckDBPyConnection,
    job: Job,
    command: list[str],
    env: dict[str, str],
    gpus: list[str],
    notes: list[str] | None = None,
) -> str | None:
    """Start `command` for the job, detached, and record it as running with `gpus` and that command.
    Returns why it could not start (to be recorded as the job's failure), or None once it runs."""
    log = _open_log(job, command, notes or [])
    if isinstance(log, str):
        return log
    exit_path = job.exit_path or Path(f"{job.job_id}.log.exit")
    # sh records the exit code next to the log, so it survives an app restart; "$0" is the exit file.
    wrapper = ["/bin/sh", "-c", '"$@"; echo $? > "$0"', str(exit_path), *command]
    try:
        proc = subprocess.Popen(
            wrapper,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(PROJECT_ROOT),
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as e:
        return f"cannot start {command[0]}: {e}"
    finally:
        log.close()
    _CHILDREN[proc.pid] = proc
    try:
        mark_running(con, job.job_id, proc.pid, gpus, command)
    except BaseException:
        # Not recorded as running: a child left alive would run untracked while the queued row starts it
        # again.
        stop_group(proc)
        raise
    return None


def reap(pid: int) -> None:
    """Collect a finished child so it does not linger as a zombie (which would look alive)."""
    proc = _CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is not None:
            _CHILDREN.pop(pid, None)
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child (the app restarted): init reaps it


def group_alive(job: Job) -> bool:
    """Is any process of the job's process group still there? (pgid == pid: it was started in a new
    session)."""
    if not job.pid:
        return False
    reap(job.pid)
    try:
        os.killpg(job.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # a group we cannot signal is not ours: the pid was reused
    # After an app restart the pid may belong to someone else; our wrapper's command line names the job.
    cmdline = Path(f"/proc/{job.pid}/cmdline")
    if cmdline.exists():
        try:
            text = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            return True
        if text and job.job_id not in text and (job.log_path or "") not in text:
            return False
    return True


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to the job's process group (gone already: nothing to do)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(proc: subprocess.Popen) -> None:
    """Stop a child's whole process group: SIGTERM, SIGKILL after CANCEL_GRACE_S; reap it and forget it."""

    def alive() -> bool:
        proc.poll()  # reap the wrapper, or its zombie would keep the group there
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not alive():
            break
        signal_group(proc.pid, sig)
        deadline = time.monotonic() + CANCEL_GRACE_S
        while alive() and time.monotonic() < deadline:
            time.sleep(0.05)
    _CHILDREN.pop(proc.pid, None)


def read_exit_code(job: Job) -> int | None:
    """The exit code the wrapper wrote, or None (still running, or killed before it could write one)."""
    try:
        text = job.exit_path.read_text().strip() if job.exit_path else ""
    except OSError:
        return None
    return int(text) if text.lstrip("-").isdigit() else None


def forget_children() -> None:
    """Drop the handles of started processes, as an app restart does (tests use it to simulate one)."""
    _CHILDREN.clear()
