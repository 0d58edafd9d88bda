"""`SweepConfig` (a training grid of learning rates and LoRA ranks) and `DecodingSweepConfig` (a decoding grid)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ft_core.config.fields import check_fields, option, require
from ft_core.config.generate import GenerateConfig
from ft_core.config.score import DEFAULT_METRICS, EMBEDDED_ENCODER, ScoreConfig


@dataclass
class SweepConfig:
    """A training grid: one run per (learning rate, LoRA rank), each into `<run_dir>/lr{lr}_r{r}` of the base
    TrainConfig's run_dir."""

    learning_rates: list[float] = option(
        help="learning rates, comma-separated: 3e-5,1e-4,3e-4", label="Learning rates", flag="--lr"
    )
    lora_ranks: list[int] = option(
        help="LoRA ranks, comma-separated: 8,16,32", label="LoRA ranks", flag="--r"
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
        bad = [x for x in self.learning_rates if not 0 < x < 1]
        require(not bad, f"learning_rates (--lr) must be in (0, 1), got {bad[0] if bad else ''}")
        bad_r = [r for r in self.lora_ranks if r <= 0]
        require(not bad_r, f"lora_ranks (--r) must be positive, got {bad_r[0] if bad_r else ''}")


@dataclass
class DecodingSweepConfig(GenerateConfig):
    """A decoding sweep: every `generate` field (decodings is the grid) plus how the outputs are scored."""

    decodings: list[str] = option(
        ["greedy", "beam:num_beams=4", "beam:num_beams=4,no_repeat_ngram_size=3", "sample"],
        help="the grid: settings, each may hold a|b|c value lists",
        label="Decoding grid",
        split_commas=False,
    )
    metrics: list[str] = option(
        list(DEFAULT_METRICS), help="metrics to compute (see `score`)", label="Metrics"
    )
    use_stemmer: bool = option(
        True, help="Porter stemming before ROUGE matching", label="ROUGE stemming", advanced=True
    )
    multi_ref: str = option(
        "max",
        help="several references combine by 'max' or 'mean' (ROUGE)",
        label="Several references combine by",
        advanced=True,
        choices=("max", "mean"),
    )
    bertscore_model: str = option(
        EMBEDDED_ENCODER, help="BERTScore encoder", label="BERTScore encoder", advanced=True
    )
    bertscore_num_layers: int | None = option(
        None,
        help="BERTScore layer; default: known for the model",
        label="BERTScore layer",
        advanced=True,
    )
    n_boot: int = option(1000, help="bootstrap resamples", label="Bootstrap resamples")
    confidence: float = option(0.95, help="confidence level of the intervals", label="Confidence level")
    primary_metric: str = option(
        "rougeL", help="metric the summary line ranks decoding settings by", label="Ranking metric"
    )

    def generate_config(self) -> GenerateConfig:
        """The generation job of the grid."""
        return GenerateConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(GenerateConfig)})

    def score_config(self) -> ScoreConfig:
        """The scoring job: every output in the folder, so scores/ stays complete for the annotation import."""
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
