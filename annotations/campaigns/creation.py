"""Creating a campaign: read its outputs and metrics, pair the two systems' outputs per item, choose the
items, check the texts' lengths, and store everything in one write. `create_campaign` tells it in these
stages."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pandas as pd

from annotations import store
from annotations.campaigns import source_files
from annotations.campaigns.config import CampaignConfig
from annotations.campaigns.imports import ImportedOutputs, as_reference_list, import_outputs
from annotations.campaigns.language import forget_open_languages
from annotations.campaigns.selection import select_items
from annotations.errors import CampaignError
from annotations.judging.design import Design, new_secret
from annotations.plurals import counted, plural


@dataclass
class CampaignRows:
    """The rows a new campaign adds to the items, outputs and metrics tables."""

    items: pd.DataFrame
    outputs: pd.DataFrame
    metrics: pd.DataFrame
    texts_truncated: int  # texts cut to config.max_text_chars


def create_campaign(
    con: duckdb.DuckDBPyConnection,
    config: CampaignConfig,
    created_by: str | None = None,
    *,
    design_secret: str | None = None,
) -> str:
    """Read `config`'s outputs and metrics, choose the items, store everything; returns campaign_id.

    `design_secret` (64 hex digits) fixes the secret of the side and order design, to rerun a design exactly
    (tests, simulations); by default every campaign gets a fresh random one, which is what keeps it blind.
    """
    if design_secret is not None and not re.fullmatch(r"[0-9a-f]{64}", design_secret):
        raise CampaignError("design_secret must be 64 lowercase hex digits (256 bits)")
    imported = import_outputs(config)
    by_system = outputs_by_system(imported.outputs, config)
    config = with_gold_from_file(config, imported.outputs)
    selected = choose_items(by_system, imported.metrics, config)
    rows = campaign_rows(by_system, imported, selected, config)
    design = Design(design_secret or new_secret(), tuple(config.side_block_sizes), config.side_max_imbalance)
    return store_campaign(con, config, rows, imported.origin, design, created_by)


def outputs_by_system(outputs: pd.DataFrame, config: CampaignConfig) -> dict[str, pd.DataFrame]:
    """Each system's outputs indexed by item_id; refuses two outputs of one system for an item, and two
    systems without an item in common."""
    outputs = outputs.copy()
    outputs["item_id"] = outputs["item_id"].astype(str)
    dup = outputs.duplicated(["item_id", "system"])
    if dup.any():
        first = outputs[dup].iloc[0]
        raise CampaignError(f"item '{first.item_id}' has two outputs for system '{first.system}'")
    by_system = {s: outputs[outputs.system == s].set_index("item_id") for s in config.compared_systems}
    if not _common_items(by_system, config):
        if config.multi_system:
            raise CampaignError(f"no item has outputs from all of {', '.join(config.compared_systems)}")
        raise CampaignError(f"no item has outputs from both '{config.system_a}' and '{config.system_b}'")
    return by_system


def _common_items(by_system: dict[str, pd.DataFrame], config: CampaignConfig) -> list[str]:
    """Items with outputs from every system (both, for two), in system_a's order."""
    others = [by_system[s].index for s in config.compared_systems if s != config.system_a]
    return [i for i in by_system[config.system_a].index if all(i in index for index in others)]


def with_gold_from_file(config: CampaignConfig, outputs: pd.DataFrame) -> CampaignConfig:
    """The config with the file's `gold_winner` column added to its gold items (the config's own win)."""
    if "gold_winner" not in outputs:
        return config
    gold = dict(config.gold_items)
    for row in outputs[outputs.system == config.system_a].itertuples():
        value = getattr(row, "gold_winner", None)
        if isinstance(value, str) and value:
            gold.setdefault(str(row.item_id), value)
    return dataclasses.replace(config, gold_items=gold)  # checks the winners again


def choose_items(
    by_system: dict[str, pd.DataFrame], metrics: pd.DataFrame, config: CampaignConfig
) -> dict[str, str]:
    """item_id -> why it was chosen: the selection's picks among the regular items, then every gold item."""
    common = _common_items(by_system, config)
    gold = config.gold_items
    unknown_gold = [i for i in gold if i not in common]
    if unknown_gold:
        raise CampaignError(
            f"gold {plural(len(unknown_gold), 'item')} {unknown_gold[:5]} "
            f"{plural(len(unknown_gold), 'has', 'have')} no outputs from both systems"
        )
    regular = [i for i in common if i not in gold]
    selected = select_items(regular, metrics, config)
    selected.update({i: "gold" for i in gold})
    return selected


def campaign_rows(
    by_system: dict[str, pd.DataFrame],
    imported: ImportedOutputs,
    selected: dict[str, str],
    config: CampaignConfig,
) -> CampaignRows:
    """The items, outputs and metrics rows of the chosen items, texts checked against the length limit."""
    ids = list(selected)
    gold = config.gold_items
    first = by_system[config.system_a].loc[ids]
    items = pd.DataFrame(
        {
            "item_id": ids,
            "position": range(len(ids)),
            "prompt": [_text_or_none(v) for v in _column(first, "prompt")],
            "source": [_text_or_none(v) for v in _column(first, "source")],
            "reference_texts": [as_reference_list(v) for v in _column(first, "references")],
            "metadata": _metadata(first),
            "is_gold": [i in gold for i in ids],
            "gold_winner": [gold.get(i) for i in ids],
            "selection_reason": list(selected.values()),
        }
    )
    outputs = pd.concat(
        [
            pd.DataFrame(
                {
                    "item_id": ids,
                    "system": system,
                    "decoding": imported.origin[system]["decoding"],
                    "seed": imported.origin[system]["seed"],
                    "output": frame.loc[ids, "output"].astype(str).tolist(),
                }
            )
            for system, frame in by_system.items()
        ],
        ignore_index=True,
    )
    texts_truncated = _limit_texts(items, outputs, config)
    outputs["n_words"] = [len(text.split()) for text in outputs["output"]]
    metrics = imported.metrics
    metrics = metrics[metrics.item_id.isin(set(selected)) & metrics.system.isin(list(by_system))].dropna(
        subset=["value"]
    )
    return CampaignRows(items, outputs, metrics, texts_truncated)


# the columns of a campaign's rows besides its campaign_id
ITEM_COLUMNS = (
    "item_id",
    "position",
    "prompt",
    "source",
    "reference_texts",
    "metadata",
    "is_gold",
    "gold_winner",
    "selection_reason",
)
OUTPUT_COLUMNS = ("item_id", "system", "decoding", "seed", "output", "n_words")
METRIC_COLUMNS = ("item_id", "system", "metric", "value")


def store_campaign(
    con: duckdb.DuckDBPyConnection,
    config: CampaignConfig,
    rows: CampaignRows,
    origin: dict[str, dict[str, Any]],
    design: Design,
    created_by: str | None,
) -> str:
    """Write the campaign, its criteria, systems, items, outputs and metrics in one transaction; its new
    id."""
    campaign_id = store.new_id("c-")[:14]
    now = store.utcnow()
    items_df, outputs_df, metrics_df, texts_truncated = (
        rows.items,
        rows.outputs,
        rows.metrics,
        rows.texts_truncated,
    )

    def write_campaign(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute(
            "INSERT INTO campaigns (campaign_id, name, system_a, system_b, k, run_dir, source_file, "
            "selection, show_reference, instructions, lease_minutes, gold_rate, repeat_rate, "
            "items_per_annotator, config, status, created_at, created_by, design_secret, design_id) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)",
            [
                campaign_id,
                config.name,
                config.system_a,
                config.system_b,
                config.k,
                config.run_dir,
                config.source_file,
                config.selection,
                config.show_reference,
                config.instructions,
                config.lease_minutes,
                config.gold_rate,
                config.repeat_rate,
                config.items_per_annotator,
                config.to_json(),
                now,
                created_by,
                design.secret,
                design.design_id,
            ],
        )
        cur.execute(
            "UPDATE campaigns SET max_text_chars = ?, texts_truncated = ?, language = ? WHERE campaign_id = "
            "?",
            [config.max_text_chars, texts_truncated, config.language, campaign_id],
        )
        for position, c in enumerate(config.criteria):
            cur.execute(
                "INSERT INTO criteria VALUES (?, ?, ?, ?, ?, ?)",
                [campaign_id, position, c.name, c.description, c.min_score, c.max_score],
            )
        for system, meta in origin.items():
            cur.execute(
                "INSERT INTO systems VALUES (?, ?, ?, ?, ?)",
                [campaign_id, system, meta["decoding"], meta["seed"], meta["origin"]],
            )
        store.insert_frame(cur, "items", items_df[list(ITEM_COLUMNS)], campaign_id=campaign_id)
        store.insert_frame(cur, "outputs", outputs_df[list(OUTPUT_COLUMNS)], campaign_id=campaign_id)
        if len(metrics_df):
            store.insert_frame(cur, "metrics", metrics_df[list(METRIC_COLUMNS)], campaign_id=campaign_id)

    store.write(con, write_campaign)
    forget_open_languages(con)
    return campaign_id


_ITEM_FIELDS = {"output", "system", "prompt", "source", "references", "reference", "gold_winner"}


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    """The values of a column, or None for every row where the file has no such column."""
    return frame[name].tolist() if name in frame else [None] * len(frame)


def _metadata(rows: pd.DataFrame) -> list[str]:
    """Each item's other columns (beyond the texts and the system) as JSON."""
    names = [c for c in rows.columns if c not in _ITEM_FIELDS]
    return [
        json.dumps({name: _jsonable(value) for name, value in zip(names, values)})
        for values in rows[names].itertuples(index=False, name=None)
    ]


class _LongText(NamedTuple):
    """A text over the limit; sorts in the order the file shows them (item, then field)."""

    position: int
    field_order: int  # prompt, source, reference, output
    item_id: str
    field_name: str
    length: int


def _limit_texts(items: pd.DataFrame, outputs: pd.DataFrame, config: CampaignConfig) -> int:
    """Refuse texts longer than `config.max_text_chars` with a message naming the first ones, or cut them
    when `config.truncate_long_texts`; returns how many texts were cut. Works in place on the frames to be
    stored."""
    limit = config.max_text_chars
    position = dict(zip(items["item_id"], items["position"]))
    long: list[_LongText] = []
    for order, column in enumerate(("prompt", "source")):
        for item_id, text in zip(items["item_id"], items[column]):
            if isinstance(text, str) and len(text) > limit:
                long.append(_LongText(position[item_id], order, item_id, column, len(text)))
    for item_id, references in zip(items["item_id"], items["reference_texts"]):
        for number, text in enumerate(references, 1):
            if len(text) > limit:
                field_name = "reference" if len(references) == 1 else f"reference {number}"
                long.append(_LongText(position[item_id], 2, item_id, field_name, len(text)))
    for item_id, system, text in zip(outputs["item_id"], outputs["system"], outputs["output"]):
        if len(text) > limit:
            field_name = f"output of system '{source_files.short(system, 40)}'"
            long.append(_LongText(position[item_id], 3, item_id, field_name, len(text)))
    if not long:
        return 0
    if not config.truncate_long_texts:
        long.sort()
        first = "; ".join(
            f"item '{source_files.short(item_id, 40)}' {field_name}: {length:,}"
            for _, _, item_id, field_name, length in long[:3]
        )
        raise CampaignError(
            f"{counted(len(long), 'text')} {plural(len(long), 'is')} longer than the limit of {limit:,} "
            f"characters ({first}{'; …' if len(long) > 3 else ''}); shorten them, raise max_text_chars, or "
            "let the import cut them (truncate_long_texts)"
        )
    for column in ("prompt", "source"):
        items[column] = [t[:limit] if isinstance(t, str) else t for t in items[column]]
    items["reference_texts"] = [[t[:limit] for t in refs] for refs in items["reference_texts"]]
    outputs["output"] = [t[:limit] for t in outputs["output"]]
    return len(long)


def _text_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return "\n".join(map(str, value))
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value if isinstance(value, (str, int, float, bool, list, dict, type(None))) else str(value)
