"""Command lines generated from the configs: `--config FILE`, `--set key=value` and a `--field-name` flag per
field (`parse_cli`), and back (`config_to_args`, what the job queue runs). Usage errors are `ConfigError`s.

`transformers.HfArgumentParser` does this too, but importing it loads transformers (hundreds of modules),
and the app and the job queue import the configs: they may not import transformers. So a small argparse helper
here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from ft_core.config.fields import all_field_specs, coerce, field_types, nested_configs
from ft_core.config.files import config_from_dict, parse_overrides, parse_value, read_config_file
from ft_core.errors import ConfigError

C = TypeVar("C")


class ConfigArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are ConfigError: `python -m ft_core` prints them on one line, exit code
    1."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see {self.prog} --help)")


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


@dataclass(frozen=True)
class _FieldFlag:
    """One command-line flag: the field it sets, by its path from the config (`("score", "confidence")` in a
    config made of configs), and the flag's name."""

    path: tuple[str, ...]
    field: dataclasses.Field
    annotation: Any
    default: Any  # as the outer config sets it; dataclasses.MISSING when required
    flag: str
    dest: str
    owner: type  # the config class that declares the field

    @property
    def key(self) -> str:
        """The field's key in a config file or `--set`: `confidence`, or `score.confidence` when nested."""
        return ".".join(self.path)


def _field_flags(cls: type) -> list[_FieldFlag]:
    """The flags of `cls` in declaration order, a nested config's fields in place of the field that holds it.
    A nested field whose flag is taken already (both a sweep's generation and scoring have `device`) gets the
    nested field's name in front: `--score-device`."""
    hints = field_types(cls)
    specs = {s.name: s for s in all_field_specs(cls)}
    flags: list[_FieldFlag] = []
    taken: set[str] = set()
    nested = nested_configs(cls)
    for f in dataclasses.fields(cls):
        if f.name in nested:
            sub = nested[f.name]
            sub_hints = field_types(sub)
            for inner in dataclasses.fields(sub):
                if inner.name in nested_configs(sub):
                    continue  # one level of nesting is all the configs use
                flag = _flag(inner)
                if flag in taken:
                    flag = f"--{f.name.replace('_', '-')}-{flag[2:]}"
                path = (f.name, inner.name)
                spec = specs[".".join(path)]
                flags.append(
                    _FieldFlag(
                        path,
                        inner,
                        sub_hints[inner.name],
                        spec.default,
                        flag,
                        f"{cls.__name__}.{f.name}.{inner.name}",
                        sub,
                    )
                )
                taken.add(flag)
            continue
        flag = _flag(f)
        flags.append(_FieldFlag((f.name,), f, hints[f.name], specs[f.name].default, flag, _dest(cls, f), cls))
        taken.add(flag)
    return flags


def _dest(cls: type, f: dataclasses.Field) -> str:
    return f"{cls.__name__}.{f.name}"


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def _is_bool(annotation: Any) -> bool:
    return annotation is bool


def add_field_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """A flag per field of `cls`: `--field-name VALUE` (lists: several values, repeatable; bools: the flag
    alone means true); the fields of a nested config too (see `_field_flags`)."""
    groups: dict[type, Any] = {}
    for ff in _field_flags(cls):
        if ff.owner not in groups:
            title = f"{ff.owner.__name__} fields" + (f" ({ff.path[0]}.*)" if len(ff.path) > 1 else "")
            groups[ff.owner] = parser.add_argument_group(title)
        text = ff.field.metadata.get("help", "")
        default = "required" if ff.default is dataclasses.MISSING else f"default: {ff.default}"
        # argparse formats help with %: a literal percent sign must be doubled
        kwargs: dict[str, Any] = {
            "dest": ff.dest,
            "default": None,
            "help": f"{text} ({default})".replace("%", "%%"),
        }
        if _is_list(ff.annotation):
            kwargs.update(nargs="+", action="extend", metavar="VALUE")
        elif _is_bool(ff.annotation):
            kwargs.update(nargs="?", const="true", metavar="true|false")
        elif ff.field.metadata.get("choices"):
            kwargs.update(metavar="{" + ",".join(map(str, ff.field.metadata["choices"])) + "}")
        else:
            kwargs.update(metavar=ff.field.name.upper())
        groups[ff.owner].add_argument(ff.flag, **kwargs)


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
    for ff in _field_flags(cls):
        given = getattr(args, ff.dest, None)
        if given is None:
            continue
        values.pop(ff.key, None)  # the flag's value comes last, whichever way the file wrote the key
        values[ff.key] = _flag_value(ff.field, ff.annotation, given)
    return config_from_dict(cls, values)


def _flag_value(f: dataclasses.Field, annotation: Any, given: Any) -> Any:
    """What a field flag's words mean before the config coerces them: a list's items (split at commas
    unless the field says not), or a scalar read as YAML."""
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
    """The words after a field's flag that `config_from_cli` reads back as `value`; None when no flag can
    say it (an empty list, a list item holding a comma, a text YAML reads as another type, a nested
    config)."""
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
    """The command line that `parse_cli(type(cfg), ...)` reads back as `cfg`: `--field-name value` for
    every field that differs from its default (`--run-dir runs/a --limit 20`), or `--set name=<JSON>` where
    no flag can say the value exactly. A nested config's fields are all written out. The job queue builds
    `python -m ft_core generate|score ...` with it."""
    args: list[str] = []
    for ff in _field_flags(type(cfg)):
        value = cfg
        for name in ff.path:
            value = getattr(value, name)
        if len(ff.path) == 1 and ff.default is not dataclasses.MISSING and value == ff.default:
            continue
        words = _flag_words(ff.field, value, ff.annotation)
        if words is None:
            args += ["--set", f"{ff.key}={json.dumps(value, ensure_ascii=False)}"]
        else:
            args += [ff.flag, *words]
    return args
