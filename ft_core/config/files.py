"""Configs from and to files: YAML/JSON config files, `key=value` overrides, flat dicts, `config.json`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ft_core import data_files
from ft_core.config.fields import display_name, nested_configs
from ft_core.errors import ConfigError

C = TypeVar("C")


def config_from_dict(cls: type[C], values: dict[str, Any]) -> C:
    """Build a config from a flat mapping; unknown keys are an error, not silently dropped. A config made
    of configs (a decoding sweep) takes `score.confidence`, a nested mapping, or plain `confidence`
    (`nest_values`)."""
    values = nest_values(cls, values)
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        nested = [f.name for sub in nested_configs(cls).values() for f in dataclasses.fields(sub)]
        raise ConfigError(
            f"unknown {cls.__name__} {'field' if len(unknown) == 1 else 'fields'}: {', '.join(unknown)}; "
            f"known fields: {', '.join(dict.fromkeys(known + nested))}"
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


def nest_values(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """`values` with the keys of `cls`'s nested configs gathered under the field that holds each:
    `score.confidence`, `score: {confidence: ...}`, or a plain `confidence` as before the nesting (a plain
    key goes to the first nested config that has the field: a decoding sweep's `run_dir` is its
    generation's). Unknown keys stay as they are."""
    nested = nested_configs(cls)
    if not nested:
        return dict(values)
    own = {f.name for f in dataclasses.fields(cls)}
    owners = {}
    for name, sub in reversed(nested.items()):
        owners.update({f.name: name for f in dataclasses.fields(sub)})
    out: dict[str, Any] = {}

    def put(name: str, key: str, value: Any) -> None:
        current = out.get(name, {})
        if dataclasses.is_dataclass(current):
            current = {f.name: getattr(current, f.name) for f in dataclasses.fields(current)}
        out[name] = {**current, key: value}

    for key, value in values.items():
        head, dot, rest = key.partition(".")
        if dot and head in nested:
            put(head, rest, value)
        elif key in nested and isinstance(value, dict):
            for inner_key, inner_value in value.items():
                put(key, inner_key, inner_value)
        elif key in own or key not in owners:
            out[key] = value
        else:
            put(owners[key], key, value)
    return out


def parse_value(raw: str) -> Any:
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
        out[key.strip()] = parse_value(raw)
    return out


def _config_text(path: Path) -> str:
    """The text of a config file, which must be UTF-8 (YAML's own encoding); ConfigError saying why not, in
    the words of the one data-file reader."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read the config file {path}: {e.strerror or e}") from None
    if not data.strip():
        return ""
    return data_files.decode_text(str(path), data, error=ConfigError, expected="a YAML or JSON config file")


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
    """Read a YAML (or JSON) config file, apply `key=value` overrides; the config coerces and checks
    itself."""
    values: dict[str, Any] = read_config_file(path) if path is not None else {}
    values.update(parse_overrides(overrides))
    return config_from_dict(cls, values)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    """The config as JSON (what a run folder's config.json holds). Run folders are written through
    `ft_core.runfolder.write_config`, which does this atomically."""
    Path(path).write_text(json.dumps(config_to_dict(cfg), indent=2) + "\n")
