"""Reading the outputs and automatic metrics a campaign is made of: from a run folder (through
ft_core.runfolder, the one owner of its layout; docs/run-folder.md) or from a CSV/JSONL of outputs made
elsewhere (annotations.campaigns.source_files). Errors are one line naming the file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from annotations.campaigns import source_files
from annotations.campaigns.config import CampaignConfig
from annotations.errors import CampaignError
from annotations.plurals import plural
from ft_core import runfolder

NOT_METRICS = {
    "item_id",
    "system",
    "decoding",
    "seed",
    "new_tokens",
    "hit_max_new_tokens",
    "time_s",
    "gold_winner",
}


@dataclass
class ImportedOutputs:
    """What a campaign is made of, before items are chosen."""

    outputs: pd.DataFrame  # item_id, system, decoding, seed, output (+ prompt, source, references, ...)
    metrics: pd.DataFrame  # long: item_id, system, metric, value
    origin: dict[str, dict[str, Any]]  # per system: decoding, seed and the file it came from


def import_outputs(config: CampaignConfig) -> ImportedOutputs:
    """The outputs and metrics of the two systems `config` names, from its run folder or its file."""
    return load_run_folder(config) if config.run_dir else load_table_file(config)


def run_folder_options(run_dir: str | Path) -> pd.DataFrame:
    """The (system, decoding, seed) output files of a run folder with their item counts, for the page's
    choices."""
    out_dir = runfolder.outputs_dir(run_dir)
    if not out_dir.is_dir():
        raise CampaignError(
            f"{out_dir} not found: a run folder needs outputs/ (run `.venv/bin/python -m ft_core generate`)"
        )
    rows = [
        {
            "system": found.name.system,
            "decoding": found.name.decoding,
            "seed": found.name.seed,
            "n_items": runfolder.count_records(found.path),
            "file": str(found.path),
        }
        for found in runfolder.list_outputs(run_dir)
    ]
    return pd.DataFrame(rows, columns=["system", "decoding", "seed", "n_items", "file"])


def table_file_systems(path: str | Path) -> list[str]:
    """The systems named in a CSV/JSONL of outputs (its `system` column), for the page's choices."""
    return source_files.table_systems(source_files.read_table_file(path))


def run_folders(runs_dir: str | Path) -> list[Path]:
    """Run folders under `runs_dir` that hold generated outputs, newest first."""
    return runfolder.folders_with_outputs(runs_dir)


def read_outputs_file(path: Path) -> list[dict[str, Any]]:
    """The rows of a run folder's outputs file; messages name it as outputs/<file>."""
    read = runfolder.read_jsonl(path)
    if read.bad_line is None and read.records and all(isinstance(r, dict) for r in read.records):
        return read.records
    # damaged or unusual (empty, UTF-16, a BOM, a JSON array): source_files says in one line what is wrong, as
    # for an uploaded file, or reads what the strict reader could not
    name = f"{path.parent.name}/{path.name}"
    return source_files.parse_jsonl(name, source_files.decode_text(name, path.read_bytes()))


def _pick_files(options: pd.DataFrame, config: CampaignConfig) -> dict[str, pd.Series]:
    picked = {}
    for system in config.compared_systems:
        rows = options[options.system == system]
        if config.decoding is not None:
            rows = rows[rows.decoding == config.decoding]
        if config.seed is not None:
            rows = rows[rows.seed == config.seed]
        if rows.empty:
            have = ", ".join(f"{r.system}/{r.decoding}/seed{r.seed}" for r in options.itertuples()) or "none"
            raise CampaignError(
                f"no outputs for system '{system}' (decoding={config.decoding}, seed={config.seed}) in "
                f"{config.run_dir}; available: {have}"
            )
        picked[system] = rows.sort_values(["decoding", "seed"]).iloc[0]
    return picked


def load_run_folder(config: CampaignConfig) -> ImportedOutputs:
    """Outputs (item_id, system, decoding, seed, output, prompt, source, references) and long metrics."""
    run_dir = Path(config.run_dir or "")
    picked = _pick_files(run_folder_options(run_dir), config)
    frames, origin = [], {}
    for system, choice in picked.items():
        rows = pd.DataFrame(read_outputs_file(Path(choice.file)))
        missing = {"item_id", "output"} - set(rows.columns)
        if missing:
            raise CampaignError(
                f"{choice.file} lacks {plural(len(missing), 'column')} {sorted(missing)}; see "
                "docs/run-folder.md"
            )
        rows["system"] = system
        rows["decoding"] = choice.decoding
        rows["seed"] = int(choice.seed)
        frames.append(rows)
        origin[system] = {
            "decoding": str(choice.decoding),
            "seed": int(choice.seed),
            "origin": str(choice.file),
        }
    outputs = pd.concat(frames, ignore_index=True)
    metrics = pd.DataFrame(columns=["item_id", "system", "metric", "value"])
    try:
        scores = runfolder.read_per_example(run_dir)
    except (OSError, ValueError, pa.ArrowException) as e:
        raise CampaignError(
            f"scores/per_example.parquet cannot be read ({source_files.short(e, 120)}); score the run again"
        ) from None
    if scores is not None:
        missing = {"item_id", "system"} - set(scores.columns)
        if missing:
            raise CampaignError(
                f"scores/per_example.parquet lacks {plural(len(missing), 'column')} {sorted(missing)}"
            )
        parts = []
        for system, meta in origin.items():
            sel = scores[scores.system == system]
            if "decoding" in sel:
                sel = sel[sel.decoding.astype(str) == meta["decoding"]]
            if "seed" in sel:
                sel = sel[sel.seed.astype(int) == meta["seed"]]
            parts.append(sel)
        metrics = metrics_long(pd.concat(parts, ignore_index=True))
    return ImportedOutputs(outputs, metrics, origin)


def metrics_long(wide: pd.DataFrame) -> pd.DataFrame:
    """The numeric metric columns of a wide frame (one row per item and system) as long rows. A per-item
    column named like a corpus figure (`bleu`, `sacrebleu`, `chrf`, `chrfpp`) is a sentence score and is
    stored as `sentence_bleu`, ... (ft_core.runfolder.SENTENCE_COLUMNS): `bleu` names the corpus figure
    everywhere."""
    columns = [
        c
        for c in wide.columns
        if c not in NOT_METRICS
        and pd.api.types.is_numeric_dtype(wide[c])
        and not pd.api.types.is_bool_dtype(wide[c])
    ]
    if wide.empty or not columns:
        return pd.DataFrame(columns=["item_id", "system", "metric", "value"])
    long = wide[["item_id", "system", *columns]].melt(
        id_vars=["item_id", "system"], var_name="metric", value_name="value"
    )
    long["item_id"] = long["item_id"].astype(str)
    long["metric"] = long["metric"].map(runfolder.per_item_metric)
    long["value"] = long["value"].astype(float)
    return long.drop_duplicates(["item_id", "system", "metric"])


def load_table_file(config: CampaignConfig) -> ImportedOutputs:
    """The two systems' rows of a CSV/JSONL of outputs, with its numeric columns as metrics."""
    path = Path(config.source_file or "")
    table = source_files.read_table_file(path)
    for system in config.compared_systems:
        if not (table.system == system).any():
            raise CampaignError(
                f"{path.name} has no rows for system '{source_files.short(system)}'; systems are: "
                f"{source_files.listing(source_files.table_systems(table))}"
            )
    if "references" in table and len(table):
        table["references"] = table["references"].map(as_reference_list)
    elif "reference" in table:
        table["references"] = table["reference"].map(as_reference_list)
    table = table[table.system.isin(config.compared_systems)].copy()
    metrics = metrics_long(table)
    origin = {s: {"decoding": None, "seed": None, "origin": str(path)} for s in config.compared_systems}
    return ImportedOutputs(table, metrics, origin)


def as_reference_list(value: Any) -> list[str]:
    """A references cell (a list, a JSON list as text, one text, or empty) as a list of texts."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value]
    text = str(value)
    if text.startswith("["):
        try:
            return [str(v) for v in json.loads(text)]
        except json.JSONDecodeError:
            pass
    return [text]
