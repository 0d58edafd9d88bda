"""`SweepConfig` (a training grid of learning rates and LoRA ranks) and `DecodingSweepConfig` (a decoding
grid)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ft_core.config.fields import check_fields, option, require
from ft_core.config.files import config_from_dict
from ft_core.config.generate import GenerateConfig
from ft_core.config.score import DEFAULT_METRICS, ScoreConfig


@dataclass
class SweepConfig:
    """A training grid: one run per (learning rate, LoRA rank), each into `<run_dir>/lr{lr}_r{r}` of the base
    TrainConfig's run_dir."""

    learning_rates: list[float] = option(
        help="learning rates, comma-separated: 3e-5,1e-4,3e-4",
        label="Learning rates",
        flag="--lr",
        above=0,
        below=1,
    )
    lora_ranks: list[int] = option(
        help="LoRA ranks, comma-separated: 8,16,32",
        label="LoRA ranks",
        flag="--r",
        above=0,
    )
    alpha_per_r: bool = option(
        False,
        help="keep lora_alpha / lora_r as configured (alpha grows with r); otherwise alpha stays fixed",
        label="Scale LoRA alpha with r",
        flag="--alpha-per-r",
    )

    def __post_init__(self) -> None:
        check_fields(self)
        require(
            bool(self.learning_rates),
            "learning_rates (--lr) is empty; give comma-separated values, e.g. --lr 1e-4,3e-4",
        )
        require(
            bool(self.lora_ranks), "lora_ranks (--r) is empty; give comma-separated values, e.g. --r 8,16"
        )


DECODING_GRID = ["greedy", "beam:num_beams=4", "beam:num_beams=4,no_repeat_ngram_size=3", "sample"]


@dataclass
class DecodingSweepConfig:
    """A decoding sweep: a generation job whose `decodings` is the grid, then a scoring job over every output
    in the folder it wrote. Made of a `GenerateConfig` and a `ScoreConfig`, each checking itself when the
    sweep is built, so a bad `confidence` or `n_boot` fails before any model loads.

    Keys: `score.confidence` (file, `--set`), a nested `score:` mapping, or, as before, plain `confidence`;
    a plain key both have (run_dir, decodings, device, precision) is the generation's, and scoring follows
    it: it reads the generation's output folder on its device unless `score.run_dir` / `score.device` say
    otherwise."""

    # A nested field's default is the mapping of the values the sweep sets differently from the job's own
    # defaults.
    generate: GenerateConfig = option(
        {"decodings": DECODING_GRID},
        help="the generation job (every `generate` field); its decodings are the grid, each may hold a|b|c "
        "lists",
        label="Generation",
    )
    score: ScoreConfig = option(
        {"metrics": list(DEFAULT_METRICS)},
        help="the scoring job (every `score` field); run_dir and device default to the generation's",
        label="Scoring",
    )
    primary_metric: str = option(
        "rougeL", help="metric the summary line ranks decoding settings by", label="Ranking metric"
    )

    def __post_init__(self) -> None:
        check_fields(self)
        defaults = {
            f.name: f.default_factory() for f in dataclasses.fields(self) if f.name in ("generate", "score")
        }
        if isinstance(self.generate, dict):
            self.generate = config_from_dict(GenerateConfig, {**defaults["generate"], **self.generate})
        require(
            isinstance(self.generate, GenerateConfig),
            "generate must be a GenerateConfig or a mapping of its fields, got "
            f"{type(self.generate).__name__}",
        )
        if isinstance(self.score, dict):
            follows = {
                "run_dir": self.generate.output_dir or self.generate.run_dir,
                "device": self.generate.device,
            }
            self.score = config_from_dict(ScoreConfig, {**follows, **defaults["score"], **self.score})
        require(
            isinstance(self.score, ScoreConfig),
            f"score must be a ScoreConfig or a mapping of its fields, got {type(self.score).__name__}",
        )
