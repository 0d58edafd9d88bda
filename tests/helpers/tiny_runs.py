"""The tiny training run of the tests: one set of small settings (a tiny model, the tiny data set, short
sequences, a log row per step) for a `TrainConfig` or for `python -m ft_core train`'s `--set` arguments."""

from __future__ import annotations

from pathlib import Path


def tiny_settings(model_dir: Path, data_dir: Path, run_dir: Path, **overrides: object) -> dict[str, object]:
    """The tiny run's settings, train and dev files from `data_dir` (conftest's `tiny_jsonl`); `overrides`
    replace or add settings."""
    return {
        "base_model": str(model_dir),
        "train_file": str(Path(data_dir) / "train.jsonl"),
        "validation_file": str(Path(data_dir) / "dev.jsonl"),
        "run_dir": str(run_dir),
        "max_source_length": 48,
        "max_target_length": 16,
        "log_every_steps": 1,
        **overrides,
    }


def set_args(settings: dict[str, object]) -> list[str]:
    """`--set key=value` for each setting, as the `python -m ft_core` commands take them."""
    return [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
