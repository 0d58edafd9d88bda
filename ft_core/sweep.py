"""Grids of runs: `python -m ft_core sweep decoding ...` and `python -m ft_core sweep train ...`.

- `sweep decoding --run-dir R --decodings greedy --decodings "beam:num_beams=2|4" ...`: generates base and
  fine-tuned outputs for every decoding setting in the grid (one model load), scores every output in the run
  folder, and prints the comparison for the grid: which decoding gives the fine-tuned model its best figures,
  and whether its advantage over the base model holds under each (the report's recommendation 4). Accepts
  every `generate` and every `score` option (`--help` lists them; `--score-device` where both have the name).
- `sweep train --config FILE --grid max_target_length=320,441,512 [--grid ...] [--set key=value]`: one
  `ft_core.train` run per point of a sweep over any config fields (`SweepConfig`: a grid, or `--search random
  --n-points N --search-seed S` drawn from it), each into `<run_dir>/<point>` (`max_target_length441`; the old
  learning rate x rank grid `--lr 3e-5,1e-4 --r 8,16` keeps its names `lr3e-05_r8`, `lr0.0001_r16`), and
  `<run_dir>/sweep.json` with each point's values, folder, state, best eval loss and figures, rewritten as
  points finish. With `--evaluate` each point also generates and scores, so `generate.*` / `score.*` fields
  (`max_new_tokens`) can be swept. Every point's configs are checked before any run starts. `--executor
  slurm` runs the points as a SLURM job array through submitit (`ft_core/sweep_executors.py`). A finished
  point is kept when the sweep is started (or submitted) again; a point that failed does not stop the others.
  LoRA alpha stays as configured unless `--alpha-per-r` keeps alpha / r constant.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ft_core import runfolder
from ft_core.config import (
    DecodingSweepConfig,
    GenerateConfig,
    ScoreConfig,
    SweepConfig,
    TrainConfig,
    add_field_flags,
    cli_parser,
    config_from_cli,
    config_from_dict,
    parse_cli,
    parse_overrides,
    read_config_file,
)
from ft_core.errors import ConfigError, FtCoreError, warnings_as_lines
from ft_core.generate import generate
from ft_core.runfolder import sweep_member_name as run_name
from ft_core.scoring import format_table, interval_label
from ft_core.scoring import score as score_run

__all__ = [
    "DecodingSweepConfig", "SweepConfig", "SweepRun", "SweepSummary", "format_train_summary", "main",
    "run_name", "summary_lines", "sweep_decoding", "sweep_train",
]  # fmt: skip


def sweep_decoding(cfg: DecodingSweepConfig) -> pd.DataFrame:
    """Generate and score the grid; returns the comparison rows of the grid's decoding settings."""
    paths = generate(cfg.generate)
    names = sorted({runfolder.parse_output_name(p).decoding for p in paths})
    # Score every output in the folder, so scores/per_example.parquet stays complete for the annotation
    # import.
    comparison = score_run(cfg.score)
    return comparison[comparison.decoding.isin(names)].reset_index(drop=True)


def summary_lines(comparison: pd.DataFrame, metric: str, confidence: float = 0.95) -> list[str]:
    """One line per decoding setting, best fine-tuned figure of `metric` first; `confidence` of the
    intervals."""
    rows = comparison[comparison.metric == metric].sort_values("finetuned", ascending=False)
    if rows.empty:
        return [f"(no {metric} figures: choose primary_metric among {', '.join(comparison.metric.unique())})"]
    lines = [f"decoding settings by fine-tuned {metric}:"]
    for row in rows.itertuples():
        ci = (
            ""
            if pd.isna(row.ci_low)
            else f", {interval_label(confidence)} [{row.ci_low:+.4f}, {row.ci_high:+.4f}], "
            f"p={row.p_value:.3f}"
        )
        lines.append(
            f"  {row.decoding:<24} finetuned {row.finetuned:.4f}  base {row.base:.4f}  delta "
            f"{row.delta:+.4f}{ci}"
        )
    return lines


# --------------------------------------------------------------------------------------------- training grid
@dataclass
class SweepRun:
    """One point of a training sweep, as sweep.json lists it: its swept values, state, best eval loss and
    (when the points generate) its fine-tuned figures."""

    name: str
    run_dir: str
    learning_rate: float
    lora_r: int
    lora_alpha: int
    state: str | None = None
    best_eval_loss: float | None = None
    error: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    job_id: str | None = None


@dataclass
class SweepPoint:
    """What one point runs: its training config, and its generation and scoring when the sweep evaluates."""

    name: str
    values: dict[str, Any]
    train: TrainConfig
    generate: GenerateConfig | None = None
    score: ScoreConfig | None = None


@dataclass
class SweepSummary:
    """What sweep.json holds: the base config, the sweep, each run, and the best finished run's name."""

    base_config: TrainConfig
    grid: SweepConfig
    runs: list[SweepRun] = field(default_factory=list)
    best: str | None = None
    started_at: float = field(default_factory=time.time)
    updated_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """sweep.json's layout (docs/run-folder.md)."""
        return {
            "base_config": dataclasses.asdict(self.base_config),
            "grid": self.grid.values,
            "fields": list(self.grid.values),
            "search": self.grid.search,
            "search_seed": self.grid.search_seed,
            "executor": self.grid.executor,
            "alpha_per_r": self.grid.alpha_per_r,
            "runs": [dataclasses.asdict(r) for r in self.runs],
            "best": self.best,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
        }


def _reset_peak_memory() -> None:
    """Each point's `gpu_mem_gb` (train_log.jsonl) is its own peak, not the largest of the points before it in
    this process."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _train_point(cfg: TrainConfig) -> str | None:
    """Train (or resume) one grid point; returns why it failed, or None. One failure must not lose the
    others."""
    from ft_core.train import train

    resumable = runfolder.has_checkpoint(cfg.run_dir)
    print(f"{Path(cfg.run_dir).name}: training{' (resuming)' if resumable else ''}", flush=True)
    _reset_peak_memory()
    try:
        train(dataclasses.replace(cfg, resume=resumable))
    except FtCoreError as e:
        return str(e)
    except Exception as e:
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return None


def plan_points(base: TrainConfig, grid: SweepConfig) -> list[SweepPoint]:
    """Every point's configs, each checked (its fields' rules and the rules that join fields), so a bad
    value fails in one line before any run starts."""
    root = Path(base.run_dir)
    ratio = base.lora_alpha / base.lora_r
    points, names = [], set()
    for values in grid.points():
        name = runfolder.sweep_point_name(values)
        if name in names:  # two values that read alike in a folder name
            name = f"{name}_{len(points)}"
        names.add(name)
        run_dir = str(root / name)
        sections: dict[str, dict[str, Any]] = {"": {}, "generate": {}, "score": {}}
        for key, value in values.items():
            section, _, field_name = key.rpartition(".")
            sections[section][field_name] = value
        train = sections[""]
        rank = train.get("lora_r", base.lora_r)
        alpha = max(1, round(ratio * rank)) if grid.alpha_per_r else train.get("lora_alpha", base.lora_alpha)
        try:
            point = SweepPoint(
                name, values, dataclasses.replace(base, **{**train, "lora_alpha": alpha}, run_dir=run_dir)
            )
            if grid.evaluate:
                point.generate = GenerateConfig(
                    **{**grid.generate, **sections["generate"], "run_dir": run_dir}
                )
                point.score = ScoreConfig(**{**grid.score, **sections["score"], "run_dir": run_dir})
        except ConfigError as e:
            raise ConfigError(f"sweep point {name}: {e}") from None
        points.append(point)
    return points


def run_point(point: SweepPoint) -> str | None:
    """Train (or resume) one point, then generate and score it when the sweep evaluates; returns why it
    failed, or None. What a local sweep calls in turn and a SLURM array task calls once."""
    if runfolder.read_status(point.train.run_dir).state == "finished":
        print(f"{point.name}: finished before, kept", flush=True)
    else:
        error = _train_point(point.train)
        if error:
            return error
    if point.generate is None or point.score is None or _point_metrics(point.train.run_dir):
        return None
    print(f"{point.name}: generating and scoring", flush=True)
    try:
        generate(point.generate)
        score_run(point.score)
    except FtCoreError as e:
        return str(e)
    except Exception as e:
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return None


def _point_metrics(run_dir: str | Path) -> dict[str, float]:
    """The fine-tuned figure of each metric (first decoding setting) from the point's scores."""
    table = runfolder.read_comparison(run_dir)
    if table.empty or not {"metric", "finetuned"} <= set(table.columns):
        return {}
    first = table.drop_duplicates("metric")
    return {m: float(v) for m, v in zip(first.metric, first.finetuned) if pd.notna(v)}


def _record(summary: SweepSummary, root: Path) -> None:
    """Each run's state, loss and figures from its folder; the best finished run; sweep.json rewritten."""
    for run in summary.runs:
        run.state = runfolder.read_status(run.run_dir).state or ("failed" if run.error else None)
        run.best_eval_loss = runfolder.best_eval_loss(run.run_dir)
        run.metrics = _point_metrics(run.run_dir)
    done = [r for r in summary.runs if r.best_eval_loss is not None and r.state == "finished"]
    summary.best = min(done, key=lambda r: r.best_eval_loss).name if done else None
    summary.updated_at = time.time()
    runfolder.write_sweep(root, summary.to_json())


def sweep_train(base: TrainConfig, grid: SweepConfig) -> SweepSummary:
    """Train every point of the sweep into <base.run_dir>/<point>, locally one after another or as a SLURM
    job array; returns (and writes) sweep.json. Finished points are kept when the sweep starts again."""
    points = plan_points(base, grid)  # every point checked before any run starts
    if grid.executor != "local":
        from ft_core.sweep_executors import check_executor

        check_executor(grid)
    root = Path(base.run_dir)
    root.mkdir(parents=True, exist_ok=True)
    summary = SweepSummary(base_config=base, grid=grid)
    summary.runs = [
        SweepRun(
            p.name,
            p.train.run_dir,
            p.train.learning_rate,
            p.train.lora_r,
            p.train.lora_alpha,
            values=p.values,
        )
        for p in points
    ]
    _record(summary, root)
    if grid.executor == "local":
        for point, run in zip(points, summary.runs):
            run.error = run_point(point)
            _record(summary, root)
        return summary
    from ft_core.sweep_executors import run_array  # submitit: only a sweep that submits imports it

    pending = [(p, r) for p, r in zip(points, summary.runs) if not _done(p)]
    for point, run in zip(points, summary.runs):
        if (point, run) not in pending:
            print(f"{point.name}: finished before, kept", flush=True)

    def submitted(job_ids: list[str]) -> None:
        for (_, run), job_id in zip(pending, job_ids):
            run.job_id = job_id
        _record(summary, root)

    errors = run_array([p for p, _ in pending], grid, root, on_submit=submitted)
    for (_, run), error in zip(pending, errors):
        run.error = error
    _record(summary, root)
    return summary


def _done(point: SweepPoint) -> bool:
    """Finished, and scored when the sweep evaluates: a re-submitted sweep skips it."""
    finished = runfolder.read_status(point.train.run_dir).state == "finished"
    return finished and (point.generate is None or bool(_point_metrics(point.train.run_dir)))


def format_train_summary(summary: SweepSummary) -> str:
    lines = [f"{'run':<22} {'state':<10} {'best eval loss':>15}"]
    for run in summary.runs:
        loss = "" if run.best_eval_loss is None else f"{run.best_eval_loss:.4f}"
        mark = "  <- best" if run.name == summary.best else ""
        error = f"  ({run.error})" if run.error else ""
        lines.append(f"{run.name:<22} {run.state or '':<10} {loss:>15}{mark}{error}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- CLI
def _train_main(argv: list[str]) -> int:
    parser = cli_parser(
        TrainConfig,
        "sweep train",
        description=sweep_train.__doc__
        + " --config/--set give the base TrainConfig (run_dir = the sweep's folder); the file's `sweep:`"
        " mapping and --set of a sweep field (grid, search, executor, slurm_*, ...) give the sweep.",
        field_flags=False,
    )
    add_field_flags(parser, SweepConfig)
    args = parser.parse_args(argv)
    base_values = read_config_file(args.config) if args.config is not None else {}
    sweep_values = base_values.pop("sweep", None) or {}
    if not isinstance(sweep_values, dict):
        raise ConfigError("the config file's `sweep:` must be a mapping of sweep fields")
    sweep_fields = {f.name for f in dataclasses.fields(SweepConfig)}
    for key, value in parse_overrides(args.overrides).items():
        (sweep_values if key in sweep_fields else base_values)[key] = value
    base = config_from_dict(TrainConfig, base_values)
    # The sweep's own flags come last, over the file's `sweep:` mapping.
    sweep_args = argparse.Namespace(**{**vars(args), "config": None, "overrides": []})
    sweep_args.overrides = [f"{k}={json.dumps(v)}" for k, v in sweep_values.items()]
    grid = config_from_cli(SweepConfig, sweep_args)
    summary = sweep_train(base, grid)
    print(format_train_summary(summary))
    print(f"wrote {runfolder.sweep_path(base.run_dir)}")
    return 0 if summary.best is not None else 1


def _decoding_main(argv: list[str]) -> int:
    cfg = parse_cli(DecodingSweepConfig, argv, "sweep decoding")
    with warnings_as_lines():
        comparison = sweep_decoding(cfg)
    print(format_table(comparison, cfg.score.confidence))
    print("\n".join(summary_lines(comparison, cfg.primary_metric, cfg.score.confidence)))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("decoding", "train"):
        print(
            "usage: python -m ft_core sweep decoding --run-dir R [--decodings SPEC ...] [options]\n"
            "       python -m ft_core sweep train --config FILE --lr 3e-5,1e-4 --r 8,16 [--set key=value]\n"
            "       python -m ft_core sweep train --config FILE --grid max_target_length=320,441,512 "
            "[--executor slurm]",
            file=sys.stderr,
        )
        return 2
    return _decoding_main(argv[1:]) if argv[0] == "decoding" else _train_main(argv[1:])
