"""Decoding settings: what `generate` and the decoding sweep vary, and the name each one gets in file names.

A setting is written `strategy[:key=value,...]` on the command line, e.g. `greedy`, `beam:num_beams=8`,
`sample:temperature=0.7,top_p=0.9`; `key=a|b|c` expands into a grid
(`beam:num_beams=2|4,length_penalty=0.8|1.0` gives four settings). Its `name` (`beam-n8-lp0.8`) goes into
`outputs/<system>__<name>__seed<seed>.jsonl`, so it holds only characters safe in a file name and never a
double underscore.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from ft_core.errors import ConfigError

STRATEGIES = ("greedy", "beam", "sample")


@dataclass(frozen=True)
class Decoding:
    """One decoding setting; fields not used by the strategy are ignored (and left out of the name)."""

    strategy: str = "greedy"  # greedy | beam | sample
    max_new_tokens: int = 64  # generation stops here at the latest
    num_beams: int = 4  # beam: beams kept
    length_penalty: float = 1.0  # beam: > 1 favours longer, < 1 shorter outputs
    no_repeat_ngram_size: int = 0  # any strategy: forbid repeating n-grams of this size; 0 = off
    temperature: float = 1.0  # sample: softmax temperature
    top_p: float = 1.0  # sample: nucleus mass kept
    top_k: int = 0  # sample: most likely tokens kept; 0 = off
    repetition_penalty: float = 1.0  # any strategy: > 1 discourages repeated tokens (Keskar et al., 2019)
    max_new_tokens_in_name: bool = False  # set when a spec varies max_new_tokens, so the names stay distinct

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"decoding strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}"
            )
        checks = [
            ("max_new_tokens", self.max_new_tokens > 0),
            ("num_beams", self.num_beams >= 1),
            ("no_repeat_ngram_size", self.no_repeat_ngram_size >= 0),
            ("temperature", self.temperature > 0),
            ("top_p", 0 < self.top_p <= 1),
            ("top_k", self.top_k >= 0),
            ("repetition_penalty", self.repetition_penalty > 0),
        ]
        for name, ok in checks:
            if not ok:
                raise ConfigError(f"decoding {name} is out of range: {getattr(self, name)}")

    @property
    def stochastic(self) -> bool:
        """Whether outputs depend on the seed (only sampling does)."""
        return self.strategy == "sample"

    @property
    def name(self) -> str:
        """Short, file-safe name: the strategy plus the parameters that matter for it."""
        parts = [self.strategy]
        if self.strategy == "beam":
            parts.append(f"n{self.num_beams}")
            if self.length_penalty != 1.0:
                parts.append(f"lp{self.length_penalty:g}")
        if self.strategy == "sample":
            parts.append(f"t{self.temperature:g}")
            parts.append(f"p{self.top_p:g}")
            if self.top_k:
                parts.append(f"k{self.top_k}")
        if self.no_repeat_ngram_size:
            parts.append(f"nr{self.no_repeat_ngram_size}")
        if self.repetition_penalty != 1.0:
            parts.append(f"rp{self.repetition_penalty:g}")
        if self.max_new_tokens_in_name:
            parts.append(f"mnt{self.max_new_tokens}")
        return "-".join(parts)

    def generation_kwargs(self) -> dict[str, Any]:
        """Arguments for a fresh `transformers.GenerationConfig` (nothing inherited from the model's
        defaults)."""
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "repetition_penalty": self.repetition_penalty,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
            "do_sample": self.stochastic,
            "num_beams": self.num_beams if self.strategy == "beam" else 1,
        }
        if self.strategy == "beam":
            kwargs["length_penalty"] = self.length_penalty
            kwargs["early_stopping"] = True
        if self.stochastic:
            kwargs.update(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        return kwargs


_FIELDS = {f.name: f for f in dataclasses.fields(Decoding)}


def _coerce(key: str, raw: str) -> Any:
    kind = type(_FIELDS[key].default)
    try:
        return kind(float(raw)) if kind is int and "." not in raw and "e" in raw.lower() else kind(raw)
    except ValueError:
        raise ConfigError(f"decoding {key} must be a {kind.__name__}, got {raw!r}") from None


def parse_decodings(spec: str, defaults: Decoding | None = None) -> list[Decoding]:
    """`'beam:num_beams=2|4,length_penalty=0.8'` -> the settings of that grid, on top of `defaults`."""
    defaults = defaults or Decoding()
    strategy, _, rest = spec.strip().partition(":")
    strategy = strategy.strip()
    grid: dict[str, list[Any]] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = part.partition("=")
        key = key.strip()
        if not eq or key not in _FIELDS or key in ("strategy", "max_new_tokens_in_name"):
            known = ", ".join(k for k in _FIELDS if k not in ("strategy", "max_new_tokens_in_name"))
            raise ConfigError(
                f"bad decoding option {part!r} in {spec!r}; write key=value with key one of: {known}"
            )
        grid[key] = [_coerce(key, v.strip()) for v in raw.split("|") if v.strip()]
    settings = []
    tagged = "max_new_tokens" in grid
    for values in itertools.product(*grid.values()):
        chosen = dict(zip(grid, values))
        settings.append(
            dataclasses.replace(defaults, strategy=strategy, max_new_tokens_in_name=tagged, **chosen)
        )
    return settings


def expand(specs: list[str], defaults: Decoding | None = None) -> list[Decoding]:
    """All settings of several specs, without duplicates (same name), in the order given."""
    seen: dict[str, Decoding] = {}
    for spec in specs:
        for setting in parse_decodings(spec, defaults):
            seen.setdefault(setting.name, setting)
    if not seen:
        raise ConfigError("no decoding settings given; e.g. greedy, beam:num_beams=4, sample:temperature=0.7")
    return list(seen.values())
