"""Data loading and formatting: files or hub ids in, prompts and target-only labels out.

Sources may be a string or a list of sentences (SciTLDR keeps an abstract as a list); targets may be a string
or a list of references (the first one is trained on, all of them are used by the metrics). Before training we
report how many sources and targets the length limits cut, and by how much: the report that started this
project lost signal to truncation without knowing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ft_core import data_files
from ft_core.config import DataConfig
from ft_core.errors import DataError

IGNORE_INDEX = -100  # label value the loss skips: prompt tokens and padding


@dataclass
class Example:
    """One evaluation or training item, after column mapping."""

    item_id: str
    source: str
    target: str
    references: list[str] = field(default_factory=list)


def _as_text(value: Any, joiner: str = " ") -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return joiner.join(str(v) for v in value)
    return str(value)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None and str(v).strip()]
    if hasattr(value, "tolist"):
        return _as_list(value.tolist())
    return [str(value)] if str(value).strip() else []


def read_records(location: str) -> list[dict[str, Any]]:
    """Rows of a local .jsonl/.json/.csv/.parquet file (read by `ft_core.data_files`, the one data-file
    reader), or of a `datasets` hub id written `name[:split]`."""
    if not data_files.is_hub_id(location):
        path = Path(location).expanduser()
        if not path.is_file():
            raise DataError(f"data file not found: {location}")
        try:
            rows = data_files.read_records(path.name, data_files.file_bytes(path))
        except data_files.EmptyFileError:
            return []
        except DataError as e:
            raise DataError(f"{location} could not be parsed: {e}") from None
        return rows.to_dict("records") if isinstance(rows, pd.DataFrame) else rows
    name, _, split = location.partition(":")
    try:
        import datasets

        return list(datasets.load_dataset(name, split=split or "train"))
    except Exception as e:
        raise DataError(
            f"cannot load data set '{name}' (split {split or 'train'}): {type(e).__name__}"
        ) from None


def load_examples(
    location: str, cfg: DataConfig, limit: int | None = None, require_target: bool = True
) -> list[Example]:
    """Map columns to Examples, checking that the configured columns exist and that the file is not empty.

    require_target=False lets an evaluation split without targets through (no references, no reference
    metrics).
    """
    rows = read_records(location)
    if not rows:
        raise DataError(f"{location} holds no examples")
    columns = list(rows[0].keys())
    wanted = [cfg.source_column]
    if require_target or cfg.target_column in rows[0]:
        wanted.append(cfg.target_column)
    if cfg.references_column:
        wanted.append(cfg.references_column)
    if cfg.id_column:
        wanted.append(cfg.id_column)
    for column in wanted:
        if column not in rows[0]:
            raise DataError(
                f"column '{column}' not found in {Path(location).name}; columns are: "
                f"{', '.join(map(str, columns))}"
            )
    examples = []
    for i, row in enumerate(rows[:limit] if limit else rows):
        references = _as_list(row.get(cfg.references_column or cfg.target_column))
        targets = _as_list(row.get(cfg.target_column))
        item_id = str(row[cfg.id_column]) if cfg.id_column else str(i)
        examples.append(
            Example(item_id, _as_text(row.get(cfg.source_column)), targets[0] if targets else "", references)
        )
    if not any(e.source.strip() for e in examples):
        raise DataError(f"every '{cfg.source_column}' in {location} is empty")
    return examples


def build_prompt(tokenizer: Any, cfg: DataConfig, source: str, task: str = "causal") -> str:
    """The text the model sees before its answer: the template, in the chat template for instruct models."""
    if "{source}" not in cfg.prompt_template:
        raise DataError("prompt_template must contain {source}")
    text = cfg.prompt_template.replace("{source}", source)
    if task == "causal" and cfg.use_chat_template and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
        )
    return text


def truncate_source(tokenizer: Any, source: str, max_tokens: int) -> tuple[str, int]:
    """Cut the source (not the instructions around it) to `max_tokens`; returns the text and tokens
    dropped."""
    ids = tokenizer(source, add_special_tokens=False)["input_ids"]
    if len(ids) <= max_tokens:
        return source, 0
    return tokenizer.decode(ids[:max_tokens], skip_special_tokens=True), len(ids) - max_tokens


def encode_example(tokenizer: Any, cfg: DataConfig, example: Example, task: str = "causal") -> dict[str, Any]:
    """Token ids with loss on target tokens only, plus how much of source and target was cut."""
    source, source_cut = truncate_source(tokenizer, example.source, cfg.max_source_length)
    prompt = build_prompt(tokenizer, cfg, source, task)
    add_special = not (
        task == "causal" and cfg.use_chat_template and getattr(tokenizer, "chat_template", None)
    )
    prompt_ids = tokenizer(prompt, add_special_tokens=add_special and task == "seq2seq")["input_ids"]
    target_ids = tokenizer(example.target, add_special_tokens=False)["input_ids"]
    target_cut = max(0, len(target_ids) - cfg.max_target_length)
    target_ids = target_ids[: cfg.max_target_length]
    eos = tokenizer.eos_token_id
    if eos is not None:
        target_ids = target_ids + [eos]
    if task == "seq2seq":
        return {
            "input_ids": prompt_ids,
            "labels": target_ids,
            "source_cut": source_cut,
            "target_cut": target_cut,
        }
    return {
        "input_ids": prompt_ids + target_ids,
        "labels": [IGNORE_INDEX] * len(prompt_ids) + target_ids,
        "source_cut": source_cut,
        "target_cut": target_cut,
    }


def truncation_report(encoded: list[dict[str, Any]]) -> dict[str, Any]:
    """How many sources and targets were cut and by how many tokens (mean over the cut ones, and max)."""
    report: dict[str, Any] = {"examples": len(encoded)}
    for part in ("source", "target"):
        cuts = [e[f"{part}_cut"] for e in encoded if e[f"{part}_cut"] > 0]
        report[f"{part}s_truncated"] = len(cuts)
        report[f"{part}s_truncated_share"] = len(cuts) / len(encoded) if encoded else 0.0
        report[f"{part}_tokens_lost_mean"] = sum(cuts) / len(cuts) if cuts else 0.0
        report[f"{part}_tokens_lost_max"] = max(cuts) if cuts else 0
    return report


def format_truncation_report(report: dict[str, Any], cfg: DataConfig) -> str:
    """One line a researcher reads before training starts."""
    return (
        f"truncation: {report['sources_truncated']}/{report['examples']} sources cut at max_source_length="
        f"{cfg.max_source_length} (mean {report['source_tokens_lost_mean']:.0f}, max "
        f"{report['source_tokens_lost_max']} "
        f"tokens lost); {report['targets_truncated']}/{report['examples']} targets cut at max_target_length="
        f"{cfg.max_target_length} (mean {report['target_tokens_lost_mean']:.0f}, max "
        f"{report['target_tokens_lost_max']} tokens lost)"
    )
