"""Training jobs from typed configs: a LoRA run (`TrainConfig`), an lr x r sweep (`TrainConfig` +
`SweepConfig`), preference tuning of a run (`DPOTrainConfig`), and the check the Train page runs before
launching (`python -m ft_core train --check`).

The config object the page built is written as the job's config file and read back by `ft_core` unchanged; a
run folder that cannot take the run (it exists, or a resume without a checkpoint) is refused before anything
is queued, in the words `ft_core train` would use.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import duckdb

from ft_core import runfolder
from ft_core.config import DPOTrainConfig, SweepConfig, TrainConfig
from jobs import commands, processes, scheduler
from jobs.errors import JobError
from jobs.logs import job_files_dir
from jobs.queue import Job, active_job_on, busy_message


def _refuse_busy_folder(con: duckdb.DuckDBPyConnection, run_dir: str) -> None:
    busy = active_job_on(con, run_dir)
    if busy is not None:
        raise JobError(busy_message(run_dir, busy.label or busy.job_id))


def train_job(
    con: duckdb.DuckDBPyConnection,
    config: TrainConfig,
    runs_root: str | Path,
    n_gpus: int = 1,
    **options: Any,
) -> Job:
    """Launch `python -m ft_core train --config <yaml>` for the config (`options`: label, pipeline, env,
    ...)."""
    _refuse_busy_folder(con, config.run_dir)
    problem = runfolder.run_dir_problem(config.run_dir, config.resume)
    if problem is not None:
        raise JobError(problem)  # the message ft_core gives, before a job is queued for nothing
    name = Path(config.run_dir).name
    path = commands.write_job_config(config, runs_root, name)
    return scheduler.launch(
        con,
        "train",
        commands.train_command(path, n_gpus),
        log_dir=job_files_dir(runs_root),
        run_dir=config.run_dir,
        label=options.pop("label", f"train {name}"),
        n_gpus=n_gpus,
        **options,
    )


def dpo_job(
    con: duckdb.DuckDBPyConnection, config: DPOTrainConfig, runs_root: str | Path, **options: Any
) -> Job:
    """Launch `python -m ft_core dpo --config <yaml>`. A training job to the queue (kind "train"): its
    run folder gets the cancel marker and its progress is read from status.json, as for a LoRA run."""
    _refuse_busy_folder(con, config.run_dir)
    problem = runfolder.dpo_run_dir_problem(config.run_dir, config.resume)
    if problem is not None:
        raise JobError(problem)
    name = Path(config.run_dir).name
    path = commands.write_job_config(config, runs_root, name)
    return scheduler.launch(
        con,
        "train",
        commands.dpo_command(path),
        log_dir=job_files_dir(runs_root),
        run_dir=config.run_dir,
        label=options.pop("label", f"dpo {name}"),
        **options,
    )


def sweep_job(
    con: duckdb.DuckDBPyConnection,
    config: TrainConfig,
    grid: SweepConfig,
    runs_root: str | Path,
    n_gpus: int = 1,
) -> Job:
    """Launch `python -m ft_core sweep train --config <yaml> --grid ...` into the config's run_dir."""
    name = Path(config.run_dir).name
    path = commands.write_job_config(config, runs_root, name + "-sweep")
    return scheduler.launch(
        con,
        "sweep",
        commands.sweep_command(path, grid, n_gpus),
        log_dir=job_files_dir(runs_root),
        run_dir=config.run_dir,
        label=f"sweep {name} ({grid.describe()})",
        n_gpus=n_gpus,
    )


def check_train(config: TrainConfig, runs_root: str | Path, timeout_s: float = 300) -> runfolder.CheckReport:
    """`python -m ft_core train --check` in a subprocess: the config, data, tokenizer and run folder checks
    the job would do, without training. Returns the truncation report; raises JobError with the CLI's
    message."""
    path = commands.write_job_config(config, runs_root, "check")
    try:
        proc = subprocess.run(
            commands.train_command(path, check=True),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=str(processes.PROJECT_ROOT),
            env=processes.job_environment({}, None),
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
    report = runfolder.CheckReport.from_output(proc.stdout)
    if report is None:
        raise JobError("the check printed no report")
    return report
