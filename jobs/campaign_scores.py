"""Reference-free scores for a new campaign, computed in the background, never blocking its creation.

A campaign made from a CSV/JSONL with a `source` column has outputs and sources but no score against the
source (a run folder brings the ones its scoring job computed). `start`, called by the pages right after
`create_campaign`, writes the campaign's outputs and sources into
`<runs>/.campaign-scores/<campaign_id>/outputs/` (`annotations.campaigns.source_scores`) and queues `python -m
ft_core score` on that folder: a CPU job (the default scores, `ft_core.config.SOURCE_SCORE_METRICS`, load no
model), offline. It returns at once. When the job ends, `scheduler.settle` calls `store_scores`, in the app
(the only writer of the store): the scores become the campaign's metrics, and only then is the job "finished";
the results page shows them from its next visit.

Reading the campaign and storing its scores is the campaigns' work (`annotations.campaigns.source_scores`:
`prepare_scoring`, `store_scores`), which jobs/ may not import: the app hands the two steps over once with
`connect` (streamlit_app.py), and this module registers its finishing step with the scheduler
(`scheduler.on_finished`), so the scheduler never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ft_core.config import SOURCE_SCORE_METRICS, ScoreConfig
from jobs import commands, scheduler
from jobs.errors import JobError
from jobs.logs import job_files_dir
from jobs.queue import ACTIVE, Job, list_jobs

KIND = "campaign_scores"
FOLDER = ".campaign-scores"  # under the runs folder; hidden, so no page lists it as a run


@dataclass(frozen=True)
class CampaignSteps:
    """The campaign's side of its scoring, from annotations.campaigns.source_scores."""

    # (con, campaign_id, folder) -> the campaign's language, after writing its outputs and sources into the
    # folder; None when it needs no scores (no source, made from a run folder, or scored already)
    prepare: Callable[[duckdb.DuckDBPyConnection, str, Path], str | None]
    # (con, campaign_id, folder) -> why the scores in the folder could not be stored, or None once they are
    store: Callable[[duckdb.DuckDBPyConnection, str, Path], str | None]


_STEPS: dict[str, CampaignSteps] = {}  # KIND -> the steps, once the app has connected them


def connect(
    prepare: Callable[[duckdb.DuckDBPyConnection, str, Path], str | None],
    store: Callable[[duckdb.DuckDBPyConnection, str, Path], str | None],
) -> None:
    """Hand over the campaign's two steps (`annotations.campaigns.source_scores.prepare_scoring` and
    `store_scores`); the app does it once, before its watcher settles any job."""
    _STEPS[KIND] = CampaignSteps(prepare, store)


def scores_folder(runs_root: str | Path, campaign_id: str) -> Path:
    """The folder the campaign's scoring job reads and writes (laid out as a run folder)."""
    return Path(runs_root) / FOLDER / campaign_id


def start(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    runs_root: str | Path,
    metrics: tuple[str, ...] | list[str] = SOURCE_SCORE_METRICS,
) -> Job | None:
    """Queue the scoring of the campaign's outputs against their sources, and return without waiting; None
    when the campaign was made from a run folder, no item has a source, or it has scores against the source
    already."""
    steps = _STEPS.get(KIND)
    if steps is None:
        raise JobError(
            "the app has not connected the campaigns to their scoring jobs (campaign_scores.connect)"
        )
    folder = scores_folder(runs_root, campaign_id)
    language = steps.prepare(con, campaign_id, folder)
    if language is None:
        return None
    config = ScoreConfig(
        run_dir=str(folder),
        metrics=list(metrics),
        language=language,
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
        env=commands.OFFLINE,
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
    steps = _STEPS.get(KIND)
    if steps is None:
        return (
            "the scores could not be stored: the campaigns are not connected here (campaign_scores.connect)"
        )
    return steps.store(con, campaign_id, Path(job.run_dir))


def pending(con: duckdb.DuckDBPyConnection, campaign_id: str) -> Job | None:
    """The campaign's queued or running scoring job, if any (the results page says the scores are coming)."""
    for job in list_jobs(con, ACTIVE):
        if campaign_of(job) == campaign_id:
            return job
    return None


scheduler.on_finished(KIND, store_scores)
