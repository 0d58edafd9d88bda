"""The job queue: the `jobs` table (with migration 100's `job_extras`) through the store.

A job is a command the app runs as its own process; this module holds its row: what to run, for which run
folder, its state and what it ended with. States: queued -> running -> finished | failed | cancelled; a queued
job is cancelled at once, or "skipped" (with the reason) when a job before it in its chain did not finish: it
never ran, so it is not counted as failed. A chain is the jobs of one pipeline (the demo's train -> generate
-> score). Every query of the queue lives here; the app is the only writer, and writes are serialized by
`annotations.store.write`, so "one active job per run folder" is checked and recorded in one step.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from annotations import store
from ft_core import runfolder
from jobs.errors import JobError

STATES = ("queued", "running", "finished", "failed", "cancelled", "skipped")
ACTIVE = ("queued", "running")
_COLUMNS = (
    "job_id, kind, run_dir, command, status, pid, created_at, started_at, finished_at, error, log_path, "
    "needs_gpu, label, depends_on, pipeline, n_gpus, gpus, exit_code, cancel_requested_at, env"
)
_FROM = (
    "jobs LEFT JOIN job_extras USING (job_id)"  # the contract's table + what the queue adds (migration 100)
)


@dataclass
class Job:
    """One row of the jobs table."""

    job_id: str
    kind: str  # train | sweep | generate | score (tests queue other kinds)
    run_dir: str | None
    command: list[str]  # as submitted; once started, the command that runs (process count and port filled in)
    status: str
    pid: int | None = None  # the wrapper's pid, also its process group's id
    created_at: Any = None
    started_at: Any = None
    finished_at: Any = None
    error: str | None = None
    log_path: str | None = None
    needs_gpu: bool = False
    label: str | None = None
    depends_on: str | None = None
    pipeline: str | None = None
    n_gpus: int = 1  # GPUs asked for
    gpus: str | None = None  # CUDA_VISIBLE_DEVICES it got, e.g. "0,1"
    exit_code: int | None = None
    cancel_requested_at: Any = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def exit_path(self) -> Path | None:
        """Where the job's wrapper writes the command's exit code (beside the log)."""
        return Path(self.log_path + ".exit") if self.log_path else None


def _job(row: tuple) -> Job:
    values = dict(zip([c.strip() for c in _COLUMNS.split(",")], row))
    values["command"] = json.loads(values["command"] or "[]")
    values["env"] = json.loads(values["env"] or "{}")
    values["needs_gpu"] = bool(values["needs_gpu"])
    values["n_gpus"] = int(values["n_gpus"] or 1)
    return Job(**values)


# --------------------------------------------------------------------------------------------- reading
def get_job(con: duckdb.DuckDBPyConnection, job_id: str) -> Job | None:
    """The job, or None when there is no such id."""
    row = store.read(con).execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE job_id = ?", [job_id]).fetchone()
    return _job(row) if row else None


def list_jobs(con: duckdb.DuckDBPyConnection, statuses: tuple[str, ...] | None = None) -> list[Job]:
    """Jobs, newest first; only those in `statuses` when given."""
    rows = (
        store.read(con).execute(f"SELECT {_COLUMNS} FROM {_FROM} ORDER BY created_at DESC, job_id").fetchall()
    )
    jobs = [_job(r) for r in rows]
    return [j for j in jobs if statuses is None or j.status in statuses]


def chain(con: duckdb.DuckDBPyConnection, job: Job) -> list[Job]:
    """The jobs of the job's chain in the order they run (its pipeline's jobs, or those linked to it through
    `depends_on`); just the job when it stands alone."""
    jobs = list_jobs(con)
    if job.pipeline:
        members = [j for j in jobs if j.pipeline == job.pipeline]
    else:
        ids, grew = {job.job_id}, True
        while grew:
            linked = {j.job_id for j in jobs if j.depends_on in ids}
            linked |= {j.depends_on for j in jobs if j.job_id in ids and j.depends_on}
            grew = not linked <= ids
            ids |= linked
        members = [j for j in jobs if j.job_id in ids]
    return sorted(members or [job], key=lambda j: (j.created_at, j.job_id))


def jobs_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every job as a table for the jobs page (newest first)."""
    jobs = list_jobs(con)
    columns = ["job_id", "label", "kind", "status", "run_dir", "created_at", "started_at", "finished_at"]
    columns += ["gpus", "error"]
    return pd.DataFrame([{c: getattr(j, c) for c in columns} for j in jobs], columns=columns)


def same_folder(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and os.path.realpath(a) == os.path.realpath(b)


def active_job_on(con: duckdb.DuckDBPyConnection, run_dir: str | Path) -> Job | None:
    """A queued or running job that writes `run_dir`, if any."""
    return next((j for j in list_jobs(con, ACTIVE) if same_folder(j.run_dir, str(run_dir))), None)


def busy_message(run_dir: str | Path, label: str) -> str:
    return (
        f"run folder {run_dir} already has a queued or running job ({label}); "
        "wait for it to end or cancel it on the Jobs page"
    )


# --------------------------------------------------------------------------------------------- writing
def submit(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    command: list[str],
    *,
    log_dir: str | Path,
    run_dir: str | Path | None = None,
    label: str | None = None,
    needs_gpu: bool = True,
    n_gpus: int = 1,
    depends_on: str | None = None,
    pipeline: str | None = None,
    env: dict[str, str] | None = None,
    log_path: str | Path | None = None,
) -> Job:
    """Queue a job; refused (JobError) when another pipeline already has a queued or running job on `run_dir`,
    or when a training process started outside the app still writes it.

    The job starts at the next `scheduler.reconcile` (or `scheduler.launch`) when a slot is free; its output
    goes to `log_dir/<job_id>.log` unless `log_path` is given.
    """
    if not command:
        raise JobError("the job has no command")
    job_id = store.new_id("job-")[:16]
    run_dir_s = str(run_dir) if run_dir is not None else None
    row = {
        "job_id": job_id,
        "kind": kind,
        "run_dir": run_dir_s,
        "command": json.dumps(command),
        "log_path": str(Path(log_path) if log_path else Path(log_dir) / f"{job_id}.log"),
        "needs_gpu": needs_gpu,
        "label": label or f"{kind} {Path(run_dir_s).name if run_dir_s else ''}".strip(),
        "depends_on": depends_on,
        "pipeline": pipeline,
        "n_gpus": max(1, int(n_gpus)),
        "env": json.dumps(env or {}),
    }
    if run_dir_s is not None and kind in ("train", "sweep"):
        _refuse_outside_writer(run_dir_s)
    blocked_by = store.write(con, lambda cur: _insert(cur, row))
    if blocked_by is not None:
        raise JobError(busy_message(run_dir_s, blocked_by))
    job = get_job(con, job_id)
    assert job is not None
    return job


def _insert(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> str | None:
    """Insert the job unless another pipeline has an active job on its run folder; returns that job's
    label."""
    if row["run_dir"] is not None:
        active = cur.execute(
            f"SELECT job_id, label, run_dir, pipeline FROM {_FROM} WHERE status IN ('queued', 'running')"
        ).fetchall()
        for other_id, other_label, other_dir, other_pipeline in active:
            if same_folder(other_dir, row["run_dir"]) and (
                row["pipeline"] is None or other_pipeline != row["pipeline"]
            ):
                return other_label or other_id
    cur.execute(
        "INSERT INTO jobs (job_id, kind, run_dir, command, status, created_at, log_path, needs_gpu) "
        "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
        [
            row["job_id"],
            row["kind"],
            row["run_dir"],
            row["command"],
            store.utcnow(),
            row["log_path"],
            row["needs_gpu"],
        ],
    )
    cur.execute(
        "INSERT INTO job_extras (job_id, label, depends_on, pipeline, n_gpus, env) VALUES (?, ?, ?, ?, ?, ?)",
        [row["job_id"], row["label"], row["depends_on"], row["pipeline"], row["n_gpus"], row["env"]],
    )
    return None


def _refuse_outside_writer(run_dir: str) -> None:
    """A training process started outside the app (a terminal, another app) may be writing this folder."""
    status = runfolder.read_status(run_dir)
    if runfolder.writer_alive(status):
        raise JobError(
            f"run folder {run_dir} is being written by process {status.pid} (started outside the app); "
            "choose another run_dir"
        )


def claim_next(con: duckdb.DuckDBPyConnection) -> Job | None:
    """Take the oldest queued job whose chain lets it start (no job before it, or that one finished): it is
    marked running (no pid yet; `mark_running` records it once the process is up) and returned; None when no
    job is waiting. Two schedulers claiming at once, as threads or as processes on one PostgreSQL store, never
    get the same job: on PostgreSQL the row is read `FOR UPDATE SKIP LOCKED` (a second claim takes the next
    job instead of waiting) inside the store's SERIALIZABLE write, whose conflicts are retried; on DuckDB the
    one writing process serializes the claims in its write lane."""
    skip_locked = " FOR UPDATE OF jobs SKIP LOCKED" if store.is_postgres_store(con) else ""

    def claim(cur: duckdb.DuckDBPyConnection) -> str | None:
        row = cur.execute(
            f"SELECT jobs.job_id FROM {_FROM} WHERE jobs.status = 'queued' "
            "AND (job_extras.depends_on IS NULL "
            "OR job_extras.depends_on IN (SELECT job_id FROM jobs WHERE status = 'finished')) "
            f"ORDER BY jobs.created_at, jobs.job_id LIMIT 1{skip_locked}"
        ).fetchone()
        if row is None:
            return None
        cur.execute(
            "UPDATE jobs SET status = 'running', started_at = ? WHERE job_id = ? AND status = 'queued'",
            [store.utcnow(), row[0]],
        )
        return row[0]

    job_id = store.write(con, claim)
    return None if job_id is None else get_job(con, job_id)


def mark_running(
    con: duckdb.DuckDBPyConnection, job_id: str, pid: int, gpus: list[str], command: list[str]
) -> None:
    """Record that the job runs: its pid, the GPUs it got and the command line that actually runs."""

    def mark(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute(
            "UPDATE jobs SET status = 'running', pid = ?, started_at = ?, command = ? WHERE job_id = ?",
            [pid, store.utcnow(), json.dumps(command), job_id],
        )
        cur.execute(
            "UPDATE job_extras SET gpus = ? WHERE job_id = ?", [",".join(gpus) if gpus else None, job_id]
        )

    store.write(con, mark)


def record_end(
    con: duckdb.DuckDBPyConnection, job_id: str, status: str, error: str | None, exit_code: int | None
) -> None:
    """Record how the job ended (finished, failed or cancelled), why, and its exit code."""

    def update(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute(
            "UPDATE jobs SET status = ?, error = ?, finished_at = ? WHERE job_id = ?",
            [status, error, store.utcnow(), job_id],
        )
        cur.execute("UPDATE job_extras SET exit_code = ? WHERE job_id = ?", [exit_code, job_id])

    store.write(con, update)


def request_cancel(con: duckdb.DuckDBPyConnection, job_id: str) -> str:
    """Note the cancel request; a queued job is cancelled at once. Returns the status the job had."""

    def request(cur: duckdb.DuckDBPyConnection) -> str:
        (status,) = cur.execute("SELECT status FROM jobs WHERE job_id = ?", [job_id]).fetchone()
        if status == "queued":
            cur.execute(
                "UPDATE jobs SET status = 'cancelled', error = 'cancelled before it started', finished_at = "
                "? WHERE job_id = ?",
                [store.utcnow(), job_id],
            )
        if status in ACTIVE:
            cur.execute(
                "UPDATE job_extras SET cancel_requested_at = ? WHERE job_id = ?", [store.utcnow(), job_id]
            )
        return status

    return store.write(con, request)
