"""Grids of runs: `python -m ft_core sweep decoding ...` and `python -m ft_core sweep train ...`.

- `sweep decoding --run-dir R --decodings greedy --decodings "beam:num_beams=2|4" ...`: generates base and
  fine-tuned outputs for every decoding setting in the grid (one model load), scores every output in the run
  folder, and prints the comparison for the grid: which decoding gives the fine-tuned model its best figures,
  and whether its advantage over the base model holds under each (the report's recommendation 4). Accepts
  every `generate` and every `score` option (`--help` lists them; `--score-device` where both have the name).
- `sweep train --config FILE --lr 3e-5,1e-4,3e-4 --r 8,16,32 [--set key=value]`: one `ft_core.train` run per
  (learning rate, LoRA rank) into `<run_dir>/lr{lr}_r{r}` (lr written as Python prints the float:
  `lr3e-05_r8`, `lr0.0001_r16`), and `<run_dir>/sweep.json` with each run's folder, state and best eval loss,
  rewritten after every run. LoRA alpha stays as configured unless `--alpha-per-r` keeps alpha / r constant. A
  finished run is kept when the sweep is started again; a run that failed does not stop the others.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ft_core import runfolder
from ft_core.config import (
    DecodingSweepConfig,
    SweepConfig,
    TrainConfig,
    add_field_flags,
    cli_parser,
    config_from_cli,
    parse_cli,
)
from ft_core.errors import FtCoreError, warnings_as_lines
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
    """One grid point of a training sweep, as sweep.json lists it."""

    name: str
    run_dir: str
    learning_rate: float
    lora_r: int
    lora_alpha: int
    state: str | None = None
    best_eval_loss: float | None = None
    error: str | None = None


@dataclass
class SweepSummary:
    """What sweep.json holds: the base config, the grid, each run, and the best finished run's name."""

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
            "grid": {"learning_rate": self.grid.learning_rates, "lora_r": self.grid.lora_ranks},
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


def sweep_train(base: TrainConfig, grid: SweepConfig) -> SweepSummary:
    """Train every (learning rate, rank) into <base.run_dir>/lr{lr}_r{r}; returns (and writes) sweep.json."""
    root = Path(base.run_dir)
    root.mkdir(parents=True, exist_ok=True)
    summary = SweepSummary(base_config=base, grid=grid)
    ratio = base.lora_alpha / base.lora_r
    for learning_rate in grid.learning_rates:
        for rank in grid.lora_ranks:
            run_dir = root / run_name(learning_rate, rank)
            alpha = max(1, round(ratio * rank)) if grid.alpha_per_r else base.lora_alpha
            cfg = dataclasses.replace(
                base, learning_rate=learning_rate, lora_r=rank, lora_alpha=alpha, run_dir=str(run_dir)
            )
            run = SweepRun(run_dir.name, str(run_dir), learning_rate, rank, alpha)
            if runfolder.read_status(run_dir).state == "finished":
                print(f"{run_dir.name}: finished before, kept", flush=True)
            else:
                run.error = _train_point(cfg)
            run.state = runfolder.read_status(run_dir).state or ("failed" if run.error else None)
            run.best_eval_loss = runfolder.best_eval_loss(run_dir)
            summary.runs.append(run)
            done = [r for r in summary.runs if r.best_eval_loss is not None and r.state == "finished"]
            summary.best = min(done, key=lambda r: r.best_eval_loss).name if done else None
            summary.updated_at = time.time()
            runfolder.write_sweep(root, summary.to_json())
    return summary


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
        + " --config/--set give the base TrainConfig (run_dir = the sweep's folder).",
        field_flags=False,
    )
    add_field_flags(parser, SweepConfig)
    args = parser.parse_args(argv)
    base = config_from_cli(TrainConfig, args)
    grid = config_from_cli(SweepConfig, args, from_file=False)
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
            "       python -m ft_core sweep train --config FILE --lr 3e-5,1e-4 --r 8,16 [--set key=value]",
            file=sys.stderr,
        )
        return 2
    return _decoding_main(argv[1:]) if argv[0] == "decoding" else _train_main(argv[1:])
