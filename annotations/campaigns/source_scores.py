"""The reference-free scores of a campaign made from a CSV or JSONL of outputs with a `source` column:
novelty, unsupported numbers and names, ... compare each output with its source (ft_core.metrics), so they can
be computed after the campaign is made. (A run folder brings its own, from the run's scoring job.)

Annotations never imports torch, so the scoring runs as a job (`jobs.campaign_scores`: `python -m ft_core
score` on a folder laid out as a run folder). This module writes that folder's `outputs/` from the stored
campaign and stores the job's `scores/per_example.parquet` back as the campaign's metrics. The two systems are
written as `a` and `b` (`SYSTEM_FILES`), whatever characters their names hold.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from annotations import store
from annotations.campaigns.queries import get_campaign, items_frame, metrics_frame, outputs_frame
from annotations.errors import AnnotationError, CampaignError
from annotations.stats.faithfulness import FAITHFULNESS_SCORES
from ft_core import runfolder

DECODING = "campaign"  # the decoding part of the outputs files' names
SEED = 0


def system_files(con: duckdb.DuckDBPyConnection, campaign_id: str) -> dict[str, str]:
    """The name each system of the campaign goes by in the scoring folder: system_a -> "a", system_b ->
    "b"."""
    config = get_campaign(con, campaign_id).config
    return {config.system_a: "a", config.system_b: "b"}


def needs_source_scores(con: duckdb.DuckDBPyConnection, campaign_id: str) -> bool:
    """Was the campaign made from a file, with a source for some item, and no score against the source yet?"""
    if not get_campaign(con, campaign_id).config.source_file:
        return False
    items = items_frame(con, campaign_id)
    has_source = items["source"].map(lambda s: isinstance(s, str) and bool(s.strip())).any()
    present = set(metrics_frame(con, campaign_id)["metric"])
    return bool(has_source) and not present & set(FAITHFULNESS_SCORES)


def write_scoring_outputs(con: duckdb.DuckDBPyConnection, campaign_id: str, folder: str | Path) -> int:
    """Write `folder/outputs/<a|b>__campaign__seed0.jsonl`: item_id, output and source of every item that
    has a source, as the campaign stores them (what annotators read). Returns the number of items written."""
    items = items_frame(con, campaign_id)
    sources = {
        str(i): s for i, s in zip(items["item_id"], items["source"]) if isinstance(s, str) and s.strip()
    }
    outputs = outputs_frame(con, campaign_id)
    names = system_files(con, campaign_id)
    runfolder.outputs_dir(folder).mkdir(parents=True, exist_ok=True)
    for system, name in names.items():
        rows = outputs[(outputs["system"] == system) & outputs["item_id"].isin(list(sources))]
        records = [
            {"item_id": str(r.item_id), "output": r.output, "source": sources[str(r.item_id)]}
            for r in rows.itertuples()
        ]
        runfolder.write_jsonl_atomic(runfolder.output_path(folder, name, DECODING, SEED), records)
    return len(sources)


def import_source_scores(con: duckdb.DuckDBPyConnection, campaign_id: str, folder: str | Path) -> int:
    """Store the scores against the source in `folder/scores/per_example.parquet` as the campaign's metrics
    (replacing any of the same names); returns the number of rows stored. CampaignError when the folder
    holds no scores."""
    try:
        scores = runfolder.read_per_example(folder)
    except (OSError, ValueError) as e:
        raise CampaignError(
            f"the scores in {folder} cannot be read ({e}); score the campaign again"
        ) from None
    if scores is None:
        raise CampaignError(f"no scores in {folder}: the scoring job wrote no scores/per_example.parquet")
    systems = {name: system for system, name in system_files(con, campaign_id).items()}
    columns = [c for c in FAITHFULNESS_SCORES if c in scores.columns]
    scores = scores[scores["system"].isin(list(systems))]
    long = scores[["item_id", "system", *columns]].melt(
        id_vars=["item_id", "system"], var_name="metric", value_name="value"
    )
    long["item_id"] = long["item_id"].astype(str)
    long["system"] = long["system"].map(systems)
    long = long.dropna(subset=["value"]).astype({"value": float})
    new_metrics = pd.DataFrame(long[["item_id", "system", "metric", "value"]]).reset_index(drop=True)

    def write(cur: duckdb.DuckDBPyConnection) -> None:
        marks = ", ".join("?" * len(columns)) or "NULL"
        cur.execute(
            f"DELETE FROM metrics WHERE campaign_id = ? AND metric IN ({marks})",
            [campaign_id, *columns],
        )
        store.insert_frame(cur, "metrics", new_metrics, campaign_id=campaign_id)

    store.write(con, write)
    return len(new_metrics)


def prepare_scoring(con: duckdb.DuckDBPyConnection, campaign_id: str, folder: str | Path) -> str | None:
    """Write the campaign's outputs and sources into `folder` for its scoring job; returns the campaign's
    language for the scores, or None when it needs none (no source, made from a run folder, or scored
    already)."""
    if not needs_source_scores(con, campaign_id) or write_scoring_outputs(con, campaign_id, folder) == 0:
        return None
    return get_campaign(con, campaign_id).config.language


def store_scores(con: duckdb.DuckDBPyConnection, campaign_id: str, folder: str | Path) -> str | None:
    """Store a finished scoring job's scores as the campaign's metrics; returns why they could not be, or
    None."""
    try:
        import_source_scores(con, campaign_id, folder)
    except AnnotationError as e:
        return f"the scores could not be stored: {e}"
    return None
