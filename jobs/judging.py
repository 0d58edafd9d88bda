"""An LLM judge on a campaign's pairs, run as a job: the Campaigns page's "Add a judge", the demo's last
step.

`start` asks the campaign where its pairs are (its run folder; for a campaign made from a CSV/JSONL, a folder
`<runs>/.campaign-judges/<campaign_id>/` written from its stored items), writes the judge's config under
`<runs>/.jobs/` and queues `python -m ft_core judge --config FILE` (docs/judges.md), and returns at once.
When the process ends well, `scheduler.settle` calls `store_verdicts` in the app (the only writer of the
store): the verdicts are imported as the campaign's judge verdicts, apart from human judgments, and only then
is the job "finished"; a judge that fails leaves the store as it was, and the job says why in one line.

Reading the campaign and importing verdicts is the campaigns' work (`annotations.campaigns.judge_folder`:
`prepare_judging`, `store_judging`), which jobs/ may not import: the app hands the two steps over once with
`connect` (streamlit_app.py), as for `campaign_scores`. Nor may jobs/ import `ft_core.judge` (torch lies down
its imports): the judge travels as a mapping of `JudgeConfig`'s fields, which the page checks as a JudgeConfig
first and `python -m ft_core judge` checks again when it reads the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from jobs import commands, scheduler
from jobs.errors import JobError
from jobs.logs import job_files_dir
from jobs.queue import ACTIVE, Job, list_jobs

KIND = "judge"
FOLDER = ".campaign-judges"  # under the runs folder; hidden, so no page lists it as a run
CAMPAIGN_ENV = "FT_JUDGE_CAMPAIGN"  # the campaign a judging job is for, kept with the job (its environment)


@dataclass(frozen=True)
class CampaignSteps:
    """The campaign's side of its judging, from annotations.campaigns.judge_folder."""

    # (con, campaign_id, folder) -> the JudgeConfig fields naming the campaign's pairs (run_dir, system_a,
    # system_b, decodings, seeds), after writing them into the folder for a campaign made from a file
    prepare: Callable[[duckdb.DuckDBPyConnection, str, Path], dict[str, Any]]
    # (con, campaign_id, judge name, folder) -> why the judge's verdicts could not be imported, or None
    store: Callable[[duckdb.DuckDBPyConnection, str, str, Path], str | None]


_STEPS: dict[str, CampaignSteps] = {}  # KIND -> the steps, once the app has connected them


def connect(
    prepare: Callable[[duckdb.DuckDBPyConnection, str, Path], dict[str, Any]],
    store: Callable[[duckdb.DuckDBPyConnection, str, str, Path], str | None],
) -> None:
    """Hand over the campaign's two steps (`annotations.campaigns.judge_folder.prepare_judging` and
    `store_judging`); the app does it once, before its watcher settles any job."""
    _STEPS[KIND] = CampaignSteps(prepare, store)


def judge_folder(runs_root: str | Path, campaign_id: str) -> Path:
    """The folder a judge of a campaign made from a file reads and writes (laid out as a run folder)."""
    return Path(runs_root) / FOLDER / campaign_id


def judge_command(config_file: str | Path) -> list[str]:
    """`python -m ft_core judge --config FILE`."""
    return commands.ft_core_command("judge", ["--config", str(config_file)])


def start(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    runs_root: str | Path,
    judge: dict[str, Any],
    *,
    label: str | None = None,
    pipeline: str | None = None,
) -> Job:
    """Queue the judge on the campaign's pairs, both orders each, and return without waiting.

    `judge`: JudgeConfig's fields (`name` among them: the judge's folder and its card's title); the fields
    that say which pairs are judged come from the campaign. JobError, before anything is written, when the
    app has not connected the campaigns, the judge has no name, or its key's environment variable is not set
    here (the job inherits the app's environment); the campaign's own errors (AnnotationError) pass on."""
    steps = _STEPS.get(KIND)
    if steps is None:
        raise JobError("the app has not connected the campaigns to their judging jobs (judging.connect)")
    name = judge.get("name")
    if not name:
        raise JobError("the judge has no name")
    key_variable = judge.get("api_key_env")
    if key_variable and not os.environ.get(key_variable):
        raise JobError(
            f"the environment variable {key_variable} is not set where the app runs, so the judge would have "
            "no key: set it and restart the app, or leave the key variable empty for a server without a key"
        )
    target = steps.prepare(con, campaign_id, judge_folder(runs_root, campaign_id))
    config_file = commands.write_job_config({**judge, **target}, runs_root, f"judge-{name}")
    return scheduler.launch(
        con,
        KIND,
        judge_command(config_file),
        log_dir=job_files_dir(runs_root),
        run_dir=target["run_dir"],
        label=label or f"judge {name}, campaign {campaign_id}",
        needs_gpu=judge.get("backend", "local") == "local",
        pipeline=pipeline,
        env={**commands.OFFLINE, CAMPAIGN_ENV: campaign_id},
    )


def campaign_of(job: Job) -> str | None:
    """The campaign a judging job is for, or None for any other job."""
    return job.env.get(CAMPAIGN_ENV) if job.kind == KIND else None


def judge_of(job: Job) -> dict[str, Any]:
    """The judge's fields a judging job runs with (its config file); {} when the file is gone or
    unreadable."""
    command = job.command
    at = command.index("--config") if "--config" in command else -1
    if at < 0 or at + 1 >= len(command):
        return {}
    try:
        values = yaml.safe_load(Path(command[at + 1]).read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return values if isinstance(values, dict) else {}


def store_verdicts(con: duckdb.DuckDBPyConnection, job: Job) -> str | None:
    """Import a finished judging job's verdicts into its campaign; returns why it could not, or None."""
    campaign_id = campaign_of(job)
    if campaign_id is None:
        return f"job {job.job_id} is not a campaign's judging job"
    steps = _STEPS.get(KIND)
    if steps is None:
        return "the verdicts could not be imported: the campaigns are not connected here (judging.connect)"
    judge = judge_of(job)
    if not judge.get("name") or not judge.get("run_dir"):
        return f"the verdicts could not be imported: the judge's config file of job {job.job_id} is gone"
    return steps.store(con, campaign_id, str(judge["name"]), Path(judge["run_dir"]))


def campaign_jobs(con: duckdb.DuckDBPyConnection, campaign_id: str) -> list[Job]:
    """The campaign's judging jobs, newest first."""
    return [job for job in list_jobs(con) if campaign_of(job) == campaign_id]


def pending(con: duckdb.DuckDBPyConnection, campaign_id: str) -> Job | None:
    """The campaign's queued or running judging job, if any."""
    return next((job for job in campaign_jobs(con, campaign_id) if job.status in ACTIVE), None)


scheduler.on_finished(KIND, store_verdicts)
