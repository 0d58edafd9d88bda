"""Evaluation jobs of a finished run: generation (base and fine-tuned, `GenerateConfig`) then scoring
(`ScoreConfig`), two jobs of one pipeline, the second waiting for the first; and the same for every member of
a sweep.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from annotations import store
from ft_core.config import GenerateConfig, ScoreConfig
from jobs import commands, scheduler
from jobs.logs import job_files_dir
from jobs.queue import Job, active_job_on, get_job, submit


def evaluate_jobs(
    con: duckdb.DuckDBPyConnection,
    generate: GenerateConfig,
    score: ScoreConfig,
    runs_root: str | Path,
    *,
    env: dict[str, str] | None = None,
    depends_on: str | None = None,
    pipeline: str | None = None,
    labels: tuple[str, str] | None = None,
) -> tuple[Job, Job]:
    """Queue `python -m ft_core generate` then `score` for the two configs (the score job waits for the
    generation job; `depends_on`: the generation job waits for that one). Returns (generate job, score
    job)."""
    run_dir = str(generate.run_dir or generate.output_dir)
    pipeline = pipeline or store.new_id("eval-")[:16]
    name = Path(run_dir).name
    common = {"log_dir": job_files_dir(runs_root), "run_dir": run_dir, "pipeline": pipeline, "env": env}
    first = submit(
        con,
        "generate",
        commands.generate_command(generate),
        label=labels[0] if labels else f"generate {name}",
        depends_on=depends_on,
        **common,
    )
    second = submit(
        con,
        "score",
        commands.score_command(score),
        label=labels[1] if labels else f"score {name}",
        depends_on=first.job_id,
        **common,
    )
    scheduler.reconcile(con)
    return get_job(con, first.job_id) or first, get_job(con, second.job_id) or second


def evaluate_sweep(
    con: duckdb.DuckDBPyConnection,
    members: list[str | Path],
    runs_root: str | Path,
    limit: int | None = None,
    max_new_tokens: int | None = None,
) -> list[Job]:
    """Queue generate + score for each given sweep member (one pipeline each); members with an active job are
    skipped."""
    queued: list[Job] = []
    for member in members:
        if active_job_on(con, member) is not None:
            continue
        generate = GenerateConfig(run_dir=str(member), limit=limit, max_new_tokens=max_new_tokens)
        queued += evaluate_jobs(con, generate, ScoreConfig(run_dir=str(member)), runs_root)
    return queued
