"""Sweep points as a job array through `submitit`: on SLURM (`executor: slurm`, one array task per point,
the partition, time, GPUs, CPUs and memory from the SweepConfig) or as local processes
(`executor: submitit-local`, submitit's LocalExecutor: the same array on this machine, which the tests use).

Each task runs `ft_core.sweep.run_point` on one point and writes only into the point's run folder; submitit's
own files (the pickled task, stdout/stderr, the sbatch script) go to `<sweep>/.submitit/`. The submitting
process waits for the array and returns each point's error (None when it finished).
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import submitit

from ft_core.config import SweepConfig
from ft_core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # where `ft_core` is importable from in a task


def slurm_parameters(grid: SweepConfig, job_name: str) -> dict[str, Any]:
    """submitit's SlurmExecutor parameters of the sweep: partition, time, GPUs, CPUs, memory, the array's
    parallelism, and a setup line that lets each task import ft_core from this checkout."""
    parameters: dict[str, Any] = {
        "job_name": job_name,
        "time": grid.slurm_time_min,
        "cpus_per_task": grid.slurm_cpus_per_task,
        "mem": f"{grid.slurm_mem_gb}GB",
        "array_parallelism": grid.slurm_array_parallelism,
        "setup": [f"export PYTHONPATH={PROJECT_ROOT}${{PYTHONPATH:+:$PYTHONPATH}}"],
    }
    if grid.slurm_gpus_per_node:
        parameters["gpus_per_node"] = grid.slurm_gpus_per_node
    if grid.slurm_partition:
        parameters["partition"] = grid.slurm_partition
    return parameters


def check_executor(grid: SweepConfig) -> None:
    """A SLURM sweep submitted where there is no SLURM fails in one line, before anything is written."""
    if grid.executor == "slurm" and (shutil.which("sbatch") is None or shutil.which("srun") is None):
        raise ConfigError(
            "executor slurm needs SLURM's sbatch and srun on this machine: start the sweep on the cluster's "
            "login node (or use executor local / submitit-local here)"
        )


def make_executor(grid: SweepConfig, folder: str | Path) -> submitit.Executor:
    """The submitit executor of the sweep: SlurmExecutor with `slurm_parameters`, or LocalExecutor."""
    folder = Path(folder)
    check_executor(grid)
    if grid.executor == "submitit-local":
        executor: submitit.Executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(timeout_min=grid.slurm_time_min)
        return executor
    if grid.executor != "slurm":
        raise ConfigError(f"executor {grid.executor!r} does not submit a job array")
    executor = submitit.SlurmExecutor(folder=folder)
    executor.update_parameters(**slurm_parameters(grid, f"sweep-{folder.parent.name}"))
    return executor


@contextmanager
def _importable() -> Iterator[None]:
    """Local tasks inherit this environment: put the checkout on their PYTHONPATH while submitting."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), before) if p)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """The queue cancels a job with SIGTERM: while the sweep waits for its array, that interrupts the wait
    (so the tasks are cancelled) instead of ending the process and leaving them running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def run_array(
    points: list[Any],
    grid: SweepConfig,
    sweep_dir: str | Path,
    on_submit: Callable[[list[str]], None] | None = None,
    task: Callable[[Any], str | None] | None = None,
) -> list[str | None]:
    """Submit one array task per point, call `on_submit` with the job ids, wait; each point's error or
    None. A task that dies (time limit, out of memory, node failure) is that point's error, not the
    sweep's; a sweep interrupted while it waits cancels its tasks. `task`: what each array task runs on
    its point (default `ft_core.sweep.run_point`)."""
    from ft_core.sweep import run_point

    if not points:
        return []
    executor = make_executor(grid, Path(sweep_dir) / ".submitit")
    with _importable():
        jobs = executor.map_array(task or run_point, points)
    errors: list[str | None] = []
    try:
        with _sigterm_interrupts():
            print(f"submitted {len(jobs)} points as job array {jobs[0].job_id.split('_')[0]}", flush=True)
            if on_submit is not None:
                on_submit([str(job.job_id) for job in jobs])
            for point, job in zip(points, jobs):
                errors.append(_outcome(job))
                print(f"{point.name}: {'finished' if errors[-1] is None else errors[-1]}", flush=True)
    except BaseException:  # the sweep cancelled (Ctrl-C, the queue's SIGTERM): its tasks go with it
        for job in jobs:
            job.cancel(check=False)
        raise
    return errors


def _outcome(job: submitit.Job) -> str | None:
    """The task's own result (None or the point's error), or why the task died."""
    try:
        return job.result()
    except Exception as e:  # submitit's FailedJobError / UncompletedJobError: the task died
        line = next((x for x in str(e).splitlines() if x.strip()), type(e).__name__)
        return f"job {job.job_id} failed: {line[:300]}"
