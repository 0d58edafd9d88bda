"""The embedded demo: the whole loop on SmolLM2-135M and SciTLDR-A, offline, in a few minutes on 2 CPU cores.

Steps (each shows its progress on Home):
1. train   — a short real LoRA run (`python -m ft_core train`, 6 steps of 4 examples on 2 CPU cores, more with
   more cores or a GPU: `cpu_sizing`),
2. generate — base and fine-tuned outputs on 20 test items (`python -m ft_core generate --limit 20`),
3. score   — BLEU/ROUGE/BERTScore and the paired comparison (`python -m ft_core score`),
4. campaign — a demo campaign from the run, three demo annotator accounts, and SIMULATED judgments from two of
   them (comment "[simulated demo judgment]", drawn from the outputs' ROUGE-L with noise, seed 0) so the
   results page has something to show; the third account is left for the newcomer to judge pairs by hand,
5. judge   — the embedded model as an LLM judge of the campaign's pairs, both orders each (`jobs.judging`:
   `python -m ft_core judge`, its verdicts imported apart from human judgments), so the first Results page
   already shows a judge card and the prediction-powered interval beside the human-only one.

Steps 1-3 are jobs (`jobs.training`, `jobs.evaluation`) chained with `depends_on`; step 4 runs in the app (the
only writer of the store) when `advance` sees the score job finished, and queues step 5, a job of the same
pipeline. The demo's manifest lives in `<runs>/.demo.json`.

Closing the loop, an optional second part Home offers once the first has finished (`start_dpo`), so the first
stays a few minutes on 2 CPU cores:
6. export  — the demo campaign's SIMULATED preferences in TRL's format (`annotations.report.preferences`, in
   the app; its folder name and summary.json's `note` say "simulated"). The demo campaign is over test items,
   so the export includes them: the DPO run then learns on the very items it is compared on, which shows the
   mechanics, not whether preference tuning helps,
7. dpo     — a few DPO steps from the demo's LoRA run (`python -m ft_core dpo`, as many steps as
   `cpu_sizing` gives training; the run folder's name says "simulated", its preference_source.json the
   campaign and the export),
8. generate — base, fine-tuned and DPO outputs on the same items in one step (`extra_systems`),
9. score   — the three systems scored,
10. campaign — a three-system demo campaign (base, fine-tuned, dpo) with simulated judgments (the same
   simulation, labelled), whose Results page ranks the three systems (Bradley-Terry).
Steps 7-9 are jobs chained with `depends_on`; steps 6 and 10 run in the app, 10 once `advance` sees 9 done.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import threading
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from annotations import store
from annotations.accounts import users
from annotations.campaigns import (
    DEFAULT_INSTRUCTIONS,
    CampaignConfig,
    create_campaign,
    judge_folder,
    metrics_frame,
    runs,
)
from annotations.judging.assignment import next_item, own_assignment
from annotations.judging.judgments import submit
from annotations.report.preferences import PreferenceOptions, campaign_preferences, write_preferences
from ft_core.config import (
    DEFAULT_METRICS,
    DPOTrainConfig,
    GenerateConfig,
    ScoreConfig,
    TrainConfig,
    config_from_dict,
    config_to_dict,
)
from jobs import commands, evaluation, judging, machine, progress, queue, scheduler, training
from jobs.errors import JobError

MANIFEST = ".demo.json"
ANNOTATORS = ("demo-annotator-1", "demo-annotator-2", "demo-annotator-3")
SIMULATED = ANNOTATORS[:2]  # the third is left for a person to try the annotate page
SIMULATED_COMMENT = "[simulated demo judgment]"
_START_LOCK = threading.Lock()
JUDGE_GPU_SOURCE_TOKENS = 1024  # the judge's source budget on a GPU; on a CPU, as long as training's
STEP_NAMES = {
    "train": "Train a small LoRA on SciTLDR-A",
    "generate": "Generate base and fine-tuned outputs",
    "score": "Score them (BLEU, ROUGE, BERTScore)",
    "campaign": "Demo campaign with simulated judgments",
    "judge": "Judge the pairs with the embedded LLM judge (both orders)",
}
# the second part: the loop closed on the demo campaign's simulated preferences (`start_dpo`)
DPO_STEP_NAMES = {
    "export": "Export the demo campaign's simulated preferences",
    "dpo": "A few DPO steps on the simulated preferences",
    "generate": "Generate base, fine-tuned and DPO outputs",
    "score": "Score the three systems",
    "campaign": "Three-system demo campaign with simulated judgments",
}
THREE_SYSTEMS = ["base", "finetuned", "dpo"]
DPO_MIN_PAIRS = (
    6  # decided pairs the demo's export and DPO run need (of 20 items, ~13 with two simulated raters)
)
SIMULATED_NOTE = (
    "SIMULATED preferences: the demo campaign's judgments come from simulated annotators (comment "
    f"'{SIMULATED_COMMENT}'), not from people; its items are test items, so a model tuned on them is "
    "compared on the items it learnt from. A demo of the mechanics, not evidence."
)


def cpu_sizing(cpus: int) -> dict[str, Any]:
    """The demo's training size on a CPU with `cpus` cores, so the whole demo stays within ~5 minutes: on 2
    cores 6 steps of 4 examples, shorter sources and one validation at the end (bench/demo_end_to_end.py
    measures it); more steps where more cores make them cheap."""
    if cpus <= 2:
        return {"max_steps": 6, "eval_every_steps": 6, "max_eval_examples": 4, "max_source_length": 192}
    if cpus <= 8:
        return {"max_steps": 8, "eval_every_steps": 4, "max_eval_examples": 8, "max_source_length": 256}
    return {"max_steps": 16, "eval_every_steps": 8, "max_eval_examples": 16, "max_source_length": 256}


def machine_cpus() -> int:
    """The cores this process may use (its affinity, which a container or taskset narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def train_config(run_dir: str | Path, on_gpu: bool = False, cpus: int | None = None) -> TrainConfig:
    """The demo run's TrainConfig (data: the default SciTLDR-A files; model: embedded SmolLM2-135M), sized to
    the machine: `cpu_sizing(cpus)` on a CPU, a longer run on a GPU."""
    values: dict[str, Any] = {
        "base_model": "smollm2-135m",
        "run_dir": str(run_dir),
        "max_train_examples": 32,
        "max_target_length": 32,  # = the demo's max_new_tokens
        "batch_size": 4,
        "log_every_steps": 1,
        "lora_r": 8,
        "lora_alpha": 16,
        "learning_rate": 5e-4,
        "warmup_ratio": 0.0,
        **cpu_sizing(machine_cpus() if cpus is None else cpus),
    }
    if on_gpu:  # the same loop, long enough to move the metrics
        values.update(
            max_train_examples=2000,
            max_eval_examples=100,
            max_steps=0,
            epochs=2.0,
            batch_size=16,
            eval_every_steps=50,
            log_every_steps=5,
            lora_r=16,
            lora_alpha=32,
            learning_rate=2e-4,
            max_source_length=256,
        )
    return TrainConfig(**values)


@dataclass
class Step:
    """One step of the demo as Home shows it."""

    name: str
    state: str  # waiting | running | done | failed | cancelled | skipped (never ran: a step before it ended)
    fraction: float | None
    detail: str


@dataclass
class DemoState:
    """Where the demo stands: its steps, run folder, campaign and demo accounts (None when never started)."""

    run_dir: str
    steps: list[Step]
    campaign_id: str | None
    accounts: dict[str, str]
    finished: bool
    failed: bool
    stopped: bool = (
        False  # a step was cancelled (the ones after it are skipped): the demo can be started again
    )
    dpo_steps: list[Step] = field(default_factory=list)  # the second part's steps; [] when never started
    dpo_campaign_id: str | None = None  # the three-system campaign
    dpo_run_dir: str | None = None

    @property
    def over(self) -> bool:
        """Finished, failed or stopped: nothing more will happen until the demo is started again."""
        return self.finished or self.failed or self.stopped

    @property
    def dpo_finished(self) -> bool:
        return bool(self.dpo_steps) and all(s.state == "done" for s in self.dpo_steps)

    @property
    def dpo_over(self) -> bool:
        """The second part ended (finished, failed or stopped), or was never started."""
        ended = {"failed", "cancelled", "skipped"} & {s.state for s in self.dpo_steps}
        return not self.dpo_steps or self.dpo_finished or bool(ended)


def _manifest_path(runs_root: str | Path) -> Path:
    return Path(runs_root) / MANIFEST


def _read_manifest(runs_root: str | Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_manifest_path(runs_root).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_manifest(runs_root: str | Path, manifest: dict[str, Any]) -> None:
    path = _manifest_path(runs_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(MANIFEST + ".tmp")
    try:
        tmp.write_text(json.dumps(manifest, indent=2, default=str))
        os.replace(tmp, path)
    except OSError as e:
        raise JobError(f"cannot write {path}: {e.strerror or e} (is the disk full?)") from None


def start(
    con: duckdb.DuckDBPyConnection,
    runs_root: str | Path,
    on_gpu: bool | None = None,
    limit: int = 20,
    max_new_tokens: int = 32,
    overrides: dict[str, Any] | None = None,
    metrics: list[str] | None = None,
) -> DemoState:
    """Queue the demo's three jobs (train -> generate -> score); refused while a demo is still running.

    `overrides` change TrainConfig values of the demo run and `metrics` the scoring metrics (tests use a tiny
    model and no BERTScore to stay fast)."""
    with _START_LOCK:  # two browsers clicking at once: one demo
        current = status(con, runs_root)
        if current is not None and not (current.over and current.dpo_over):
            raise JobError("the demo is running already; watch it on Home or on the Jobs page")
        return _start(con, runs_root, on_gpu, limit, max_new_tokens, overrides, metrics)


def _start(
    con: duckdb.DuckDBPyConnection,
    runs_root: str | Path,
    on_gpu: bool | None,
    limit: int,
    max_new_tokens: int,
    overrides: dict[str, Any] | None,
    metrics: list[str] | None,
) -> DemoState:
    on_gpu = bool(machine.detect_gpus()) if on_gpu is None else on_gpu
    stamp = store.utcnow().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(runs_root) / f"demo-{stamp}"
    pipeline = f"demo-{stamp}-{store.new_id()[:6]}"
    config = train_config(run_dir, on_gpu)
    if overrides:
        config = config_from_dict(TrainConfig, {**config_to_dict(config), **overrides})
    train = training.train_job(
        con, config, runs_root, label="demo 1/4: train", pipeline=pipeline, env=commands.OFFLINE
    )
    generate = GenerateConfig(
        run_dir=str(run_dir),
        limit=limit if not on_gpu else max(limit, 100),
        max_new_tokens=max_new_tokens if not on_gpu else max(max_new_tokens, 64),
    )
    score = ScoreConfig(run_dir=str(run_dir), metrics=list(metrics or DEFAULT_METRICS))
    generate_job, score_job = evaluation.evaluate_jobs(
        con,
        generate,
        score,
        runs_root,
        env=commands.OFFLINE,
        depends_on=train.job_id,
        pipeline=pipeline,
        labels=("demo 2/4: generate", "demo 3/4: score"),
    )
    _write_manifest(
        runs_root,
        {
            "run_dir": str(run_dir),
            "pipeline": pipeline,
            "jobs": {"train": train.job_id, "generate": generate_job.job_id, "score": score_job.job_id},
            "campaign_id": None,
            "accounts": {},
            "started_at": stamp,
            "on_gpu": on_gpu,
            "limit": generate.limit,
            "max_new_tokens": generate.max_new_tokens,
            "metrics": score.metrics,
            "judge": judge_fields(
                config.base_model, JUDGE_GPU_SOURCE_TOKENS if on_gpu else config.max_source_length
            ),
        },
    )
    return status(con, runs_root)  # type: ignore[return-value]


def _job_step(name: str, job: queue.Job | None) -> Step:
    if job is None:
        return Step(name, "failed", None, "its job is gone from the store")
    if job.status == "finished":
        return Step(name, "done", 1.0, "done")
    if job.status in ("failed", "cancelled", "skipped"):
        return Step(name, job.status, None, job.error or job.status)
    if job.status == "queued":
        return Step(
            name, "waiting", 0.0, "waiting for the step before" if job.depends_on else "waiting for a slot"
        )
    if job.kind == "train":
        trained = runs.train_progress(job.run_dir)
        loss = f", loss {trained.loss:.3f}" if trained.loss is not None else ""
        text = trained.text if trained.fraction is not None else "loading the model"
        return Step(name, "running", trained.fraction, text + loss)
    now = progress.job_progress(job)  # in words: no progress bar or command line of the log
    return Step(name, "running", now.fraction, now.text)


JOB_STEPS = (
    "train",
    "generate",
    "score",
)  # the jobs queued at the start; the judge's comes after the campaign


def status(con: duckdb.DuckDBPyConnection, runs_root: str | Path) -> DemoState | None:
    """The latest demo's steps with their progress; None when no demo was started here."""
    manifest = _read_manifest(runs_root)
    if manifest is None:
        return None
    ids = manifest.get("jobs", {})
    steps = [_job_step(STEP_NAMES[kind], queue.get_job(con, ids.get(kind, ""))) for kind in JOB_STEPS]
    campaign_id = manifest.get("campaign_id")
    if campaign_id:
        steps.append(Step(STEP_NAMES["campaign"], "done", 1.0, "done"))
    elif manifest.get("campaign_error"):
        steps.append(Step(STEP_NAMES["campaign"], "failed", None, manifest["campaign_error"]))
    else:
        steps.append(Step(STEP_NAMES["campaign"], "waiting", 0.0, "after scoring"))
    if ids.get("judge"):
        steps.append(_job_step(STEP_NAMES["judge"], queue.get_job(con, ids["judge"])))
    elif manifest.get("judge_error"):
        steps.append(Step(STEP_NAMES["judge"], "failed", None, manifest["judge_error"]))
    else:
        steps.append(Step(STEP_NAMES["judge"], "waiting", 0.0, "after the campaign"))
    second = manifest.get("dpo") or {}
    return DemoState(
        run_dir=manifest["run_dir"],
        steps=steps,
        campaign_id=campaign_id,
        accounts=manifest.get("accounts", {}),
        finished=all(s.state == "done" for s in steps),
        failed=any(s.state == "failed" for s in steps),
        stopped=any(s.state in ("cancelled", "skipped") for s in steps),
        dpo_steps=_dpo_steps(con, second) if second else [],
        dpo_campaign_id=second.get("campaign_id"),
        dpo_run_dir=second.get("run_dir"),
    )


def _dpo_steps(con: duckdb.DuckDBPyConnection, second: dict[str, Any]) -> list[Step]:
    """The second part's steps: the export (done when the manifest has it), its three jobs, the campaign."""
    if second.get("export_error"):
        failed = Step(DPO_STEP_NAMES["export"], "failed", None, second["export_error"])
        later = [Step(DPO_STEP_NAMES[k], "skipped", None, "not started") for k in list(DPO_STEP_NAMES)[1:]]
        return [failed, *later]
    export = Step(DPO_STEP_NAMES["export"], "done", 1.0, f"{second.get('pairs', 0)} simulated pairs")
    ids = second.get("jobs", {})
    steps = [export] + [
        _job_step(DPO_STEP_NAMES[kind], queue.get_job(con, ids.get(kind, "")))
        for kind in ("dpo", "generate", "score")
    ]
    if second.get("campaign_id"):
        steps.append(Step(DPO_STEP_NAMES["campaign"], "done", 1.0, "done"))
    elif second.get("campaign_error"):
        steps.append(Step(DPO_STEP_NAMES["campaign"], "failed", None, second["campaign_error"]))
    else:
        steps.append(Step(DPO_STEP_NAMES["campaign"], "waiting", 0.0, "after scoring"))
    return steps


def advance(con: duckdb.DuckDBPyConnection, runs_root: str | Path) -> DemoState | None:
    """Move the demo on: settle its jobs, once scoring is done create the campaign, the accounts and the
    simulated judgments, then queue the judge on the campaign (each once). Call it often (Home does, every two
    seconds)."""
    scheduler.reconcile(con)
    state = status(con, runs_root)
    if state is not None and state.finished and not state.dpo_over:
        return _advance_dpo(con, runs_root, state)
    if state is None or state.over:
        return state
    if state.campaign_id:
        return _start_judge(con, runs_root, state)
    if state.steps[2].state != "done":
        return state
    manifest = _read_manifest(runs_root) or {}
    try:
        accounts = demo_accounts(con)
        campaign_id = create_campaign(
            con,
            CampaignConfig(
                name=campaign_name(manifest.get("started_at", "")),
                run_dir=state.run_dir,
                k=3,
                instructions="DEMO campaign: two of the three judgments per pair are simulated. "
                + DEFAULT_INSTRUCTIONS,
            ),
        )
        simulate_judgments(con, campaign_id, [accounts_ids(con)[name] for name in SIMULATED])
    except Exception as e:  # say what went wrong on Home instead of retrying forever
        manifest["campaign_error"] = f"{type(e).__name__}: {e}"
        _write_manifest(runs_root, manifest)
        return status(con, runs_root)
    manifest.update(campaign_id=campaign_id, accounts=accounts)
    _write_manifest(runs_root, manifest)
    return _start_judge(con, runs_root, status(con, runs_root))  # type: ignore[arg-type]


def dpo_config(
    sft_run: str | Path,
    preferences: str | Path,
    run_dir: str | Path,
    on_gpu: bool = False,
    cpus: int | None = None,
) -> DPOTrainConfig:
    """The demo's DPO run: LoRA from the demo run, as many steps as `cpu_sizing` gives its training on a CPU
    (6 on 2 cores), every simulated pair trained on (no held-out share: the demo has ~13)."""
    sizing = cpu_sizing(machine_cpus() if cpus is None else cpus)
    return DPOTrainConfig(
        sft_run=str(sft_run),
        preferences=str(preferences),
        run_dir=str(run_dir),
        eval_share=0.0,
        min_pairs=DPO_MIN_PAIRS,
        max_steps=24 if on_gpu else sizing["max_steps"],
        eval_every_steps=24 if on_gpu else sizing["max_steps"],
        batch_size=4,
        learning_rate=5e-5,
        warmup_ratio=0.0,
        max_length=(512 if on_gpu else sizing["max_source_length"]) + 64,  # the prompt, template and answer
    )


def start_dpo(
    con: duckdb.DuckDBPyConnection, runs_root: str | Path, overrides: dict[str, Any] | None = None
) -> DemoState:
    """The second part: export the finished demo campaign's simulated preferences now, then queue DPO ->
    generate (base, fine-tuned, dpo) -> score; `advance` makes the three-system campaign. Refused before the
    first part has finished and while a second part runs. `overrides` change DPOTrainConfig values (tests)."""
    with _START_LOCK:
        state = status(con, runs_root)
        if state is None or not state.finished:
            raise JobError("run the demo first: the DPO part starts from its finished campaign")
        if not state.dpo_over:
            raise JobError("the demo's DPO part is running already; watch it on Home or on the Jobs page")
        return _start_dpo(con, runs_root, state, overrides or {})


def _start_dpo(
    con: duckdb.DuckDBPyConnection, runs_root: str | Path, state: DemoState, overrides: dict[str, Any]
) -> DemoState:
    manifest = _read_manifest(runs_root) or {}
    stamp = store.utcnow().strftime("%Y%m%d-%H%M%S")
    base = Path(state.run_dir)
    export = base.with_name(f"{base.name}-simulated-preferences-{stamp}")
    dpo_dir = base.with_name(f"{base.name}-dpo-simulated-{stamp}")
    study = base.with_name(f"{base.name}-three-systems-{stamp}")
    on_gpu = bool(manifest.get("on_gpu"))
    config = dpo_config(base, export, dpo_dir, on_gpu)
    if overrides:
        config = config_from_dict(DPOTrainConfig, {**config_to_dict(config), **overrides})
    second: dict[str, Any] = {
        "started_at": stamp,
        "export_dir": str(export),
        "run_dir": str(dpo_dir),
        "study_dir": str(study),
        "jobs": {},
        "campaign_id": None,
    }
    manifest["dpo"] = second
    try:
        options = PreferenceOptions(min_pairs=config.min_pairs, include_eval_split=True)
        data = campaign_preferences(con, state.campaign_id, options)  # type: ignore[arg-type]
        data.summary.note = SIMULATED_NOTE
        write_preferences(data, export)
    except Exception as e:  # too few decided pairs, a prompt format lost: said on Home, nothing queued
        second["export_error"] = f"{type(e).__name__}: {e}"
        _write_manifest(runs_root, manifest)
        return status(con, runs_root)  # type: ignore[return-value]
    second["pairs"] = data.summary.written
    pipeline = f"{manifest.get('pipeline', 'demo')}-dpo-{stamp}"
    dpo_job = training.dpo_job(
        con,
        config,
        runs_root,
        label="demo, DPO part 1/3: DPO on simulated preferences",
        pipeline=pipeline,
        env=commands.OFFLINE,
    )
    generate = GenerateConfig(
        run_dir=str(base),
        output_dir=str(study),
        extra_systems=[f"dpo={dpo_dir}"],
        limit=manifest.get("limit") or 20,
        max_new_tokens=manifest.get("max_new_tokens") or 32,
    )
    score = ScoreConfig(
        run_dir=str(study),
        metrics=list(manifest.get("metrics") or DEFAULT_METRICS),
        system_a="finetuned",
        system_b="dpo",
    )
    generate_job, score_job = evaluation.evaluate_jobs(
        con,
        generate,
        score,
        runs_root,
        env=commands.OFFLINE,
        depends_on=dpo_job.job_id,
        pipeline=pipeline,
        labels=(
            "demo, DPO part 2/3: generate base, fine-tuned, DPO",
            "demo, DPO part 3/3: score the three systems",
        ),
    )
    second["jobs"] = {"dpo": dpo_job.job_id, "generate": generate_job.job_id, "score": score_job.job_id}
    _write_manifest(runs_root, manifest)
    return status(con, runs_root)  # type: ignore[return-value]


def _advance_dpo(con: duckdb.DuckDBPyConnection, runs_root: str | Path, state: DemoState) -> DemoState:
    """Once the second part's scoring is done: the three-system campaign with simulated judgments (once)."""
    if state.dpo_campaign_id or state.dpo_steps[3].state != "done":
        return state
    manifest = _read_manifest(runs_root) or {}
    second = manifest["dpo"]
    try:
        campaign_id = create_campaign(
            con,
            CampaignConfig(
                name=three_systems_campaign_name(second.get("started_at", "")),
                run_dir=second["study_dir"],
                systems=THREE_SYSTEMS,
                system_a="finetuned",
                system_b="dpo",
                k=3,
                instructions="DEMO campaign: two of the three judgments per pair are simulated. "
                + DEFAULT_INSTRUCTIONS,
            ),
        )
        simulate_judgments(con, campaign_id, [accounts_ids(con)[name] for name in SIMULATED])
    except Exception as e:  # say what went wrong on Home instead of retrying forever
        second["campaign_error"] = f"{type(e).__name__}: {e}"
    else:
        second["campaign_id"] = campaign_id
    _write_manifest(runs_root, manifest)
    return status(con, runs_root)  # type: ignore[return-value]


def three_systems_campaign_name(started_at: str) -> str:
    """The second demo campaign's name: says its judgments are simulated, never which system is which."""
    return campaign_name(started_at).replace("Demo study:", "Demo study, three systems, simulated judgments:")


def judge_fields(model: str, source_tokens: int) -> dict[str, Any]:
    """The demo judge's JudgeConfig fields: the demo's own base model (the embedded SmolLM2-135M, weak: its
    card says so) reading the campaign's pairs, sources cut to `source_tokens` (on a CPU as short as
    training reads them: the judge step then takes about a minute of 2 cores for the demo's 20 pairs)."""
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(model).name).strip("-.") or "model"
    return {
        "name": f"local-{slug}",
        "backend": "local",
        "model": model,
        "max_source_tokens": source_tokens,
        "batch_size": 8,
    }


def _start_judge(con: duckdb.DuckDBPyConnection, runs_root: str | Path, state: DemoState) -> DemoState:
    """Queue the judge on the demo campaign, once (a job of the demo's pipeline, imported when it ends)."""
    manifest = _read_manifest(runs_root) or {}
    if manifest.get("jobs", {}).get("judge") or manifest.get("judge_error") or not state.campaign_id:
        return state
    # This process may not be the app (a test, a script): the demo connects the campaigns' side itself.
    judging.connect(judge_folder.prepare_judging, judge_folder.store_judging)
    fields = manifest.get("judge") or judge_fields("smollm2-135m", cpu_sizing(2)["max_source_length"])
    try:
        job = judging.start(
            con,
            state.campaign_id,
            runs_root,
            fields,
            label="demo 4/4: judge",
            pipeline=manifest.get("pipeline"),
        )
    except Exception as e:  # say what went wrong on Home instead of retrying forever
        manifest["judge_error"] = f"{type(e).__name__}: {e}"
    else:
        manifest.setdefault("jobs", {})["judge"] = job.job_id
    _write_manifest(runs_root, manifest)
    return status(con, runs_root)  # type: ignore[return-value]


def campaign_name(started_at: str) -> str:
    """The demo campaign's name: what the study is about, never which system is which (annotators see every
    open campaign's name), with the demo's start time (`20261203-064510` -> 2026-12-03 06:45) to tell runs
    apart."""
    try:
        when = datetime.strptime(started_at, "%Y%m%d-%H%M%S").strftime(" (%Y-%m-%d %H:%M)")
    except ValueError:
        when = ""
    return f"Demo study: SciTLDR summaries{when}"


def accounts_ids(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    frame = users.list_users(con)
    return dict(zip(frame.username, frame.user_id))


def demo_accounts(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Create (or reset the passwords of) the demo annotator accounts; returns username -> new password."""
    existing = accounts_ids(con)
    passwords = {}
    for name in ANNOTATORS:
        password = f"demo-{secrets.token_urlsafe(12)}"
        if name in existing:
            users.set_password(con, name, password)
        else:
            users.create_user(con, name, password, "annotator", created_by="demo")
        passwords[name] = password
    return passwords


def simulate_judgments(
    con: duckdb.DuckDBPyConnection, campaign_id: str, annotator_ids: list[str], seed: int = 0
) -> int:
    """Judge every pair these annotators are served, as a noisy annotator who prefers the output with the
    higher ROUGE-L would (logistic in the difference, some ties), taking 15-60 s per pair on a simulated
    clock over the last hour. Clearly labelled: the comment of every judgment says it is simulated. Returns
    the number made."""
    metrics = metrics_frame(con, campaign_id)
    quality = {
        (r.item_id, r.system): float(r.value)
        for r in metrics[metrics.metric == "rougeL"].itertuples()
        if r.value is not None and not math.isnan(r.value)
    }
    made = 0
    for number, annotator_id in enumerate(annotator_ids):
        bias = np.random.default_rng([seed, number]).normal(0, 0.3)
        # simulated clock: pairs served and answered over the last hour, 15-60 s each (as a person would)
        clock = store.utcnow() - timedelta(hours=1) + timedelta(minutes=number)
        while (pair := next_item(con, campaign_id, annotator_id, now=clock)) is not None:
            owned = own_assignment(con, pair.token, annotator_id)
            item_id, left, right = owned.item_id, owned.shown_left, owned.shown_right
            # drawn per (annotator, item) in system order: the same judgments whatever the serving order and
            # sides
            rng = np.random.default_rng([seed, number, zlib.crc32(item_id.encode())])
            first, second = sorted((left, right))
            q = {s: quality.get((item_id, s), 0.3) for s in (first, second)}
            p_first = 1 / (1 + math.exp(-(8 * (q[first] - q[second]) + bias)))
            tie, pick, bad = rng.random(), rng.random(), rng.random()
            winner = first if pick < p_first else second
            choice = "tie" if tie < 0.12 else ("A" if winner == left else "B")
            if max(q.values()) < 0.08 and bad < 0.5:
                choice = "both_bad"
            noise = {s: rng.normal(0, 0.6, size=len(pair.criteria)) for s in (first, second)}
            scores = {
                c.name: {
                    side: int(
                        np.clip(round(1.5 + 6 * q[system] + noise[system][i]), c.min_score, c.max_score)
                    )
                    for side, system in (("A", left), ("B", right))
                }
                for i, c in enumerate(pair.criteria)
            }
            clock += timedelta(seconds=float(rng.uniform(15, 60)))
            submit(con, pair.token, annotator_id, choice, scores, comment=SIMULATED_COMMENT, now=clock)
            clock += timedelta(seconds=3)
            made += 1
    return made
