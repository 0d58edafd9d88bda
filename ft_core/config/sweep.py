"""`SweepConfig` (a training sweep over any config fields, grid or random, run locally or as a SLURM job
array) and `DecodingSweepConfig` (a decoding grid)."""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import random
from dataclasses import dataclass
from typing import Any

import yaml

from ft_core.config.fields import check_fields, check_value, field_types, option, require
from ft_core.config.files import config_from_dict, parse_value
from ft_core.config.generate import GenerateConfig
from ft_core.config.score import DEFAULT_METRICS, ScoreConfig
from ft_core.config.train import TrainConfig
from ft_core.errors import ConfigError

SEARCHES = ("grid", "random")
EXECUTORS = ("local", "slurm", "submitit-local")
# Fields a sweep point sets itself: its own folder, resuming a half-done point.
NOT_SWEPT = ("run_dir", "resume")


@dataclass
class SweepConfig:
    """A training sweep: any config fields and their values, as a full grid or `n_points` drawn at random
    (seeded) from it; one run per point, each into its own folder under the base TrainConfig's run_dir
    (`lr0.0001_r16`, `max_target_length441`). `--lr` / `--r` are the old learning rate x LoRA rank grid,
    the fields `learning_rate` and `lora_r` first in the grid. A point also generates and scores when
    `evaluate` is set, so `generate.*` and `score.*` fields (`max_new_tokens`) can be swept too. Every name
    and value is checked against the field's own type, choices and range when the sweep is built, before
    any run starts."""

    learning_rates: list[float] = option(
        [],
        help="learning rates, comma-separated: 3e-5,1e-4,3e-4 (the grid's learning_rate)",
        label="Learning rates",
        flag="--lr",
        above=0,
        below=1,
    )
    lora_ranks: list[int] = option(
        [],
        help="LoRA ranks, comma-separated: 8,16,32 (the grid's lora_r)",
        label="LoRA ranks",
        flag="--r",
        above=0,
    )
    grid: list[str] = option(
        [],
        help="a swept field and its values, repeatable: --grid max_target_length=320,441,512 (a TrainConfig "
        "field, or generate.<field> / score.<field>); a config file may give a mapping {field: [values]}",
        label="Swept fields",
        flag="--grid",
        split_commas=False,
    )
    search: str = option(
        "grid", help="'grid': every combination; 'random': n_points of them", label="Search", choices=SEARCHES
    )
    n_points: int | None = option(
        None, help="points drawn by a random search", label="Random points", above=0
    )
    search_seed: int = option(0, help="seed of a random search's draw", label="Search seed")
    alpha_per_r: bool = option(
        False,
        help="keep lora_alpha / lora_r as configured (alpha grows with r); otherwise alpha stays fixed",
        label="Scale LoRA alpha with r",
        flag="--alpha-per-r",
    )
    evaluate: bool = option(
        False,
        help="after training, each point generates and scores its test split (generate.* / score.* settings)",
        label="Generate and score each point",
    )
    generate: dict = option(
        {}, help="generation settings of every point, e.g. {max_new_tokens: 64}", label="Generation"
    )
    score: dict = option({}, help="scoring settings of every point, e.g. {metrics: [rouge]}", label="Scoring")
    executor: str = option(
        "local",
        help="'local': points one after another in this process; 'slurm': a SLURM job array through "
        "submitit; 'submitit-local': the same array as local processes (to try a SLURM sweep here)",
        label="Executor",
        choices=EXECUTORS,
    )
    slurm_partition: str | None = option(
        None, help="SLURM partition; none: the cluster's default", label="SLURM partition", group="slurm"
    )
    slurm_time_min: int = option(
        240,
        help="time limit of each point's job, in minutes",
        label="SLURM time (min)",
        group="slurm",
        above=0,
    )
    slurm_gpus_per_node: int = option(
        1, help="GPUs of each point's job", label="SLURM GPUs", group="slurm", at_least=0
    )
    slurm_cpus_per_task: int = option(
        8, help="CPU cores of each point's job", label="SLURM CPUs", group="slurm", above=0
    )
    slurm_mem_gb: int = option(
        32, help="memory of each point's job, in GB", label="SLURM memory (GB)", group="slurm", above=0
    )
    slurm_array_parallelism: int = option(
        8, help="points running at once", label="SLURM parallel points", group="slurm", above=0
    )

    def __post_init__(self) -> None:
        for name in ("grid", "generate", "score"):  # a mapping given on a command line (--set grid={...})
            text = getattr(self, name)
            if isinstance(text, str) and text.strip().startswith("{"):
                setattr(self, name, _read_mapping(name, text))
        if isinstance(self.grid, dict):  # a config file's mapping {field: [values]}
            self.grid = [f"{name}={json.dumps(values)}" for name, values in self.grid.items()]
        check_fields(self)
        require(isinstance(self.generate, dict), "generate must be a mapping of generate fields")
        require(isinstance(self.score, dict), "score must be a mapping of score fields")
        self.values = self._values()
        require(
            bool(self.values),
            "the sweep names no field: give --grid field=v1,v2 (or --lr / --r), e.g. --grid "
            "max_target_length=320,441,512",
        )
        for name, values in self.values.items():
            require(bool(values), f"{name} has no values in the sweep; give them as {name}=v1,v2")
            require(
                self.evaluate or not name.startswith(("generate.", "score.")),
                f"{name} is swept but the points do not generate: set evaluate (--evaluate)",
            )
        require(
            self.search == "grid" or self.n_points is not None,
            "a random search needs n_points (--n-points), the number of points to draw",
        )
        for section, cls in (("generate", GenerateConfig), ("score", ScoreConfig)):
            for name, value in getattr(self, section).items():
                require(
                    name in field_types(cls), f"unknown {section} field {name!r} in the sweep's {section}"
                )
                _check_swept(f"{section}.{name}", value)

    def _values(self) -> dict[str, list]:
        """Each swept field (`learning_rate`, `generate.max_new_tokens`) and its values, checked."""
        values: dict[str, list] = {}
        if self.learning_rates:
            values["learning_rate"] = list(self.learning_rates)
        if self.lora_ranks:
            values["lora_r"] = list(self.lora_ranks)
        for item in self.grid:
            name, sep, text = item.partition("=")
            require(bool(sep), f"grid entry {item!r} must be field=v1,v2,...")
            name = _qualified(name.strip())
            require(name not in values, f"{name} is swept twice")
            values[name] = [_check_swept(name, v) for v in _parse_values(text)]
        return values

    def describe(self) -> str:
        """`3x3` (values per swept field), or `5 of 3x3` for a random search."""
        grid = "x".join(str(len(v)) for v in self.values.values())
        return grid if self.search == "grid" else f"{len(self.points())} of {grid}"

    def points(self) -> list[dict[str, Any]]:
        """The points to run, in order: every combination (the last field varying fastest), or n_points of
        them drawn without replacement with `seed` (all of them when the grid is smaller)."""
        names = list(self.values)
        combos = [dict(zip(names, combo)) for combo in itertools.product(*self.values.values())]
        if self.search == "random":
            picked = sorted(
                random.Random(self.search_seed).sample(range(len(combos)), min(self.n_points, len(combos)))
            )
            combos = [combos[i] for i in picked]
        return combos


def _owner(name: str) -> tuple[type, str]:
    section, _, field_name = name.rpartition(".")
    return {"": TrainConfig, "generate": GenerateConfig, "score": ScoreConfig}[section], field_name


def _qualified(name: str) -> str:
    """`max_new_tokens` -> `generate.max_new_tokens` when TrainConfig has no such field; an unknown name
    is a one-line error with the closest names."""
    train, generate, score = (set(field_types(c)) for c in (TrainConfig, GenerateConfig, ScoreConfig))
    section, _, field_name = name.rpartition(".")
    known = {"": train, "generate": generate, "score": score}
    if section in known and field_name in known[section] and (section or field_name not in NOT_SWEPT):
        if section and field_name in ("run_dir", "output_dir"):
            raise ConfigError(f"{name} cannot be swept: each point writes into its own run folder")
        return name
    if not section and field_name not in train:
        for other in ("generate", "score"):
            if field_name in known[other] and field_name not in ("run_dir", "output_dir"):
                return f"{other}.{field_name}"
    if field_name in NOT_SWEPT and not section:
        raise ConfigError(f"{name} cannot be swept: each point writes into its own run folder")
    everything = sorted(train) + [f"generate.{n}" for n in generate] + [f"score.{n}" for n in score]
    close = difflib.get_close_matches(name, everything, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else " (see docs/configuration.md)"
    raise ConfigError(
        f"unknown field {name!r} in the sweep: not a TrainConfig, generate or score field{hint}"
    )


def _check_swept(name: str, value: Any) -> Any:
    """A swept value as its field's type, or the field's own one-line error, prefixed with the field."""
    cls, field_name = _owner(name)
    try:
        return check_value(cls, field_name, value)
    except ConfigError as e:
        message = str(e)
        raise ConfigError(message if message.startswith(field_name) else f"{name}: {message}") from None


def _read_mapping(name: str, text: str) -> dict:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"cannot read {name} {text!r}: {str(e).splitlines()[0]}") from None
    require(isinstance(value, dict), f"{name} must be a mapping, got {text!r}")
    return value


def _parse_values(text: str) -> list:
    """`320,441,512` or a YAML/JSON list `[[q_proj, v_proj], [all-linear]]`; each item read as YAML."""
    text = text.strip()
    if text.startswith("["):
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"cannot read the values {text!r}: {str(e).splitlines()[0]}") from None
        return loaded if isinstance(loaded, list) else [loaded]
    return [parse_value(v.strip()) for v in text.split(",") if v.strip()]


DECODING_GRID = ["greedy", "beam:num_beams=4", "beam:num_beams=4,no_repeat_ngram_size=3", "sample"]


@dataclass
class DecodingSweepConfig:
    """A decoding sweep: a generation job whose `decodings` is the grid, then a scoring job over every output
    in the folder it wrote. Made of a `GenerateConfig` and a `ScoreConfig`, each checking itself when the
    sweep is built, so a bad `confidence` or `n_boot` fails before any model loads.

    Keys: `score.confidence` (file, `--set`), a nested `score:` mapping, or, as before, plain `confidence`;
    a plain key both have (run_dir, decodings, device, precision) is the generation's, and scoring follows
    it: it reads the generation's output folder on its device unless `score.run_dir` / `score.device` say
    otherwise."""

    # A nested field's default is the mapping of the values the sweep sets differently from the job's own
    # defaults.
    generate: GenerateConfig = option(
        {"decodings": DECODING_GRID},
        help="the generation job (every `generate` field); its decodings are the grid, each may hold a|b|c "
        "lists",
        label="Generation",
    )
    score: ScoreConfig = option(
        {"metrics": list(DEFAULT_METRICS)},
        help="the scoring job (every `score` field); run_dir and device default to the generation's",
        label="Scoring",
    )
    primary_metric: str = option(
        "rougeL", help="metric the summary line ranks decoding settings by", label="Ranking metric"
    )

    def __post_init__(self) -> None:
        check_fields(self)
        defaults = {
            f.name: f.default_factory() for f in dataclasses.fields(self) if f.name in ("generate", "score")
        }
        if isinstance(self.generate, dict):
            self.generate = config_from_dict(GenerateConfig, {**defaults["generate"], **self.generate})
        require(
            isinstance(self.generate, GenerateConfig),
            "generate must be a GenerateConfig or a mapping of its fields, got "
            f"{type(self.generate).__name__}",
        )
        if isinstance(self.score, dict):
            follows = {
                "run_dir": self.generate.output_dir or self.generate.run_dir,
                "device": self.generate.device,
            }
            self.score = config_from_dict(ScoreConfig, {**follows, **defaults["score"], **self.score})
        require(
            isinstance(self.score, ScoreConfig),
            f"score must be a ScoreConfig or a mapping of its fields, got {type(self.score).__name__}",
        )
