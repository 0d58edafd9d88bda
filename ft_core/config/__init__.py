"""Typed job configs, how they check themselves, and the one helper that reads them from files and command
lines.

One dataclass per job: `TrainConfig`, `GenerateConfig`, `ScoreConfig`, `SweepConfig` (a training grid),
`DecodingSweepConfig` (a decoding grid) and `DPOTrainConfig` (preference tuning). The same object flows
from the page form or the YAML file to the job and into the run folder's `config.json`; nobody re-parses loose
dicts.

- Fields are declared with `option(default, help=..., label=...)`: `help` is the one-line explanation (the
  CLI's
  `--help`, a form's tooltip), `label` the short name a form shows ("Max target length (tokens)"), `advanced`
  marks what is rarely changed, `group` sorts fields into a form's tabs, `choices` lists the allowed values,
  `flag` renames the command-line flag. `field_specs(cls)` hands this metadata to a form.
- A config checks itself in `__post_init__`: `check_fields` coerces every value to its field's type (a form's
  text "1e-4" or a YAML string is fine) and checks the field's `choices` and range (`option(..., above=0,
  below=1)`), then the class checks the rules that join fields. Any bad value raises `ConfigError` (a
  `ValueError`) naming the field, so a page shows exactly the error the CLI prints.
- `all_field_specs(cls)` lists every field with its name, type, default, help, label, choices and range (a
  nested
  config's as `score.confidence`): what a form or a generated configuration reference reads.
- `load_config(TrainConfig, "train.yaml", ["lr=1e-4"])` reads a YAML/JSON file and applies `key=value`
  overrides; `config_from_dict` refuses unknown keys. A config made of configs (`DecodingSweepConfig`: a
  `GenerateConfig` and a `ScoreConfig`) takes `score.confidence`, a nested mapping, or a plain `confidence`.
- `parse_cli(cls, argv, prog)` parses a command line from the dataclass: `--config FILE`, `--set key=value`,
  and `--field-name value` for every field (lists take several values or comma-separated ones). Usage errors
  are `ConfigError`s too, so every command fails with one line `error: ...` and exit code 1.

The package's rooms: `fields` (the field helper `option`, `field_specs`, `check_fields`), `cli` (command lines
generated from the configs), `files` (YAML/JSON files and overrides), `choices` (values several configs share)
and one module per config (`train`, `generate`, `score`, `sweep`, `dpo`). Everything public is re-exported
here, so `from ft_core.config import TrainConfig` is the way to import it. No torch, no transformers at module
level: the app and the job queue import this package.
"""

from ft_core.config.choices import PRECISIONS, SYSTEMS, TASKS
from ft_core.config.cli import (
    ConfigArgumentParser,
    add_field_flags,
    cli_parser,
    config_from_cli,
    config_to_args,
    parse_cli,
)
from ft_core.config.dpo import DPO_LOSS_TYPES, DPOTrainConfig
from ft_core.config.fields import (
    FieldSpec,
    Range,
    all_field_specs,
    check_fields,
    coerce,
    display_name,
    field_groups,
    field_specs,
    field_types,
    nested_configs,
    option,
)
from ft_core.config.files import (
    config_from_dict,
    config_to_dict,
    load_config,
    nest_values,
    parse_overrides,
    read_config_file,
    save_config,
)
from ft_core.config.generate import GenerateConfig
from ft_core.config.score import (
    DEFAULT_METRICS,
    EMBEDDED_ENCODER,
    SCORE_METRICS,
    SOURCE_SCORE_METRICS,
    ScoreConfig,
)
from ft_core.config.sweep import DECODING_GRID, DecodingSweepConfig, SweepConfig
from ft_core.config.train import DEFAULT_DATA_DIR, DataConfig, TrainConfig
from ft_core.errors import ConfigError
from ft_core.languages import DEFAULT_LANGUAGE, check_language

__all__ = [
    "DECODING_GRID",
    "DPO_LOSS_TYPES",
    "DEFAULT_DATA_DIR",
    "DEFAULT_LANGUAGE",
    "DEFAULT_METRICS",
    "EMBEDDED_ENCODER",
    "PRECISIONS",
    "SCORE_METRICS",
    "SOURCE_SCORE_METRICS",
    "SYSTEMS",
    "TASKS",
    "ConfigArgumentParser",
    "ConfigError",
    "DPOTrainConfig",
    "DataConfig",
    "DecodingSweepConfig",
    "FieldSpec",
    "GenerateConfig",
    "Range",
    "ScoreConfig",
    "SweepConfig",
    "TrainConfig",
    "add_field_flags",
    "all_field_specs",
    "check_fields",
    "check_language",
    "cli_parser",
    "coerce",
    "config_from_cli",
    "config_from_dict",
    "config_to_args",
    "config_to_dict",
    "display_name",
    "field_groups",
    "field_specs",
    "field_types",
    "load_config",
    "nest_values",
    "nested_configs",
    "option",
    "parse_cli",
    "parse_overrides",
    "read_config_file",
    "save_config",
]
