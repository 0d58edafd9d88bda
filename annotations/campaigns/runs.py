"""Run folders for the researcher's pages: the runs table, progress, curves, configs side by side, metric
tables, sweep grids.

A run folder (`runs/<run>/`) is written by an `ft_core` job while the app reads it, and may be deleted while a
page lists it. Its layout belongs to `ft_core.runfolder` (docs/run-folder.md); every file is read through it,
and its readers return an empty value instead of raising when a file is missing, half-written or the folder is
gone. No torch: these are JSON, JSONL, CSV and Parquet files. A sweep folder holds one run folder per point
(`runs/sweep/lr0.0001_r16/`, `runs/sweep/max_target_length441/`) and usually a `sweep.json` naming the swept
fields; `sweep_points` is the table that compares the points.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from annotations.campaigns import time_left
from ft_core import runfolder
from ft_core.config import TrainConfig, config_to_dict
from ft_core.runfolder import find_runs, is_run, is_sweep, read_config, read_log, read_status

__all__ = [
    "RunProgress", "comparison", "config_table", "curves", "find_runs", "format_duration", "is_run",
    "is_sweep", "list_runs", "list_sweeps", "log_progress", "metric_tables", "outside_runs", "read_config",
    "read_log", "read_status", "sweep_fields", "sweep_grid", "sweep_members", "sweep_metrics", "sweep_points",
    "train_progress",
]  # fmt: skip

_PROGRESS = re.compile(r"(\d+)/(\d+)")


def list_runs(root: str | Path) -> pd.DataFrame:
    """One row per run folder: run (path relative to root), path, state, progress, best eval loss, key config
    values, and what it has (adapter, outputs, scores)."""
    root = Path(root)
    rows = []
    for path in find_runs(root):
        # a "running" run that went silent (killed before it could say so) shows as it ended
        status, config = runfolder.observed_status(path), read_config(path)
        rows.append(
            {
                "run": str(path.relative_to(root)),
                "path": str(path),
                "state": status.state or ("unknown" if path.exists() else "deleted"),
                "step": status.step,
                "total_steps": status.total_steps,
                "best_eval_loss": status.best_eval_loss,
                "final_train_loss": status.final_train_loss,
                "base_model": config.base_model if config else None,
                "lora_r": config.lora_r if config else None,
                "learning_rate": config.learning_rate if config else None,
                "adapter": runfolder.has_adapter(path),
                "outputs": len(runfolder.output_files(runfolder.outputs_dir(path))),
                "scores": runfolder.has_scores(path),
                "sweep": path.parent.name if path.parent != root else None,
                "writer_alive": runfolder.writer_alive(status),
                "updated_at": pd.to_datetime(status.updated_at, unit="s", utc=True)
                if status.updated_at is not None
                else None,
            }
        )
    columns = [
        "run",
        "path",
        "state",
        "step",
        "total_steps",
        "best_eval_loss",
        "final_train_loss",
        "base_model",
    ]
    columns += [
        "lora_r",
        "learning_rate",
        "adapter",
        "outputs",
        "scores",
        "sweep",
        "writer_alive",
        "updated_at",
    ]
    return pd.DataFrame(rows, columns=columns)


def outside_runs(root: str | Path, tracked: list[str]) -> pd.DataFrame:
    """Runs being trained right now by a process the app did not start (a terminal, a cluster node sharing the
    folder): state running, writer alive, and not among the `tracked` run folders of the app's jobs."""
    table = list_runs(root)
    known = [os.path.realpath(p) for p in tracked]

    def by_the_app(path: str) -> bool:  # the run folder of a job, or a member of a sweep job's folder
        real = os.path.realpath(path)
        return any(real == k or real.startswith(k + os.sep) for k in known)

    keep = table.writer_alive.astype(bool) & ~table.path.map(by_the_app).astype(bool)
    return table[keep]


def list_sweeps(root: str | Path) -> list[Path]:
    """Sweep folders directly under `root`."""
    return runfolder.find_sweeps(root)


# ------------------------------------------------------------------------------------------------ progress


@dataclass
class RunProgress:
    """Where a running job stands, for the progress bar: fraction done, seconds left, and live figures."""

    fraction: float | None
    eta_s: float | None
    step: int | None
    total_steps: int | None
    loss: float | None
    eval_loss: float | None
    tokens_per_s: float | None
    gpu_mem_gb: float | None
    text: str
    time_left: time_left.TimeLeft | None = (
        None  # the smoothed estimate with its range (annotations/campaigns/time_left.py)
    )


def _last(frame: pd.DataFrame, column: str) -> float | None:
    if column not in frame:
        return None
    values = frame[column].dropna()
    return float(values.iloc[-1]) if len(values) else None


def train_progress(run_dir: str | Path | None, now: float | None = None) -> RunProgress:
    """Progress of a training run from status.json (steps, start time) and train_log.jsonl (loss,
    tokens/s)."""
    status = read_status(run_dir)
    log = read_log(run_dir) if run_dir else pd.DataFrame()
    step, total = status.step, status.total_steps
    fraction = left = None
    if isinstance(step, (int, float)) and isinstance(total, (int, float)) and total > 0:
        fraction = min(1.0, step / total)
        now = time.time() if now is None else now
        if status.running:
            left = time_left.estimate(_log_points(log), int(total), now, _eval_every(run_dir))
    text = f"step {step}/{total}" if fraction is not None else (status.state or "starting")
    if fraction is not None and status.running:
        text += f", {left.text()}" if left is not None else ", estimating the time left"
    eta = left.estimate_s if left is not None else None
    return RunProgress(
        fraction=fraction,
        eta_s=eta,
        step=step,
        total_steps=total,
        loss=_last(log, "loss"),
        eval_loss=_last(log, "eval_loss"),
        tokens_per_s=_last(log, "tokens_per_s"),
        gpu_mem_gb=_last(log, "gpu_mem_gb"),
        text=text,
        time_left=left,
    )


def _log_points(log: pd.DataFrame) -> list[time_left.LogPoint]:
    """The train log's rows as (step, time, is it a validation row) for the time-left estimate."""
    if "time" not in log or "step" not in log:
        return []
    is_eval = log["eval_loss"].notna() if "eval_loss" in log else pd.Series(False, index=log.index)
    return [time_left.LogPoint(s, t, bool(e)) for s, t, e in zip(log["step"], log["time"], is_eval)]


def _eval_every(run_dir: str | Path | None) -> int:
    config = read_config(run_dir)
    return (
        config.eval_every_steps if config and config.eval_every_steps and config.eval_every_steps > 0 else 0
    )


def log_progress(log_tail: str) -> float | None:
    """Fraction done from the last `N/M` a job printed (generation prints `file: 40/100 items`)."""
    for line in reversed(log_tail.splitlines()):
        matches = _PROGRESS.findall(line)
        if matches:
            done, total = (int(x) for x in matches[-1])
            return min(1.0, done / total) if total else None
    return None


def format_duration(seconds: float) -> str:
    """`75` -> '1 min 15 s'; for time-left texts."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


# ------------------------------------------------------------------------------------------------ comparing


def curves(run_dirs: dict[str, str | Path], metrics: tuple[str, ...] = ("loss", "eval_loss")) -> pd.DataFrame:
    """Long frame run, step, metric, value of the chosen runs' curves, to overlay them in one chart."""
    parts = []
    for name, path in run_dirs.items():
        log = read_log(path)
        for metric in metrics:
            if metric in log and "step" in log:
                part = log[["step", metric]].dropna().rename(columns={metric: "value"})
                part.insert(0, "metric", metric)
                part.insert(0, "run", name)
                parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["run", "metric", "step", "value"])
    return pd.concat(parts, ignore_index=True)


def config_table(run_dirs: dict[str, str | Path]) -> pd.DataFrame:
    """Configs side by side: one row per field, one column per run, and `differs` (fields that differ
    first). A preference-tuned (DPO) run shows its own config (beta, loss, the SFT run it started from) and
    what it learnt from (campaign, export), then the SFT settings it inherits; with one among the runs, a
    `run_type` row says which is which."""
    configs = {name: _run_fields(path) for name, path in run_dirs.items()}
    if any(runfolder.is_dpo_run(path) for path in run_dirs.values()):
        configs = {
            name: {"run_type": "DPO" if runfolder.is_dpo_run(path) else "SFT", **configs[name]}
            for name, path in run_dirs.items()
        }
    fields: list[str] = []
    for config in configs.values():
        fields += [f for f in config if f not in fields]
    table = pd.DataFrame(
        {name: [_cell(config.get(f)) for f in fields] for name, config in configs.items()}, index=fields
    )
    table.index.name = "field"
    table["differs"] = table.nunique(axis=1, dropna=False) > 1 if len(configs) > 1 else False
    return table.sort_values("differs", ascending=False, kind="stable")


def _config_fields(config: TrainConfig | None) -> dict[str, Any]:
    return config_to_dict(config) if config is not None else {}


def _run_fields(path: str | Path) -> dict[str, Any]:
    """A run's config fields. A DPO run: its DPOTrainConfig (its own learning rate, steps, run folder), what
    it learnt from, then the SFT settings its config.json keeps (base model, template, LoRA shape), those
    DPO sets too prefixed `sft.` (the SFT run's learning rate is not the DPO run's)."""
    sft = _config_fields(read_config(path))
    if not runfolder.is_dpo_run(path):
        return sft
    dpo = runfolder.read_dpo_config(path)
    source = runfolder.read_preference_source(path)
    export = source.get("export_summary") or {}
    learnt = {
        "campaign_id": source.get("campaign_id"),
        "preferences_file": source.get("preferences"),
        "preferences_note": export.get("note") or None,  # the demo's says its preferences are simulated
        "train_pairs": source.get("train_pairs"),
        "held_out_pairs": source.get("held_out_pairs"),
        "disagreement_rate": source.get("disagreement_rate"),
        "label_smoothing_used": source.get("label_smoothing"),
    }
    inherited = {(f"sft.{k}" if k in dpo else k): v for k, v in sft.items() if k not in ("run_dir", "resume")}
    return {**dpo, **learnt, **inherited}


def _cell(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else ("" if value is None else str(value))


def comparison(run_dir: str | Path) -> pd.DataFrame:
    """scores/comparison.json (metric, base, finetuned, delta, ci_low, ci_high, p_value, ...); empty if
    absent."""
    return runfolder.read_comparison(run_dir)


def metric_tables(run_dirs: dict[str, str | Path]) -> pd.DataFrame:
    """The comparison tables of several runs stacked, with a `run` column first."""
    parts = []
    for name, path in run_dirs.items():
        table = comparison(path)
        if len(table):
            table.insert(0, "run", name)
            parts.append(table)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# ------------------------------------------------------------------------------------------------ sweeps


def sweep_members(sweep_dir: str | Path) -> pd.DataFrame:
    """One row per member run of a sweep: run, path, learning_rate, lora_r, state, best_eval_loss,
    final_train_loss, and `delta_<metric>` / `finetuned_<metric>` columns where the run has been scored."""
    rows = []
    for path in runfolder.sweep_member_dirs(sweep_dir):
        config, status = read_config(path), read_status(path)
        grid_point = runfolder.parse_sweep_member(path.name)
        lr = config.learning_rate if config else (grid_point[0] if grid_point else math.nan)
        r = config.lora_r if config else (grid_point[1] if grid_point else None)
        row: dict[str, Any] = {
            "run": path.name,
            "path": str(path),
            "learning_rate": lr,
            "lora_r": r,
            "state": status.state or ("pending" if not path.exists() else "unknown"),
            "best_eval_loss": status.best_eval_loss,
            "final_train_loss": status.final_train_loss,
        }
        table = comparison(path)
        if len(table) and {"metric", "delta"} <= set(table.columns):
            first = table.drop_duplicates("metric")
            for rec in first.to_dict("records"):
                row[f"delta_{rec['metric']}"] = rec.get("delta")
                row[f"finetuned_{rec['metric']}"] = rec.get("finetuned")
        rows.append(row)
    return pd.DataFrame(rows)


def sweep_fields(sweep_dir: str | Path) -> list[str]:
    """The fields a sweep varies, from sweep.json (`max_target_length`, `generate.max_new_tokens`); an
    older sweep, or one without sweep.json, varied learning_rate and lora_r."""
    saved = runfolder.read_sweep(sweep_dir) or {}
    fields = saved.get("fields") or list(saved.get("grid") or {})
    return [str(f) for f in fields] if isinstance(fields, list) and fields else ["learning_rate", "lora_r"]


def sweep_points(sweep_dir: str | Path) -> pd.DataFrame:
    """One row per point of a sweep: run, each swept field's value, state, best_eval_loss, final_train_loss,
    and the `finetuned_<metric>` / `delta_<metric>` figures of a scored point. A value comes from sweep.json,
    else from the point's config.json."""
    members = sweep_members(sweep_dir)
    fields = sweep_fields(sweep_dir)
    if members.empty:
        return pd.DataFrame(columns=["run", *fields, "state", "best_eval_loss"])
    listed = {
        Path(str(r.get("run_dir", ""))).name: r.get("values") or {}
        for r in (runfolder.read_sweep(sweep_dir) or {}).get("runs", [])
        if isinstance(r, dict)
    }
    columns: dict[str, list[Any]] = {}
    for name in fields:
        values = []
        for run, path in zip(members.run, members.path):
            value = listed.get(run, {}).get(name)
            if value is None and "." not in name:
                value = _config_values(path).get(name)
            values.append(", ".join(map(str, value)) if isinstance(value, list) else value)
        columns[name] = values
    rest = [
        c
        for c in members.columns
        if c not in ("run", "path", *fields) and c not in ("learning_rate", "lora_r")
    ]
    return pd.concat(
        [members[["run"]], pd.DataFrame(columns, index=members.index), members[rest], members[["path"]]],
        axis=1,
    )


def _config_values(path: str | Path) -> dict[str, Any]:
    config = read_config(path)
    return config_to_dict(config) if config is not None else {}


def sweep_metrics(members: pd.DataFrame, fields: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The columns of `sweep_members` (or `sweep_points`, less its swept `fields`) a chart can show."""
    fixed = {"run", "path", "learning_rate", "lora_r", "state", *fields}
    return [
        c
        for c in members.columns
        if c not in fixed and pd.to_numeric(members[c], errors="coerce").notna().any()
    ]


def sweep_grid(members: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The chosen metric over learning rate (rows) x LoRA rank (columns); NaN where a run has no value yet."""
    if members.empty or metric not in members:
        return pd.DataFrame()
    frame = members.assign(value=pd.to_numeric(members[metric], errors="coerce"))
    return frame.pivot_table(
        index="learning_rate", columns="lora_r", values="value", aggfunc="first", dropna=False
    )
