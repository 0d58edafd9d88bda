"""Where a campaign's LLM judge reads its pairs, and storing its verdicts once it is done: the campaign's side
of a judging job (`jobs.judging`, started from the Campaigns page or by the demo).

A campaign made from a run folder is judged on that folder (its decoding and seed, its two systems): the
verdicts land in the run's `judges/<name>/`, beside its outputs, where `python -m ft_core judge` puts them
from a terminal too. A campaign made from a CSV/JSONL has no run folder, so `prepare_judging` writes one from
the stored campaign (`outputs/<a|b>__campaign__seed0.jsonl`, what annotators read, as the scoring folder of
`source_scores` does, with the same `a`/`b` names for the two systems) and the import maps them back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from annotations.campaigns.judge_verdicts import campaign_pair, import_judge
from annotations.campaigns.queries import get_campaign, items_frame, outputs_frame
from annotations.campaigns.source_scores import DECODING, SEED, system_files
from annotations.errors import AnnotationError, CampaignError
from ft_core import runfolder


def write_judging_outputs(con: duckdb.DuckDBPyConnection, campaign_id: str, folder: str | Path) -> int:
    """Write `folder/outputs/<a|b>__campaign__seed0.jsonl` (item_id, output, source; the source empty where
    the item has none) for every item with both outputs; returns the number of items written."""
    items = items_frame(con, campaign_id)
    sources = {str(i): s if isinstance(s, str) else "" for i, s in zip(items["item_id"], items["source"])}
    outputs = outputs_frame(con, campaign_id)
    names = system_files(con, campaign_id)
    by_system = {
        system: {str(r.item_id): r.output for r in outputs[outputs["system"] == system].itertuples()}
        for system in names
    }
    both = [i for i in sources if all(i in texts for texts in by_system.values())]
    runfolder.outputs_dir(folder).mkdir(parents=True, exist_ok=True)
    for system, name in names.items():
        records = [{"item_id": i, "output": by_system[system][i], "source": sources[i]} for i in both]
        runfolder.write_jsonl_atomic(runfolder.output_path(folder, name, DECODING, SEED), records)
    return len(both)


def prepare_judging(con: duckdb.DuckDBPyConnection, campaign_id: str, folder: str | Path) -> dict[str, Any]:
    """The JudgeConfig fields that point a judge at the campaign's pairs: `run_dir`, `system_a`, `system_b`,
    `decodings`, `seeds`. A campaign made from a file gets its pairs written into `folder` first.
    CampaignError when there is nothing to judge (no campaign, its run folder gone, no item with both
    outputs)."""
    config = get_campaign(con, campaign_id).config
    if config.run_dir:
        run_dir, system_a, system_b, decoding, seed = campaign_pair(con, campaign_id)
        if not Path(run_dir).is_dir():
            raise CampaignError(f"the run folder of campaign '{campaign_id}', {run_dir}, is gone")
        return {
            "run_dir": run_dir,
            "system_a": system_a,
            "system_b": system_b,
            "decodings": [] if decoding is None else [str(decoding)],
            "seeds": [] if seed is None else [int(seed)],
        }
    if write_judging_outputs(con, campaign_id, folder) == 0:
        raise CampaignError(f"campaign '{campaign_id}' has no item with outputs of both systems to judge")
    names = system_files(con, campaign_id)
    return {
        "run_dir": str(folder),
        "system_a": names[config.system_a],
        "system_b": names[config.system_b],
        "decodings": [DECODING],
        "seeds": [SEED],
    }


def store_judging(
    con: duckdb.DuckDBPyConnection, campaign_id: str, judge: str, folder: str | Path
) -> str | None:
    """Import a finished judge's verdicts from `folder` into the campaign (judge verdicts, apart from human
    judgments); returns why they could not be, or None."""
    try:
        import_judge(con, campaign_id, judge, folder=folder)
    except AnnotationError as e:
        return f"the verdicts could not be imported: {e}"
    return None
