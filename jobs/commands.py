"""The command lines of jobs, built from typed configs in one place.

- `python -m ft_core train|sweep --config FILE` reads a config file written here (`write_job_config`, the
  config's `config_to_dict` as YAML under `<runs>/.jobs/`); `generate` and `score` take their config as flags
  (`ft_core.config.config_to_args`: `--run-dir runs/a --limit 20`).
- Several GPUs: `python -m accelerate.commands.launch --multi_gpu --num_processes N --main_process_port P -m
  ft_core ...`. A queued command holds the GPUs asked for; when it starts, `for_processes` rewrites it for the
  GPUs it actually got (N) and a port no other running job holds (P), since two launches on accelerate's
  default port 29500 would collide.
- The same command for a terminal (`shell_command`) and as a SLURM batch script (`slurm_script`, which picks a
  free port on the node when it runs).
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ft_core.config import (
    ConfigError,
    GenerateConfig,
    ScoreConfig,
    SweepConfig,
    add_field_flags,
    config_from_cli,
    config_to_args,
    config_to_dict,
)
from jobs.errors import JobError
from jobs.logs import job_files_dir

ACCELERATE_LAUNCH = "accelerate.commands.launch"  # `accelerate launch`, run with this interpreter
PORT_FLAG = "--main_process_port"
SLURM_PORT = "$MAIN_PROCESS_PORT"
# A free port on the cluster node, chosen when the batch job starts (jobs sharing a node must not collide).
# The interpreter as the README's setup gives it (`.ci/setup` makes the checkout's .venv): what hints to type
# say.
README_PYTHON = ".venv/bin/python"
# the environment of a job that must not reach the Hugging Face Hub (the demo, campaign scores, judges)
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
SLURM_FREE_PORT = (
    'MAIN_PROCESS_PORT=$(python -c \'import socket; s = socket.socket(); s.bind(("", 0)); '
    "print(s.getsockname()[1])')"
)


def ft_core_command(
    subcommand: str,
    args: list[str],
    n_gpus: int = 1,
    port: int | str | None = None,
    python: str | None = None,
) -> list[str]:
    """`python -m ft_core SUB ARGS`; with several GPUs `accelerate launch --multi_gpu --num_processes N
    [--main_process_port P] -m ft_core SUB ARGS`."""
    python = python or sys.executable
    if n_gpus <= 1:
        return [python, "-m", "ft_core", subcommand, *args]
    launch = [python, "-m", ACCELERATE_LAUNCH, "--multi_gpu", "--num_processes", str(n_gpus)]
    if port is not None:
        launch += [PORT_FLAG, str(port)]
    return [*launch, "-m", "ft_core", subcommand, *args]


def train_command(config_file: str | Path, n_gpus: int = 1, check: bool = False) -> list[str]:
    """`python -m ft_core train --config FILE` (`--check`: validate config, data and run folder, no
    training)."""
    return ft_core_command("train", ["--config", str(config_file), *(["--check"] if check else [])], n_gpus)


def sweep_command(config_file: str | Path, grid: SweepConfig, n_gpus: int = 1) -> list[str]:
    """`python -m ft_core sweep train --config FILE --grid ... [--lr ... --r ...]`: the sweep's flags from
    the SweepConfig."""
    return ft_core_command("sweep", ["train", "--config", str(config_file), *config_to_args(grid)], n_gpus)


def dpo_command(config_file: str | Path) -> list[str]:
    """`python -m ft_core dpo --config FILE`: preference tuning of an SFT run (one process)."""
    return ft_core_command("dpo", ["--config", str(config_file)])


def generate_command(config: GenerateConfig) -> list[str]:
    """`python -m ft_core generate --run-dir ... [--limit N ...]`: the config's fields that differ from
    defaults."""
    return ft_core_command("generate", config_to_args(config))


def score_command(config: ScoreConfig) -> list[str]:
    """`python -m ft_core score --run-dir ... [--metrics ...]`."""
    return ft_core_command("score", config_to_args(config))


def write_job_config(config: Any, runs_root: str | Path, name: str) -> Path:
    """Write a job config (TrainConfig, ..., or its fields as a mapping) as YAML under `<runs>/.jobs/` (the
    run folder must not exist before training starts); returns its path."""
    folder = job_files_dir(runs_root)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-") or "run"
    path = folder / f"{safe}-{stamp}-{secrets.token_hex(3)}.yaml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        values = dict(config) if isinstance(config, dict) else config_to_dict(config)
        path.write_text(yaml.safe_dump(values, sort_keys=False))
    except OSError as e:
        raise JobError(f"cannot write {path}: {e.strerror or e} (is the disk full?)") from None
    return path


# --------------------------------------------------------------------------------------------- reading
# commands
def _value_after(command: list[str], flag: str) -> str | None:
    """The word after `flag` in the command, or None."""
    at = command.index(flag) if flag in command else -1
    return command[at + 1] if 0 <= at < len(command) - 1 else None


def _ft_core_words(command: list[str]) -> list[str] | None:
    """`SUB ARGS` of an `accelerate launch ... -m ft_core SUB ARGS` command of ours; None for anything
    else."""
    if command[1:3] != ["-m", ACCELERATE_LAUNCH]:
        return None
    starts = [i for i in range(3, len(command) - 2) if command[i : i + 2] == ["-m", "ft_core"]]
    return command[starts[0] + 2 :] if starts else None


def for_processes(command: list[str], n_processes: int, port: int | None) -> list[str]:
    """The command a queued job runs with the GPUs it got: an `accelerate launch` of ft_core gets
    `--num_processes` = those GPUs (one, or none: plain `python -m ft_core`) and the port `port`. Other
    commands run as they were queued."""
    words = _ft_core_words(command)
    if words is None:
        return command
    return ft_core_command(words[0], words[1:], n_processes, port, python=command[0])


def launches_processes(command: list[str]) -> bool:
    """Does the command start several processes that meet on a port (`accelerate launch`)?"""
    return _ft_core_words(command) is not None


def main_process_port(command: list[str]) -> int | None:
    """The `--main_process_port` a started command was given, or None."""
    value = _value_after(command, PORT_FLAG)
    return int(value) if value is not None and value.isdigit() else None


def sweep_size(command: list[str]) -> int | None:
    """Points of a `sweep train` command (the grid of its --lr, --r and --grid flags, or --n-points of a
    random search), for its progress bar; None when the command does not say."""
    words = command[command.index("train") + 1 :] if "train" in command else command
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_field_flags(parser, SweepConfig)
    try:
        args, _ = parser.parse_known_args(words)
        return len(config_from_cli(SweepConfig, args, from_file=False).points())
    except (ConfigError, SystemExit):
        return None


# --------------------------------------------------------------------------------------------- for people
def shell_command(command: list[str], python: str = "python") -> str:
    """The command as a researcher types it (`python` for this interpreter, `accelerate launch` spelled
    out); hints to type pass `python=README_PYTHON` (then `.venv/bin/accelerate launch`)."""
    words = [python if w == sys.executable else w for w in command]
    if words[:3] == [python, "-m", ACCELERATE_LAUNCH]:
        words = [str(PurePosixPath(python).with_name("accelerate")), "launch", *words[3:]]
    return shlex.join(words)


def slurm_script(
    command: list[str], n_gpus: int = 1, job_name: str = "ft-core", python: str = README_PYTHON
) -> str:
    """An sbatch script running the same command on a cluster node (edit partition and time to your site);
    with several GPUs, `accelerate launch` on a port that is free on the node when the job starts.
    `python`: the interpreter as the script names it (the checkout's venv, from the folder `sbatch` is run
    in)."""
    gpus = max(1, n_gpus)
    words = _ft_core_words(command)
    if words is None and command[1:3] == ["-m", "ft_core"]:
        words = command[3:]
    lines = []
    if words is not None and gpus > 1:
        lines.append(SLURM_FREE_PORT)
        command = ft_core_command(words[0], words[1:], gpus, SLURM_PORT)
    run = shell_command(command, python).replace(shlex.quote(SLURM_PORT), f'"{SLURM_PORT}"')
    return (
        "#!/bin/bash\n"
        f"#SBATCH --job-name={job_name}\n"
        f"#SBATCH --gres=gpu:{gpus}\n"
        "#SBATCH --cpus-per-task=8\n"
        "#SBATCH --time=04:00:00\n"
        "#SBATCH --output=%x-%j.log\n"
        "export HF_HUB_OFFLINE=1  # models and data must be on the node already\n"
        "export CUDA_DEVICE_ORDER=PCI_BUS_ID  # number GPUs as nvidia-smi does\n"
        + "".join(line + "\n" for line in lines)
        + f"{run}\n"
    )
