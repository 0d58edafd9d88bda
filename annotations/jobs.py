"""The job queue: training, generation and scoring run as their own processes, tracked in the `jobs` table.

The app enqueues a command (`python -m ft_core ...`), and `reconcile` — called by the pages and by a watcher
thread every few seconds — starts queued jobs when a slot is free (one job per GPU, or `n_gpus` GPUs for a
multi-GPU job started through `accelerate launch`; one job at a time on a CPU-only machine, `FT_CPU_JOBS` to
change) and settles running ones from their process and run folder. A job is started detached
(`start_new_session=True`: its own process group, no tie to the browser or the app), its output going to
`<runs>/.jobs/<job_id>.log` (appended to `<run_dir>/job.log` when it ends), wrapped in `/bin/sh` that
writes the command's exit code next to the log, so that after an app restart or a job killed from outside the
state can still be told from the pid, the exit file and the run folder's `status.json`.

Cancelling sends SIGTERM to the job's process group, then SIGKILL if it is still there after 5 s. A second
job for a run folder that already has a queued or running job is refused (the app is the only writer of the
table, and writes are serialized by `annotations.db.write`).

States: queued -> running -> finished | failed | cancelled (queued -> cancelled, or failed when a job it
depends on did not finish).
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from annotations import db
from annotations.errors import AnnotationError

STATES = ("queued", "running", "finished", "failed", "cancelled")
ACTIVE = ("queued", "running")
CANCEL_GRACE_S = 5.0  # SIGTERM, then SIGKILL after this: a job stops within 10 s
_COLUMNS = (
    "job_id, kind, run_dir, command, status, pid, created_at, started_at, finished_at, error, log_path, "
    "needs_gpu, label, depends_on, pipeline, n_gpus, gpus, exit_code, cancel_requested_at, env"
)
_FROM = (
    "jobs LEFT JOIN job_extras USING (job_id)"  # the contract's table + what the queue adds (migration 100)
)
_SCHEDULE_LOCK = threading.RLock()
_CHILDREN: dict[int, subprocess.Popen] = {}  # processes this app started: polled to reap them
_WATCHERS: dict[int, threading.Thread] = {}
_STOP = threading.Event()
_GPU_CACHE: dict[str, tuple[float, list[str]]] = {}


class JobError(AnnotationError):
    """A job cannot be enqueued, started or cancelled; the message says why and what to do."""


@dataclass
class Job:
    """One row of the jobs table."""

    job_id: str
    kind: str
    run_dir: str | None
    command: list[str]
    status: str
    pid: int | None = None
    created_at: Any = None
    started_at: Any = None
    finished_at: Any = None
    error: str | None = None
    log_path: str | None = None
    needs_gpu: bool = False
    label: str | None = None
    depends_on: str | None = None
    pipeline: str | None = None
    n_gpus: int = 1
    gpus: str | None = None
    exit_code: int | None = None
    cancel_requested_at: Any = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def exit_path(self) -> Path | None:
        return Path(self.log_path + ".exit") if self.log_path else None


def _job(row: tuple) -> Job:
    values = dict(zip([c.strip() for c in _COLUMNS.split(",")], row))
    values["command"] = json.loads(values["command"] or "[]")
    values["env"] = json.loads(values["env"] or "{}")
    values["needs_gpu"] = bool(values["needs_gpu"])
    values["n_gpus"] = int(values["n_gpus"] or 1)
    return Job(**values)


# ------------------------------------------------------------------------------------------------ machine


def detect_gpus() -> list[str]:
    """GPU ids jobs may use: `FT_JOB_GPUS` ("0,1", or "" for none), else CUDA_VISIBLE_DEVICES, else nvidia-smi."""
    for name in ("FT_JOB_GPUS", "CUDA_VISIBLE_DEVICES"):
        if name in os.environ:
            return [g.strip() for g in os.environ[name].split(",") if g.strip() and g.strip() != "-1"]
    cached = _GPU_CACHE.get("ids")
    if cached is not None and time.monotonic() - cached[0] < 30:  # reconcile runs every few seconds
        return list(cached[1])
    found: list[str] = []
    if shutil.which("nvidia-smi") is not None:
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            if out.returncode == 0:
                found = [line.strip() for line in out.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.TimeoutExpired):
            pass
    _GPU_CACHE["ids"] = (time.monotonic(), found)
    return list(found)


def gpu_memory() -> pd.DataFrame:
    """Used and total memory per GPU from nvidia-smi (empty without a GPU): gpu, used_gib, total_gib."""
    rows = []
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=index,memory.used,memory.total", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        for line in out.splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) == 3 and parts[1].isdigit():
                rows.append(
                    {"gpu": parts[0], "used_gib": int(parts[1]) / 1024, "total_gib": int(parts[2]) / 1024}
                )
    return pd.DataFrame(rows, columns=["gpu", "used_gib", "total_gib"])


def busy_gpus(memory: pd.DataFrame, ours: set[str], threshold: float | None = None) -> set[str]:
    """GPUs that something outside the app holds: more than `threshold` (FT_GPU_BUSY_SHARE, default 0.5) of
    their memory used while none of our jobs runs there. A GPU job waits for them instead of failing."""
    if threshold is None:
        try:
            threshold = float(os.environ.get("FT_GPU_BUSY_SHARE", "0.5"))
        except ValueError:
            threshold = 0.5
    return {
        str(r.gpu)
        for r in memory.itertuples()
        if str(r.gpu) not in ours and r.total_gib > 0 and r.used_gib / r.total_gib > threshold
    }


def cpu_slots() -> int:
    """Jobs that may run at once without a GPU: `FT_CPU_JOBS`, default 1."""
    try:
        return max(1, int(os.environ.get("FT_CPU_JOBS", "1")))
    except ValueError:
        return 1


# ------------------------------------------------------------------------------------------------ commands


def ft_core_command(subcommand: str, args: list[str], n_gpus: int = 1) -> list[str]:
    """`python -m ft_core SUB ARGS`; with several GPUs `accelerate launch --num_processes N -m ft_core ...`."""
    if n_gpus > 1:
        return [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            str(n_gpus),
            "-m",
            "ft_core",
            subcommand,
            *args,
        ]
    return [sys.executable, "-m", "ft_core", subcommand, *args]


def shell_command(command: list[str]) -> str:
    """The command as a researcher types it (`python` for this interpreter, `accelerate launch` spelled out)."""
    words = ["python" if w == sys.executable else w for w in command]
    if words[:3] == ["python", "-m", "accelerate.commands.launch"]:
        words = ["accelerate", "launch", *words[3:]]
    return shlex.join(words)


def slurm_script(command: list[str], n_gpus: int = 1, job_name: str = "ft-core") -> str:
    """An sbatch script running the same command on a cluster node (edit partition and time to your site)."""
    gpus = max(1, n_gpus)
    run = shell_command(command)
    if gpus > 1 and "accelerate launch" not in run:
        run = run.replace(
            "python -m ft_core", f"accelerate launch --multi_gpu --num_processes {gpus} -m ft_core", 1
        )
    return (
        "#!/bin/bash\n"
        f"#SBATCH --job-name={job_name}\n"
        f"#SBATCH --gres=gpu:{gpus}\n"
        "#SBATCH --cpus-per-task=8\n"
        "#SBATCH --time=04:00:00\n"
        "#SBATCH --output=%x-%j.log\n"
        "export HF_HUB_OFFLINE=1  # models and data must be on the node already\n"
        f"{run}\n"
    )


# ------------------------------------------------------------------------------------------------ ft_core jobs


def job_files_dir(runs_root: str | Path) -> Path:
    """Where job logs and the config files of launched jobs live: `<runs>/.jobs/` (not a run folder)."""
    return Path(runs_root) / ".jobs"


def write_job_config(config: dict[str, Any], runs_root: str | Path, name: str) -> Path:
    """Write a config as YAML under `<runs>/.jobs/` (the run folder must not exist before training starts)."""
    import yaml

    folder = job_files_dir(runs_root)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = db.utcnow().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-") or "run"
    path = folder / f"{safe}-{stamp}-{db.new_id()[:6]}.yaml"
    try:
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    except OSError as e:
        raise JobError(f"cannot write {path}: {e.strerror or e} (is the disk full?)") from None
    return path


def train_job(
    con: duckdb.DuckDBPyConnection,
    config: dict[str, Any],
    runs_root: str | Path,
    n_gpus: int = 1,
    **options: Any,
) -> Job:
    """Launch `python -m ft_core train --config <yaml>` for a validated TrainConfig (as a dict)."""
    run_dir = Path(config["run_dir"])
    busy = [j for j in list_jobs(con, ACTIVE) if _same_folder(j.run_dir, str(run_dir))]
    if busy:
        raise JobError(
            f"run folder {run_dir} already has a queued or running job ({busy[0].label}); "
            "wait for it to end or cancel it on the Jobs page"
        )
    try:
        taken = run_dir.is_dir() and any(run_dir.iterdir())
    except OSError:
        taken = False
    if taken and not config.get("resume"):
        # the message ft_core gives, before a job is queued for nothing
        raise JobError(f"run folder {run_dir} exists already; choose another run_dir or set resume=true")
    path = write_job_config(config, runs_root, Path(config["run_dir"]).name)
    command = ft_core_command("train", ["--config", str(path)], n_gpus)
    return launch(
        con,
        "train",
        command,
        log_dir=job_files_dir(runs_root),
        run_dir=config["run_dir"],
        label=options.pop("label", f"train {Path(config['run_dir']).name}"),
        n_gpus=n_gpus,
        **options,
    )


def sweep_job(
    con: duckdb.DuckDBPyConnection,
    config: dict[str, Any],
    learning_rates: list[float],
    ranks: list[int],
    runs_root: str | Path,
    n_gpus: int = 1,
) -> Job:
    """Launch `python -m ft_core sweep train --config <yaml> --lr ... --r ...` into config's run_dir."""
    if not learning_rates or not ranks:
        raise JobError("a sweep needs at least one learning rate and one LoRA rank")
    path = write_job_config(config, runs_root, Path(config["run_dir"]).name + "-sweep")
    args = ["train", "--config", str(path), "--lr", ",".join(f"{x:g}" for x in learning_rates)]
    args += ["--r", ",".join(str(int(r)) for r in ranks)]
    return launch(
        con,
        "sweep",
        ft_core_command("sweep", args, n_gpus),
        log_dir=job_files_dir(runs_root),
        run_dir=config["run_dir"],
        label=f"sweep {Path(config['run_dir']).name} ({len(learning_rates)}x{len(ranks)})",
        n_gpus=n_gpus,
    )


def evaluate_jobs(
    con: duckdb.DuckDBPyConnection,
    run_dir: str | Path,
    runs_root: str | Path,
    limit: int | None = None,
    max_new_tokens: int | None = None,
    metrics: list[str] | None = None,
    env: dict[str, str] | None = None,
    depends_on: str | None = None,
    pipeline: str | None = None,
    labels: tuple[str, str] | None = None,
) -> tuple[Job, Job]:
    """Queue generation (base and fine-tuned, on the test split) then scoring of a finished run: two jobs, the
    second waiting for the first."""
    run_dir = str(run_dir)
    pipeline = pipeline or db.new_id("eval-")[:16]
    generate_args = ["--run-dir", run_dir]
    if limit:
        generate_args += ["--limit", str(int(limit))]
    if max_new_tokens:
        generate_args += ["--max-new-tokens", str(int(max_new_tokens))]
    score_args = ["--run-dir", run_dir] + [a for m in (metrics or []) for a in ("--metrics", m)]
    name = Path(run_dir).name
    common = {"log_dir": job_files_dir(runs_root), "run_dir": run_dir, "pipeline": pipeline, "env": env}
    generate = submit(
        con,
        "generate",
        ft_core_command("generate", generate_args),
        label=labels[0] if labels else f"generate {name}",
        depends_on=depends_on,
        **common,
    )
    score = submit(
        con,
        "score",
        ft_core_command("score", score_args),
        label=labels[1] if labels else f"score {name}",
        depends_on=generate.job_id,
        **common,
    )
    reconcile(con)
    return get_job(con, generate.job_id) or generate, get_job(con, score.job_id) or score


def sweep_size(command: list[str]) -> int | None:
    """Grid points of a `sweep train` command (len(--lr) x len(--r)), for its progress bar."""
    try:
        lrs = command[command.index("--lr") + 1].split(",")
        ranks = command[command.index("--r") + 1].split(",")
    except (ValueError, IndexError):
        return None
    return len(lrs) * len(ranks)


def evaluate_sweep(
    con: duckdb.DuckDBPyConnection, members: list[str | Path], runs_root: str | Path, **options: Any
) -> list[Job]:
    """Queue generate + score for each given sweep member (one pipeline each); members already busy are skipped."""
    queued = []
    for member in members:
        try:
            queued += list(evaluate_jobs(con, member, runs_root, **options))
        except JobError:
            continue  # this member has a job already
    return queued


def check_train(config: dict[str, Any], runs_root: str | Path, timeout_s: float = 300) -> dict[str, Any]:
    """`python -m ft_core train --check` in a subprocess: the config, data, tokenizer and run folder checks the
    job would do, without training. Returns the truncation report; raises JobError with the CLI's message."""
    path = write_job_config(config, runs_root, "check")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(db.PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    try:
        proc = subprocess.run(
            ft_core_command("train", ["--config", str(path), "--check"]),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=str(db.PROJECT_ROOT),
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise JobError(
            f"the check took longer than {timeout_s:.0f} s; launch the run to see its log"
        ) from None
    finally:
        path.unlink(missing_ok=True)
    if proc.returncode != 0:
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        errors = [x[len("error: ") :] for x in lines if x.startswith("error: ")]
        raise JobError(
            errors[-1] if errors else (lines[-1] if lines else f"check exited with {proc.returncode}")
        )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise JobError("the check printed no report")


# ------------------------------------------------------------------------------------------------ reading


def get_job(con: duckdb.DuckDBPyConnection, job_id: str) -> Job | None:
    """The job, or None when there is no such id."""
    row = db.read(con).execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE job_id = ?", [job_id]).fetchone()
    return _job(row) if row else None


def list_jobs(con: duckdb.DuckDBPyConnection, statuses: tuple[str, ...] | None = None) -> list[Job]:
    """Jobs, newest first; only those in `statuses` when given."""
    rows = db.read(con).execute(f"SELECT {_COLUMNS} FROM {_FROM} ORDER BY created_at DESC, job_id").fetchall()
    jobs = [_job(r) for r in rows]
    return [j for j in jobs if statuses is None or j.status in statuses]


def jobs_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every job as a table for the jobs page (newest first)."""
    jobs = list_jobs(con)
    columns = ["job_id", "label", "kind", "status", "run_dir", "created_at", "started_at", "finished_at"]
    columns += ["gpus", "error"]
    return pd.DataFrame([{c: getattr(j, c) for c in columns} for j in jobs], columns=columns)


def log_tail(job: Job, lines: int = 40) -> str:
    """The last lines of the job's log (progress bars collapsed to their latest state); '' when unreadable."""
    if not job.log_path:
        return ""
    try:
        with open(job.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64_000))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    kept = [
        line.split("\r")[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r") for line in text.split("\n")
    ]
    return "\n".join(kept[-lines:]).strip("\n")


def _error_from_log(job: Job) -> str | None:
    """The one-line reason an ft_core command prints on failure (`error: ...`), or the last traceback line."""
    tail = log_tail(job, 60).splitlines()
    for line in reversed(tail):
        if line.startswith("error: "):
            return line[len("error: ") :]
    for line in reversed(tail):
        if line and not line.startswith((" ", "\t")) and ("Error" in line or "Exception" in line):
            return line.strip()
    for line in reversed(tail):
        if "FAILED" in line:  # e.g. "sanity overfit: final train loss 1.2 -> FAILED (loss not near zero ...)"
            return line.strip()
    return None


# ------------------------------------------------------------------------------------------------ enqueue


def _same_folder(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and os.path.realpath(a) == os.path.realpath(b)


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
    """Queue a job; refused (JobError) when another pipeline already has a queued or running job on `run_dir`.

    The job starts at the next `reconcile` (or `launch`) when a slot is free; its output goes to
    `log_dir/<job_id>.log` unless `log_path` is given.
    """
    if not command:
        raise JobError("the job has no command")
    job_id = db.new_id("job-")[:16]
    run_dir_s = str(run_dir) if run_dir is not None else None
    log = Path(log_path) if log_path else Path(log_dir) / f"{job_id}.log"
    now = db.utcnow()

    def insert(cur: duckdb.DuckDBPyConnection) -> None:
        if run_dir_s is not None:
            active = cur.execute(
                f"SELECT job_id, label, run_dir, pipeline FROM {_FROM} WHERE status IN ('queued', 'running')"
            ).fetchall()
            for other_id, other_label, other_dir, other_pipeline in active:
                if _same_folder(other_dir, run_dir_s) and (pipeline is None or other_pipeline != pipeline):
                    raise JobError(
                        f"run folder {run_dir_s} already has a queued or running job ({other_label or other_id}); "
                        "wait for it to end or cancel it on the Jobs page"
                    )
        cur.execute(
            "INSERT INTO jobs (job_id, kind, run_dir, command, status, created_at, log_path, needs_gpu) "
            "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
            [job_id, kind, run_dir_s, json.dumps(command), now, str(log), needs_gpu],
        )
        cur.execute(
            "INSERT INTO job_extras (job_id, label, depends_on, pipeline, n_gpus, env) VALUES (?, ?, ?, ?, ?, ?)",
            [
                job_id,
                label or f"{kind} {Path(run_dir_s).name if run_dir_s else ''}".strip(),
                depends_on,
                pipeline,
                max(1, int(n_gpus)),
                json.dumps(env or {}),
            ],
        )

    if run_dir_s is not None:
        _refuse_outside_writer(run_dir_s, kind)
    db.write(con, insert)
    job = get_job(con, job_id)
    assert job is not None
    return job


def _refuse_outside_writer(run_dir: str, kind: str) -> None:
    """A training process started outside the app (a terminal, another app) may be writing this folder."""
    from annotations.runs import read_status

    status = read_status(run_dir)
    pid = status.get("pid")
    if kind in ("train", "sweep") and status.get("state") == "running" and isinstance(pid, int):
        if _pid_alive(pid):
            raise JobError(
                f"run folder {run_dir} is being written by process {pid} (started outside the app); "
                "choose another run_dir"
            )


def launch(con: duckdb.DuckDBPyConnection, kind: str, command: list[str], **options: Any) -> Job:
    """`submit` then `reconcile`: the job starts now when a slot is free, else it waits in the queue."""
    job = submit(con, kind, command, **options)
    reconcile(con)
    return get_job(con, job.job_id) or job


# ------------------------------------------------------------------------------------------------ processes


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pid: int) -> None:
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


def _group_alive(job: Job) -> bool:
    """Is any process of the job's process group still there? (pgid == pid: it was started in a new session)."""
    if not job.pid:
        return False
    _reap(job.pid)
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


def _start(con: duckdb.DuckDBPyConnection, job: Job, gpus: list[str], machine_gpus: list[str]) -> None:
    log_path = Path(job.log_path or f"{job.job_id}.log")
    exit_path = job.exit_path or Path(f"{log_path}.exit")
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        exit_path.unlink(missing_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 (the child keeps writing to it)
        try:
            log.write(f"$ {shell_command(job.command)}\n".encode())
            log.flush()
        except OSError:
            log.close()
            raise
    except OSError as e:
        _settle(
            con, job, "failed", f"cannot write the job log {log_path}: {e.strerror or e} (is the disk full?)"
        )
        return
    env = {**os.environ, **job.env, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(db.PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    elif machine_gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU slot must not grab a GPU another job holds
    # sh records the exit code next to the log, so it survives an app restart; "$0" is the exit file.
    wrapper = ["/bin/sh", "-c", '"$@"; echo $? > "$0"', str(exit_path), *job.command]
    try:
        proc = subprocess.Popen(
            wrapper,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(db.PROJECT_ROOT),
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as e:
        log.close()
        _settle(con, job, "failed", f"cannot start {job.command[0]}: {e}")
        return
    log.close()
    _CHILDREN[proc.pid] = proc

    def mark(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute(
            "UPDATE jobs SET status = 'running', pid = ?, started_at = ? WHERE job_id = ?",
            [proc.pid, db.utcnow(), job.job_id],
        )
        cur.execute(
            "UPDATE job_extras SET gpus = ? WHERE job_id = ?", [",".join(gpus) if gpus else None, job.job_id]
        )

    try:
        db.write(con, mark)
    except BaseException:
        # Not recorded as running: a child left alive would run untracked while the queued row starts it again.
        _kill_group(proc)
        raise


def _kill_group(proc: subprocess.Popen) -> None:
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
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        deadline = time.monotonic() + CANCEL_GRACE_S
        while alive() and time.monotonic() < deadline:
            time.sleep(0.05)
    _CHILDREN.pop(proc.pid, None)


def _settle(
    con: duckdb.DuckDBPyConnection, job: Job, status: str, error: str | None, exit_code: int | None = None
) -> None:
    def update(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute(
            "UPDATE jobs SET status = ?, error = ?, finished_at = ? WHERE job_id = ?",
            [status, error, db.utcnow(), job.job_id],
        )
        cur.execute("UPDATE job_extras SET exit_code = ? WHERE job_id = ?", [exit_code, job.job_id])

    db.write(con, update)
    _append_log_to_run_folder(job)
    if job.kind in ("train", "sweep") and job.run_dir and status in ("failed", "cancelled"):
        _mark_run_folder(job.run_dir, status, error)
        if job.kind == "sweep":
            try:
                members = [p for p in Path(job.run_dir).iterdir() if p.is_dir()]
            except OSError:
                members = []
            for member in members:
                _mark_run_folder(str(member), status, error)


def _append_log_to_run_folder(job: Job) -> None:
    """Keep the job's log with its run: appended to `<run_dir>/job.log` once the job ended (it is written under
    `<runs>/.jobs/` while it runs, because ft_core refuses to train into a folder that is not empty)."""
    if not job.run_dir or not job.log_path or not Path(job.run_dir).is_dir():
        return
    try:
        if not any(Path(job.run_dir).iterdir()):
            return  # an empty folder stays empty, so the same run_dir can be launched again
        text = Path(job.log_path).read_bytes()
        with open(Path(job.run_dir) / "job.log", "ab") as out:
            out.write(text if text.endswith(b"\n") else text + b"\n")
    except OSError:
        pass  # folder deleted or disk full: the log stays under .jobs/


def _mark_run_folder(run_dir: str, state: str, error: str | None) -> None:
    """A job killed hard cannot write its own status.json: say what happened there, if it still says running."""
    from annotations.runs import read_status

    path = Path(run_dir) / "status.json"
    status = read_status(run_dir)
    if status.get("state") != "running":
        return
    status.update(state=state, error=error, finished_at=time.time())
    tmp = path.with_name("status.json.app-tmp")
    try:
        tmp.write_text(json.dumps(status, indent=2, default=str) + "\n")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # folder deleted or disk full: the jobs table still says it


def _read_exit_code(job: Job) -> int | None:
    try:
        text = job.exit_path.read_text().strip() if job.exit_path else ""
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def _finish(con: duckdb.DuckDBPyConnection, job: Job) -> None:
    """The job's processes are gone: decide finished / failed / cancelled and say why."""
    from annotations.runs import read_status

    code = _read_exit_code(job)
    status = read_status(job.run_dir) if job.run_dir and job.kind == "train" else {}
    if job.cancel_requested_at is not None:
        _settle(con, job, "cancelled", "cancelled from the Jobs page", code)
    elif code == 0:
        _settle(con, job, "finished", None, 0)
    elif code is not None:
        reason = (status.get("error") if status.get("state") == "failed" else None) or _error_from_log(job)
        if code > 128:
            killed = f"killed by signal {code - 128} (from outside, or out of memory)"
            reason = f"{reason}; {killed}" if reason else killed
        _settle(con, job, "failed", reason or f"exited with code {code}; see the end of its log", code)
    elif status.get("state") == "finished":
        _settle(con, job, "finished", None, None)
    else:
        _settle(
            con,
            job,
            "failed",
            "the job's process disappeared without an exit code: it was killed from outside (kill -9, the "
            "out-of-memory killer) or the machine restarted; see the end of its log",
            None,
        )


# ------------------------------------------------------------------------------------------------ the loop


def reconcile(
    con: duckdb.DuckDBPyConnection, gpus: list[str] | None = None, max_cpu_jobs: int | None = None
) -> list[Job]:
    """Settle running jobs whose processes ended, push on cancellations, start queued jobs where slots are free.

    Safe to call often and from several threads (pages and the watcher); returns the jobs after the update.
    Raises JobError (not a DuckDB error) when the store cannot be written, e.g. on a full disk.
    """
    try:
        return _reconcile(con, gpus, max_cpu_jobs)
    except duckdb.Error as e:
        if "closed" in str(e).lower():
            raise
        raise JobError(
            f"the jobs table cannot be updated ({type(e).__name__}: {e}); is the disk full?"
        ) from e


def _reconcile(con: duckdb.DuckDBPyConnection, gpus: list[str] | None, max_cpu_jobs: int | None) -> list[Job]:
    machine_gpus = detect_gpus() if gpus is None else list(gpus)
    slots = cpu_slots() if max_cpu_jobs is None else max_cpu_jobs
    with _SCHEDULE_LOCK:
        for job in list_jobs(con, ("running",)):
            if _group_alive(job):
                _push_cancel(job)
            else:
                _finish(con, job)
        running = list_jobs(con, ("running",))
        used = {g for j in running for g in (j.gpus or "").split(",") if g}
        cpu_running = sum(1 for j in running if not j.gpus)
        queued = sorted(list_jobs(con, ("queued",)), key=lambda j: (j.created_at, j.job_id))
        if gpus is None and machine_gpus and any(j.needs_gpu for j in queued):
            used |= busy_gpus(gpu_memory(), used)  # held by a process outside the app
        for job in queued:
            if job.depends_on:
                parent = get_job(con, job.depends_on)
                if parent is not None and parent.active:
                    continue
                if parent is None or parent.status != "finished":
                    why = "was deleted" if parent is None else f"ended {parent.status}"
                    _settle(con, job, "failed", f"not started: the job it waits for ({job.depends_on}) {why}")
                    continue
            free = [g for g in machine_gpus if g not in used]
            if job.needs_gpu and machine_gpus:
                want = min(job.n_gpus, len(machine_gpus))
                if len(free) < want:
                    continue  # the GPU is busy: wait, do not fail
                take = free[:want]
                _start(con, job, take, machine_gpus)
                used.update(take)
            else:
                if cpu_running >= slots:
                    continue
                _start(con, job, [], machine_gpus)
                cpu_running += 1
        return list_jobs(con)


def _push_cancel(job: Job) -> None:
    """A cancelled job still alive: SIGTERM was sent; after CANCEL_GRACE_S send SIGKILL."""
    if job.cancel_requested_at is None or not job.pid:
        return
    waited = (db.utcnow() - job.cancel_requested_at).total_seconds()
    sig = signal.SIGKILL if waited >= CANCEL_GRACE_S else signal.SIGTERM
    try:
        os.killpg(job.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def cancel(con: duckdb.DuckDBPyConnection, job_id: str, wait_s: float = 9.0) -> Job:
    """Cancel a job: a queued one at once; a running one by SIGTERM, then SIGKILL after 5 s (waits <= wait_s)."""
    job = get_job(con, job_id)
    if job is None:
        raise JobError(f"no job {job_id}")
    if not job.active:
        raise JobError(f"job {job.label or job_id} is {job.status} already")

    def request(cur: duckdb.DuckDBPyConnection) -> str:
        row = cur.execute("SELECT status FROM jobs WHERE job_id = ?", [job_id]).fetchone()
        if row[0] == "queued":
            cur.execute(
                "UPDATE jobs SET status = 'cancelled', error = 'cancelled before it started', finished_at = ? "
                "WHERE job_id = ?",
                [db.utcnow(), job_id],
            )
            cur.execute(
                "UPDATE job_extras SET cancel_requested_at = ? WHERE job_id = ?", [db.utcnow(), job_id]
            )
        elif row[0] == "running":
            cur.execute(
                "UPDATE job_extras SET cancel_requested_at = ? WHERE job_id = ?", [db.utcnow(), job_id]
            )
        return row[0]

    with _SCHEDULE_LOCK:
        if db.write(con, request) != "running":
            return get_job(con, job_id) or job
        job = get_job(con, job_id) or job
        _push_cancel(job)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and _group_alive(job):
            time.sleep(0.1)
            _push_cancel(job)
        if not _group_alive(job):
            _finish(con, job)
    return get_job(con, job_id) or job


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


def forget_children() -> None:
    """Drop the handles of started processes, as an app restart does (tests use it to simulate one)."""
    _CHILDREN.clear()
