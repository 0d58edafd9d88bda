"""Declaring config fields and checking them: `option(...)` with its metadata (help, label, group, choices,
range), `field_specs(cls)` for forms and generated docs, and `check_fields(cfg)`, which coerces every value to
its field's type and checks `choices`; `require`, `positive`, `not_negative` are the range checks configs call
next.

Usable by a dataclass defined elsewhere (`check_fields(self, error=TheirError)`, `option(...)`). No torch.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from ft_core.errors import ConfigError


# --------------------------------------------------------------------------------------------- declaring
# fields
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
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
) -> Any:
    """A config field with its metadata; no default makes it required.

    help: one line for `--help` and a form's tooltip; label: the short name a form shows; advanced: rarely
    changed (a form may fold it away); group: a form's tab; choices: the allowed values; flag: the
    command-line flag when not `--field-name`; split_commas: for a list field, whether `--flag a,b` means two
    items; above / at_least / below / at_most: the range of a number (of each item of a list), which
    `check_fields` enforces and `FieldSpec.range` shows.
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
    if (above, at_least, below, at_most) != (None, None, None, None):
        metadata["range"] = Range(
            low=above if above is not None else at_least,
            high=below if below is not None else at_most,
            low_open=above is not None,
            high_open=below is not None,
        )
    if default is dataclasses.MISSING:
        return field(metadata=metadata)
    if isinstance(default, (list, dict)):
        return field(default_factory=functools.partial(copy.deepcopy, default), metadata=metadata)
    return field(default=default, metadata=metadata)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class Range:
    """The values a number field accepts: a lower and an upper bound (None: none), each open or closed.
    `str(Range(0, 1, low_open=True, high_open=True))` is "(0, 1)"; a lower bound alone reads "> 0" or ">=
    100"."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{left}{_number(self.low)}, {_number(self.high)}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        return f"{'<' if self.high_open else '<='} {_number(self.high)}"

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def problem(self, name: str, value: float) -> str | None:
        """None when `value` is in range, else the one-line error: `lora_r must be positive, got 0`."""
        if value in self:
            return None
        if self.high is not None and self.low is not None:
            return f"{name} must be in {self}, got {value}"
        if self.low == 0:
            return f"{name} must be {'positive' if self.low_open else '>= 0'}, got {value}"
        if self.low is not None and not self.low_open:
            return f"{name} must be at least {_number(self.low)}, got {value}"
        return f"{name} must be {self}, got {value}"


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
    range: Range | None = None  # the numbers it accepts; str() gives "(0, 1)", "> 0", ">= 100"


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
                range=f.metadata.get("range"),
            )
        )
    return specs


def nested_configs(cls: type) -> dict[str, type]:
    """The fields of `cls` that hold a config of their own, by name (a decoding sweep's `generate` and
    `score`)."""
    hints = field_types(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if dataclasses.is_dataclass(hints[f.name])}


def all_field_specs(cls: type) -> list[FieldSpec]:
    """`field_specs`, with a nested config's fields in place of the field that holds it, named
    `score.confidence`; their defaults as the outer config sets them (a nested field's default is a mapping
    of the values it changes). What a generated configuration reference lists."""
    specs = []
    for spec in field_specs(cls):
        if not dataclasses.is_dataclass(spec.annotation):
            specs.append(spec)
            continue
        overrides = spec.default if isinstance(spec.default, dict) else {}
        for inner in all_field_specs(spec.annotation):
            default = overrides.get(inner.name, inner.default)
            specs.append(dataclasses.replace(inner, name=f"{spec.name}.{inner.name}", default=default))
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


# --------------------------------------------------------------------------------------------- checking
# fields
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
    """How an error names a field: `lora_r`, or `learning_rates (--lr)` when its flag is not the field's
    name."""
    flag = f.metadata.get("flag")
    return f"{f.name} ({flag})" if flag else f.name


def check_fields(cfg: Any, error: type[Exception] = ConfigError) -> None:
    """Coerce every field of `cfg` to its declared type and check `choices`; call it first in
    `__post_init__`."""
    hints = field_types(type(cfg))
    for f in dataclasses.fields(cfg):
        setattr(cfg, f.name, _checked(f, getattr(cfg, f.name), hints[f.name], error))


def _checked(f: dataclasses.Field, value: Any, hint: Any, error: type[Exception]) -> Any:
    """`value` coerced to field `f`'s type (`hint`), then checked against its choices and range."""
    value = coerce(display_name(f), value, hint, error)
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise error(f"{f.name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    bounds = f.metadata.get("range")
    if bounds is not None and value is not None:
        for item in value if isinstance(value, list) else [value]:
            problem = bounds.problem(display_name(f), item)
            if problem:
                raise error(problem)
    return value


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def check_value(cls: type, name: str, value: Any, error: type[Exception] = ConfigError) -> Any:
    """One value for field `name` of `cls`, coerced and checked against the field's own type, choices and
    range (what `check_fields` does for a whole config); returns the coerced value. A sweep checks each
    value it will set before any run starts."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    return _checked(f, value, field_types(cls)[name], error)
