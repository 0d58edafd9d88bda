"""Reference-free scores for a new campaign, computed in the background, never blocking its creation.

A campaign made from a CSV/JSONL with a `source` column has outputs and sources but no score against the source
(a run folder brings the ones its scoring job computed). `start`, called by the pages right after `create_campaign`, writes the
campaign's outputs and sources into `<runs>/.campaign-scores/<campaign_id>/outputs/`
(`annotations.campaigns.source_scores`) and queues `python -m ft_core score` on that folder: a CPU job (the
default scores, `ft_core.config.SOURCE_SCORE_METRICS`, load no model), offline. It returns at once. When the job
ends, `scheduler.settle` calls `store_scores`, in the app (the only writer of the store): the scores become the
campaign's metrics, and only then is the job "finished"; the results page shows them from its next visit.
Like the demo, this module calls the public functions of annotations.campaigns.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from annotations.campaigns import get_campaign
from annotations.campaigns import source_scores as campaign_sources
from annotations.errors import AnnotationError
from ft_core.config import SOURCE_SCORE_METRICS, ScoreConfig
from jobs import commands, scheduler
from jobs.logs import job_files_dir
from jobs.queue import ACTIVE, Job, list_jobs

KIND = "campaign_scores"
FOLDER = ".campaign-scores"  # under the runs folder; hidden, so no page lists it as a run
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def scores_folder(runs_root: str | Path, campaign_id: str) -> Path:
    """The folder the campaign's scoring job reads and writes (laid out as a run folder)."""
    return Path(runs_root) / FOLDER / campaign_id


def start(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    runs_root: str | Path,
    metrics: tuple[str, ...] | list[str] = SOURCE_SCORE_METRICS,
) -> Job | None:
    """Queue the scoring of the campaign's outputs against their sources, and return without waiting; None when
    the campaign was made from a run folder, no item has a source, or it has scores against the source already."""
    if not campaign_sources.needs_source_scores(con, campaign_id):
        return None
    folder = scores_folder(runs_root, campaign_id)
    if campaign_sources.write_scoring_outputs(con, campaign_id, folder) == 0:
        return None
    config = ScoreConfig(
        run_dir=str(folder),
        metrics=list(metrics),
        language=get_campaign(con, campaign_id).config.language,
        system_a="a",
        system_b="b",
    )
    return scheduler.launch(
        con,
        KIND,
        commands.score_command(config),
        log_dir=job_files_dir(runs_root),
        run_dir=str(folder),
        label=f"scores against the source, campaign {campaign_id}",
        needs_gpu=False,
        env=OFFLINE,
    )


def campaign_of(job: Job) -> str | None:
    """The campaign a scoring job is for (its folder's name), or None for any other job."""
    if job.kind != KIND or not job.run_dir:
        return None
    return Path(job.run_dir).name


def store_scores(con: duckdb.DuckDBPyConnection, job: Job) -> str | None:
    """Store a finished scoring job's scores as its campaign's metrics; returns why it could not, or None."""
    campaign_id = campaign_of(job)
    if campaign_id is None:
        return f"job {job.job_id} is not a campaign's scoring job"
    try:
        campaign_sources.import_source_scores(con, campaign_id, job.run_dir)
    except AnnotationError as e:
        return f"the scores could not be stored: {e}"
    return None


def pending(con: duckdb.DuckDBPyConnection, campaign_id: str) -> Job | None:
    """The campaign's queued or running scoring job, if any (the results page says the scores are coming)."""
    for job in list_jobs(con, ACTIVE):
        if campaign_of(job) == campaign_id:
            return job
    return None
