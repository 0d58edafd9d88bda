"""Command lines generated from the configs: `--config FILE`, `--set key=value` and a `--field-name` flag per field
(`parse_cli`), and back (`config_to_args`, what the job queue runs). Usage errors are `ConfigError`s.

`transformers.HfArgumentParser` does this too, but importing it loads transformers (about 570 modules, 1-3 s), and
the app and the job queue import the configs: they may not import transformers. So a small argparse helper here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from typing import Any, NoReturn, TypeVar

from ft_core.config.fields import coerce, field_types
from ft_core.config.files import config_from_dict, parse_overrides, parse_value, read_config_file
from ft_core.errors import ConfigError

C = TypeVar("C")


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
    return parse_value(given)


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
