"""Typed job configs and how they are read.

One dataclass per job. The same object flows from the page form or the YAML file to the job and into the run
folder's `config.json`: `load_config(TrainConfig, "train.yaml", ["lr=1e-4"])` reads a file, applies `key=value`
overrides (dotted keys are not needed: configs are flat), coerces each value to the field's type and validates.
Unknown keys and bad values raise `ConfigError` with a message that names the field.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ft_core.errors import ConfigError

C = TypeVar("C")

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "scitldr-a"


def _help(default: Any, text: str, **kw: Any) -> Any:
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": text, **kw})
    return field(default=default, metadata={"help": text, **kw})


@dataclass
class DataConfig:
    """Where the examples come from and how they become prompts. Shared by training and generation."""

    train_file: str = _help(
        str(DEFAULT_DATA_DIR / "train.jsonl"), "JSONL/CSV/Parquet file or hub id[:split]", group="data"
    )
    validation_file: str | None = _help(
        str(DEFAULT_DATA_DIR / "dev.jsonl"), "validation split; none disables validation", group="data"
    )
    test_file: str | None = _help(
        str(DEFAULT_DATA_DIR / "test.jsonl"), "evaluation split used by generate", group="data"
    )
    source_column: str = _help(
        "source", "column holding the input text (a string or a list of sentences)", group="data"
    )
    target_column: str = _help(
        "target",
        "column holding the target (a string, or a list whose first item is trained on)",
        group="data",
    )
    references_column: str | None = _help(
        None, "column with a list of references for metrics; defaults to target_column", group="data"
    )
    id_column: str | None = _help(
        None, "column with a stable item id; defaults to the row number", group="data"
    )
    prompt_template: str = _help(
        "Summarize the following scientific abstract in one sentence.\n\n{source}",
        "prompt with a {source} placeholder; wrapped in the chat template for instruct models",
        group="data",
    )
    use_chat_template: bool = _help(
        True, "wrap the prompt in the tokenizer's chat template when it has one", group="data"
    )
    max_source_length: int = _help(
        512, "tokens of the prompt kept (longer sources are truncated)", group="data"
    )
    max_target_length: int = _help(
        64, "tokens of the target kept; align with generate's max_new_tokens", group="data"
    )
    max_train_examples: int | None = _help(None, "use only the first N training examples", group="data")
    max_eval_examples: int | None = _help(None, "use only the first N validation examples", group="data")


@dataclass
class TrainConfig(DataConfig):
    """A LoRA fine-tuning run. Fields are grouped (data, model, lora, optimization, validation, hardware)."""

    # model
    base_model: str = _help(
        "smollm2-135m", "hub id, local folder, or 'smollm2-135m' (embedded)", group="model"
    )
    task: str = _help(
        "causal",
        "'causal' (decoder-only) or 'seq2seq' (T5/BART family)",
        group="model",
        choices=("causal", "seq2seq"),
    )
    run_dir: str = _help(
        "runs/run", "run folder to create; must not exist unless resume is set", group="model"
    )
    # lora
    lora_r: int = _help(16, "LoRA rank", group="lora")
    lora_alpha: int = _help(32, "LoRA alpha (scaling = alpha / r)", group="lora")
    lora_dropout: float = _help(0.05, "dropout on the LoRA path", group="lora")
    target_modules: list[str] = _help(
        ["q_proj", "k_proj", "v_proj", "o_proj"],
        "module names that get adapters; 'all-linear' for every linear layer",
        group="lora",
    )
    # optimization
    epochs: float = _help(
        1.0, "passes over the training data (ignored when max_steps > 0)", group="optimization"
    )
    max_steps: int = _help(0, "stop after this many optimizer steps; 0 = use epochs", group="optimization")
    learning_rate: float = _help(2e-4, "peak learning rate", group="optimization")
    lr_scheduler: str = _help(
        "cosine",
        "learning-rate schedule",
        group="optimization",
        choices=("linear", "cosine", "constant", "constant_with_warmup"),
    )
    warmup_ratio: float = _help(0.03, "share of steps spent warming up", group="optimization")
    weight_decay: float = _help(0.0, "AdamW weight decay", group="optimization")
    batch_size: int = _help(8, "examples per device per micro-batch", group="optimization")
    gradient_accumulation_steps: int = _help(1, "micro-batches per optimizer step", group="optimization")
    max_grad_norm: float = _help(1.0, "gradient clipping; 0 disables", group="optimization")
    seed: int = _help(42, "seed for data order, LoRA init and dropout", group="optimization")
    group_by_length: bool = _help(
        True, "batch examples of similar length (less padding, same examples)", group="optimization"
    )
    sanity_overfit: bool = _help(
        False, "train on 16-32 examples for many epochs; must reach near-zero loss", group="optimization"
    )
    # validation
    eval_every_steps: int = _help(
        50, "validate every N optimizer steps; 0 = once per epoch", group="validation"
    )
    eval_generation_samples: int = _help(
        0, "also generate on N validation examples and report ROUGE/BLEU", group="validation"
    )
    early_stopping_patience: int = _help(
        0, "stop after N validations without improvement; 0 = off", group="validation"
    )
    early_stopping_min_delta: float = _help(
        0.0, "smallest eval-loss drop that counts as improvement", group="validation"
    )
    save_every_steps: int = _help(
        0, "checkpoint every N steps for resuming; 0 = at each validation", group="validation"
    )
    resume: bool = _help(False, "continue from the last checkpoint in run_dir", group="validation")
    # hardware
    precision: str = _help(
        "auto",
        "'auto' (bf16 where the GPU has it, else fp16 on GPU, fp32 on CPU), 'bf16', 'fp16', 'fp32'",
        group="hardware",
        choices=("auto", "bf16", "fp16", "fp32"),
    )
    gradient_checkpointing: bool = _help(False, "recompute activations to save memory", group="hardware")
    attn_implementation: str = _help(
        "sdpa", "attention kernel: 'sdpa', 'eager', 'flash_attention_2'", group="hardware"
    )
    fused_optimizer: bool = _help(True, "use fused AdamW on GPU", group="hardware")
    torch_compile: bool = _help(
        False,
        "compile the model with torch.compile (dynamic shapes); pays off on long GPU runs",
        group="hardware",
    )
    num_workers: int = _help(0, "data-loader worker processes", group="hardware")
    log_every_steps: int = _help(10, "write a train_log row every N optimizer steps", group="hardware")

    def validate(self) -> None:
        """Raise ConfigError for values that cannot make sense, before anything is loaded."""
        _check_choices(self)
        positive = [
            "lora_r",
            "lora_alpha",
            "batch_size",
            "gradient_accumulation_steps",
            "max_source_length",
            "max_target_length",
            "log_every_steps",
        ]
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not self.learning_rate > 0 or self.learning_rate >= 1:
            raise ConfigError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.max_steps < 0 or self.epochs < 0 or (self.max_steps == 0 and self.epochs <= 0):
            raise ConfigError(
                f"set epochs > 0 or max_steps > 0 (got epochs={self.epochs}, max_steps={self.max_steps})"
            )
        for name in (
            "eval_every_steps",
            "early_stopping_patience",
            "save_every_steps",
            "eval_generation_samples",
            "num_workers",
            "weight_decay",
            "max_grad_norm",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.target_modules:
            raise ConfigError("target_modules is empty; name the modules that get LoRA adapters")
        if self.early_stopping_patience and not self.validation_file:
            raise ConfigError("early_stopping_patience needs a validation_file")


def _check_choices(cfg: Any) -> None:
    for f in dataclasses.fields(cfg):
        choices = f.metadata.get("choices")
        if choices and getattr(cfg, f.name) not in choices:
            raise ConfigError(f"{f.name} must be one of {', '.join(choices)}; got {getattr(cfg, f.name)!r}")


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """Turn a YAML/CLI value into the field's declared type, or raise ConfigError naming the field."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(name, value, inner[0])
    if origin is list:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                value = yaml.safe_load(text)
            else:
                value = [v.strip() for v in text.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name} must be a list, got {value!r}")
        return [_coerce(name, v, args[0]) if args else v for v in value]
    try:
        if annotation is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
                return False
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError
        if annotation is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(float(value)) if isinstance(value, str) and "e" in value.lower() else int(value)
        if annotation is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if annotation is str:
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{name} must be of type {getattr(annotation, '__name__', annotation)}, got {value!r}"
        ) from None
    return value


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def config_from_dict(cls: type[C], values: dict[str, Any]) -> C:
    """Build and validate a config from a flat mapping; unknown keys are an error, not silently dropped."""
    types_ = _field_types(cls)
    unknown = sorted(set(values) - set(types_))
    if unknown:
        raise ConfigError(
            f"unknown {cls.__name__} field(s): {', '.join(unknown)}; known fields: {', '.join(types_)}"
        )
    kwargs = {k: _coerce(k, v, types_[k]) for k, v in values.items()}
    cfg = cls(**kwargs)
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate()
    return cfg


def parse_overrides(overrides: list[str] | None) -> dict[str, Any]:
    """`["lr=1e-4", "target_modules=q_proj,v_proj"]` -> dict; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        out[key] = raw if isinstance(value, (dict,)) else value
    return out


def _config_text(path: Path) -> str:
    """The text of a config file, which must be UTF-8 (YAML's own encoding); ConfigError saying why not."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{path} is UTF-16 text; save it as UTF-8")
    if b"\x00" in data:
        raise ConfigError(
            f"{path} is not a text file (it holds binary data); give a YAML or JSON config file"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{data[e.start]:02x} at position {e.start:,}); save it as UTF-8"
        ) from None


def load_config(cls: type[C], path: str | Path | None = None, overrides: list[str] | None = None) -> C:
    """Read a YAML (or JSON) config file, apply `key=value` overrides, coerce and validate."""
    values: dict[str, Any] = {}
    if path is not None:
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
        values.update(loaded)
    values.update(parse_overrides(overrides))
    return config_from_dict(cls, values)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(config_to_dict(cfg), indent=2) + "\n")


def field_groups(cls: type) -> dict[str, list[dataclasses.Field]]:
    """Fields by their `group` metadata, in declaration order; the training page builds its form from this."""
    groups: dict[str, list[dataclasses.Field]] = {}
    for f in dataclasses.fields(cls):
        groups.setdefault(f.metadata.get("group", "other"), []).append(f)
    return groups
