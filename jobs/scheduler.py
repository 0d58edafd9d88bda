"""The scheduler: starts queued jobs where a slot is free, settles ended ones, cancels, and keeps doing so in
a watcher thread.

`reconcile` (called by the pages and by the watcher every few seconds) settles running jobs whose processes
ended (finished, failed or cancelled, and why, from the exit code, the run folder's status.json and the log),
pushes on cancellations, then starts queued jobs: one job per GPU, or `n_gpus` GPUs for a multi-GPU job
started through `accelerate launch` (with as many processes as GPUs it got, and a port of its own); one job at
a time on a CPU-only machine (`FT_CPU_JOBS` to change). A job waits for the one it depends on, and for GPUs
that something outside the app holds.

Cancelling leaves a marker in the run folder (so ft_core tells a cancel from torchrun tearing the ranks down
after another rank died), then sends SIGTERM to the job's process group, SIGKILL after CANCEL_GRACE_S.

Several app processes on one PostgreSQL store (docs/deploy.md) each run a watcher: a pass of `reconcile` (and
a cancel) holds a lock shared by every process of the machine (`cross_process_lock`, a flock on a file in the
runs folder, FT_RUNS_DIR), so a queued job is started once and an ended one settled once (its finishing step,
e.g. storing a campaign's scores, runs once). The processes must share the runs folder and the machine: a job
is watched through its process id.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from annotations import store
from ft_core import runfolder
from jobs import commands, logs, machine, processes
from jobs.errors import JobError
from jobs.queue import Job, chain, get_job, list_jobs, record_end, request_cancel, submit

_SCHEDULE_LOCK = threading.RLock()  # one pass at a time in this process; cross_process_lock: across them
_LOCK_FILE = ".scheduler.lock"
_LOCK_DEPTH = 0  # how deep the thread holding _SCHEDULE_LOCK is inside cross_process_lock
_WATCHERS: dict[int, threading.Thread] = {}
_STOP = threading.Event()


def lock_path() -> Path:
    """The file whose flock every app process on this machine holds during a scheduler pass: in the runs
    folder (`$FT_RUNS_DIR`, default runs/ under the project), which those processes share."""
    return processes.runs_dir() / _LOCK_FILE


@contextlib.contextmanager
def cross_process_lock() -> Iterator[None]:
    """This process's scheduling lock, then the machine's (a flock the kernel drops when a process dies, so a
    killed app never leaves it held)."""
    global _LOCK_DEPTH
    with _SCHEDULE_LOCK:
        if _LOCK_DEPTH:  # re-entered by the thread that holds it (a finishing step that launches a job)
            yield
            return
        path = lock_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # a second flock of ours on another descriptor would wait forever
            _LOCK_DEPTH += 1
            try:
                yield
            finally:
                _LOCK_DEPTH -= 1
        finally:
            os.close(fd)  # releases the flock


# --------------------------------------------------------------------------------------------- ending
Finishing = Callable[[duckdb.DuckDBPyConnection, Job], str | None]
_FINISHING: dict[str, Finishing] = {}


def on_finished(kind: str, finishing: Finishing) -> None:
    """Give jobs of `kind` a step to run in the app when their process ends well (`settle`): it returns why
    the job failed after all, or None. A module that launches such jobs registers it (jobs.campaign_scores);
    the scheduler never imports it, so the two do not import each other."""
    _FINISHING[kind] = finishing


def settle(
    con: duckdb.DuckDBPyConnection, job: Job, status: str, error: str | None, exit_code: int | None = None
) -> None:
    """Record how the job ended, keep its log with its run, and, for a training job that could not say it
    itself, mark its run folder(s) failed or cancelled. A job of a kind with a finishing step (`on_finished`:
    a campaign's scoring job stores its scores) is finished once that step is done, failed when it says why
    not."""
    finishing = _FINISHING.get(job.kind)
    if finishing is not None and status == "finished":
        error = finishing(con, job)
        status = "failed" if error else status
    record_end(con, job.job_id, status, error, exit_code)
    logs.keep_with_run(job)
    if job.kind in ("train", "sweep") and job.run_dir and status in ("failed", "cancelled"):
        runfolder.mark_ended(job.run_dir, status, error)
        if job.kind == "sweep":
            for member in runfolder.sweep_member_dirs(job.run_dir):
                runfolder.mark_ended(member, status, error)


def _failure(job: Job, code: int, status: runfolder.RunStatus) -> str:
    """Why a job that exited with `code` failed: its run folder's error, its `error: ...` line, the signal."""
    reason = (status.error if status.state == "failed" else None) or logs.error_from_log(job)
    if code > 128:
        killed = f"killed by signal {code - 128} (from outside, or out of memory)"
        reason = f"{reason}; {killed}" if reason else killed
    return reason or f"exited with code {code}; see the end of its log"


def _finish(con: duckdb.DuckDBPyConnection, job: Job) -> None:
    """The job's processes are gone: decide finished / failed / cancelled and say why."""
    code = processes.read_exit_code(job)
    status = runfolder.read_status(job.run_dir if job.kind == "train" else None)
    if job.cancel_requested_at is not None:
        settle(con, job, "cancelled", "cancelled from the Jobs page", code)
    elif code == 0:
        settle(con, job, "finished", None, 0)
    elif code is not None:
        settle(con, job, "failed", _failure(job, code, status), code)
    elif status.state == "finished":
        settle(con, job, "finished", None, None)
    else:
        settle(
            con,
            job,
            "failed",
            "the job's process disappeared without an exit code: it was killed from outside (kill -9, the "
            "out-of-memory killer) or the machine restarted; see the end of its log",
            None,
        )


# --------------------------------------------------------------------------------------------- starting
@dataclass
class Slots:
    """What one pass of the scheduler may hand out: the machine's GPUs, those in use, CPU slots, ports."""

    machine_gpus: list[str]
    cpu_slots: int
    used_gpus: set[str] = field(default_factory=set)
    cpu_running: int = 0
    ports: set[int] = field(default_factory=set)  # given to running jobs (their processes may not listen yet)

    def gpus_for(self, job: Job) -> list[str] | None:
        """The GPUs the job gets now ([] for a CPU slot), or None when it must wait."""
        if job.needs_gpu and self.machine_gpus:
            free = [g for g in self.machine_gpus if g not in self.used_gpus]
            want = min(job.n_gpus, len(self.machine_gpus))
            return free[:want] if len(free) >= want else None  # the GPU is busy: wait, do not fail
        return [] if self.cpu_running < self.cpu_slots else None

    def take(self, gpus: list[str], port: int | None) -> None:
        self.used_gpus.update(gpus)
        self.cpu_running += 0 if gpus else 1
        if port is not None:
            self.ports.add(port)


def _slots(
    con: duckdb.DuckDBPyConnection, machine_gpus: list[str], cpu_slots: int, check_busy: bool
) -> Slots:
    """The slots left by the running jobs (and, with `check_busy`, by processes outside the app on the
    GPUs)."""
    slots = Slots(machine_gpus, cpu_slots)
    for job in list_jobs(con, ("running",)):
        gpus = [g for g in (job.gpus or "").split(",") if g]
        slots.take(gpus, commands.main_process_port(job.command))
    if check_busy:
        memory = machine.gpu_memory()
        slots.used_gpus |= machine.busy_gpus(memory, slots.used_gpus, ids=machine_gpus)
    return slots


def _ready(con: duckdb.DuckDBPyConnection, job: Job) -> bool:
    """Has the job it depends on finished? One that was cancelled, failed, was skipped or vanished makes
    this job "skipped" (it never ran; not a failure of its own), with the reason."""
    if not job.depends_on:
        return True
    parent = get_job(con, job.depends_on)
    if parent is not None and parent.active:
        return False
    if parent is None or parent.status != "finished":
        name = f"'{parent.label}'" if parent is not None and parent.label else job.depends_on
        why = {"cancelled": "was cancelled", "failed": "failed", "skipped": "was skipped"}
        reason = (
            "is gone from the store" if parent is None else why.get(parent.status, f"ended {parent.status}")
        )
        settle(con, job, "skipped", f"not started: the job before it in its chain, {name}, {reason}")
        return False
    return True


def _start(con: duckdb.DuckDBPyConnection, job: Job, gpus: list[str], slots: Slots) -> None:
    """Start the job on `gpus`: its command rewritten for as many processes as GPUs, on a free port."""
    port = None
    if len(gpus) > 1 and commands.launches_processes(job.command):
        port = machine.free_port(slots.ports)
        if port is None:
            ports = f"{machine.PORTS.start}-{machine.PORTS.stop - 1}"
            settle(con, job, "failed", f"no free port in {ports} for accelerate launch; try again later")
            return
    command = commands.for_processes(job.command, len(gpus), port) if job.needs_gpu else job.command
    notes = []
    if job.n_gpus > len(gpus) and command != job.command:
        notes.append(
            f"(asked for {job.n_gpus} GPUs; this machine gives {len(gpus)}: one process per GPU given)"
        )
    visible = ",".join(gpus) if gpus else ("" if slots.machine_gpus else None)
    env = processes.job_environment(job.env, visible)
    error = processes.start(con, job, command, env, gpus, notes)
    if error is not None:
        settle(con, job, "failed", error)
        return
    slots.take(gpus, port)


# --------------------------------------------------------------------------------------------- the loop
def reconcile(
    con: duckdb.DuckDBPyConnection, gpus: list[str] | None = None, max_cpu_jobs: int | None = None
) -> list[Job]:
    """Settle running jobs whose processes ended, push on cancellations, start queued jobs where slots are
    free.

    `gpus` and `max_cpu_jobs` stand for the machine (default: `machine.detect_gpus()`, `machine.cpu_slots()`;
    the busy check of GPUs held outside the app runs only with the real machine). Safe to call often and from
    several threads (pages and the watcher); returns the jobs after the update. Raises JobError (not a DuckDB
    error) when the store cannot be written, e.g. on a full disk.
    """
    try:
        return _reconcile(con, gpus, max_cpu_jobs)
    except store.DatabaseError as e:
        if "closed" in str(e).lower():
            raise
        raise JobError(
            f"the jobs table cannot be updated ({type(e).__name__}: {e}); is the disk full?"
        ) from e


def _reconcile(con: duckdb.DuckDBPyConnection, gpus: list[str] | None, max_cpu_jobs: int | None) -> list[Job]:
    machine_gpus = machine.detect_gpus() if gpus is None else list(gpus)
    cpu_slots = machine.cpu_slots() if max_cpu_jobs is None else max_cpu_jobs
    with cross_process_lock():
        for job in list_jobs(con, ("running",)):
            if processes.group_alive(job):
                _push_cancel(job)
            else:
                _finish(con, job)
        queued = sorted(list_jobs(con, ("queued",)), key=lambda j: (j.created_at, j.job_id))
        check_busy = gpus is None and bool(machine_gpus) and any(j.needs_gpu for j in queued)
        slots = _slots(con, machine_gpus, cpu_slots, check_busy)
        for job in queued:
            if not _ready(con, job):
                continue
            given = slots.gpus_for(job)
            if given is not None:
                _start(con, job, given, slots)
        return list_jobs(con)


def launch(con: duckdb.DuckDBPyConnection, kind: str, command: list[str], **options: Any) -> Job:
    """`queue.submit` then `reconcile`: the job starts now when a slot is free, else it waits in the queue."""
    job = submit(con, kind, command, **options)
    reconcile(con)
    return get_job(con, job.job_id) or job


# --------------------------------------------------------------------------------------------- cancelling
def _push_cancel(job: Job) -> None:
    """A cancelled job still alive: SIGTERM was sent; after CANCEL_GRACE_S send SIGKILL."""
    if job.cancel_requested_at is None or not job.pid:
        return
    waited = (store.utcnow() - job.cancel_requested_at).total_seconds()
    processes.signal_group(job.pid, signal.SIGKILL if waited >= processes.CANCEL_GRACE_S else signal.SIGTERM)


def _request_cancel(run_dir: str) -> None:
    """Leave the cancel marker in a run folder before its job gets SIGTERM: ft_core's rank 0 then records
    "cancelled"; a SIGTERM without it is torchrun tearing the ranks down after another rank died ("failed").
    A run that has not created its folder yet gets no marker (`runfolder.request_cancel` writes nothing)."""
    runfolder.request_cancel(run_dir)


def _cancelled_folders(job: Job) -> list[str]:
    """The run folders a cancelled job was writing: its own, or a sweep's running members."""
    if not job.run_dir or job.kind not in ("train", "sweep"):
        return []
    if job.kind == "train":
        return [job.run_dir]
    members = runfolder.sweep_member_dirs(job.run_dir)
    return [str(m) for m in members if runfolder.read_status(m).running]


@dataclass
class CancelPlan:
    """What cancelling a job does: the job, its chain (in order) and the queued jobs after it that will
    then be skipped."""

    job: Job
    chain: list[Job]
    skipped: list[Job]

    def question(self) -> str:
        """The confirmation's text, naming the job and its chain."""
        text = f"Cancel '{self.job.label or self.job.job_id}' ({self.job.status})?"
        if len(self.chain) > 1:
            position = [j.job_id for j in self.chain].index(self.job.job_id) + 1
            steps = " -> ".join(f"'{j.label or j.job_id}' ({j.status})" for j in self.chain)
            text += f" It is step {position} of {len(self.chain)} of its chain: {steps}."
        if self.skipped:
            names = ", ".join(f"'{j.label or j.job_id}'" for j in self.skipped)
            text += (
                f" The {'job' if len(self.skipped) == 1 else f'{len(self.skipped)} jobs'} after it "
                f"({names}) will then be skipped."
            )
        return text


def cancel_plan(con: duckdb.DuckDBPyConnection, job_id: str) -> CancelPlan:
    """What `cancel(job_id)` would do, for the question the Jobs page asks before it does."""
    job = get_job(con, job_id)
    if job is None:
        raise JobError(f"no job {job_id}")
    members = chain(con, job)
    after, waiting_on = [], {job.job_id}
    for other in members:
        if other.depends_on in waiting_on and other.status == "queued":
            after.append(other)
            waiting_on.add(other.job_id)
    return CancelPlan(job, members, after)


def cancel(con: duckdb.DuckDBPyConnection, job_id: str, wait_s: float = 9.0) -> Job:
    """Cancel a job: a queued one at once; a running one by SIGTERM, then SIGKILL after 5 s (waits <=
    wait_s)."""
    job = get_job(con, job_id)
    if job is None:
        raise JobError(f"no job {job_id}")
    if not job.active:
        raise JobError(f"job {job.label or job_id} is {job.status} already")
    with cross_process_lock():
        if request_cancel(con, job_id) != "running":
            return get_job(con, job_id) or job
        job = get_job(con, job_id) or job
        for folder in _cancelled_folders(job):
            _request_cancel(folder)
        _push_cancel(job)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and processes.group_alive(job):
            time.sleep(0.1)
            _push_cancel(job)
        if not processes.group_alive(job):
            _finish(con, job)
    return get_job(con, job_id) or job


# --------------------------------------------------------------------------------------------- the watcher
def ensure_watcher(con: duckdb.DuckDBPyConnection, interval_s: float = 3.0) -> None:
    """Start (once per process and store) a daemon thread that calls `reconcile`, so queued jobs start and
    finished ones settle even when no page is open."""
    key = id(con)
    thread = _WATCHERS.get(key)
    if thread is not None and thread.is_alive():
        return

    def loop() -> None:
        while not _STOP.is_set():
            try:
                reconcile(con)
            except Exception as e:  # a closed store or a full disk must not kill the watcher silently
                if "closed" in str(e).lower():
                    return
            _STOP.wait(interval_s)

    thread = threading.Thread(target=loop, name="ft-job-watcher", daemon=True)
    _WATCHERS[key] = thread
    thread.start()


def _stop_watchers() -> None:
    """At exit, let watchers leave DuckDB's C++ code before the interpreter tears threads down."""
    _STOP.set()
    for thread in list(_WATCHERS.values()):
        thread.join(timeout=5)


atexit.register(_stop_watchers)
