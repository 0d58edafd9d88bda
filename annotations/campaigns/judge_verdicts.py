"""An LLM judge's verdicts on a campaign's pairs, imported from the campaign's run folder (`judges/<name>/`,
written by `python -m ft_core judge`, docs/judges.md) into `judge_runs` and `judge_verdicts` (migration 011).

Kept apart from human judgments: nothing here writes `judgments` or `assignments`, and neither the assignment,
the annotate page nor any statistic of the annotators reads these tables; only the researcher's judge card on
Results does (`annotations.stats.judges`). Only the verdicts on the campaign's own pairs are kept: its items,
of the decoding and seed its outputs came from, between its two systems. Importing again replaces the judge's
rows.

`python -m annotations import-judge --campaign ID --judge NAME [--db FILE]`.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from annotations import store
from annotations.errors import CampaignError
from ft_core import runfolder

VERDICT_COLUMNS = (
    "item_id", "decoding", "seed", "system_a", "system_b", "ab_label", "ba_label", "ab_winner", "ba_winner",
    "ab_p_a", "ab_p_b", "ab_p_tie", "ba_p_a", "ba_p_b", "ba_p_tie", "consistent", "verdict", "p_b_better",
    "prompt_tokens", "completion_tokens",
)  # fmt: skip


@dataclass(frozen=True)
class JudgeImport:
    """What one import stored and what it left out."""

    campaign_id: str
    judge: str
    imported: int  # verdicts on the campaign's pairs, now in the store
    other_pairs: int  # verdicts on items, decodings or seeds the campaign does not have
    missing: int  # campaign items the judge has no verdict on (yet)
    finished: bool  # the judge wrote its summary.json (False: still running or stopped half-way)


def _campaign_pair(cur: duckdb.DuckDBPyConnection, campaign_id: str) -> tuple[str, str, str, Any, Any]:
    """(run_dir, system_a, system_b, decoding, seed) of a campaign built from a run folder; CampaignError
    else."""
    row = cur.execute(
        "SELECT run_dir, system_a, system_b FROM campaigns WHERE campaign_id = ?", [campaign_id]
    ).fetchone()
    if row is None:
        raise CampaignError(f"no campaign with id '{campaign_id}'")
    run_dir, system_a, system_b = row
    if not run_dir:
        raise CampaignError(
            f"campaign '{campaign_id}' was built from a file, not a run folder: no judge to import"
        )
    origins = dict(
        (system, (decoding, seed))
        for system, decoding, seed in cur.execute(
            "SELECT system, decoding, seed FROM systems WHERE campaign_id = ?", [campaign_id]
        ).fetchall()
    )
    decoding, seed = origins.get(system_b, (None, None))
    if origins.get(system_a, (None, None)) != (decoding, seed):
        raise CampaignError(
            f"campaign '{campaign_id}' compares outputs of different decodings or seeds; a judge compares "
            "the two "
            "systems' outputs of one decoding and seed"
        )
    return str(run_dir), str(system_a), str(system_b), decoding, seed


def campaign_pair(con: duckdb.DuckDBPyConnection, campaign_id: str) -> tuple[str, str, str, Any, Any]:
    """(run_dir, system_a, system_b, decoding, seed) of a campaign built from a run folder: the pairs a judge
    of it compares; CampaignError else."""
    return _campaign_pair(store.read(con), campaign_id)


def _judged_pair(
    cur: duckdb.DuckDBPyConnection, campaign_id: str, folder: str | Path | None
) -> tuple[str, str, str, Any, Any, dict[str, str]]:
    """`_campaign_pair`, read from `folder` when given; a campaign made from a file is judged in a folder
    written from it (`judge_folder`), where its systems are named `a` and `b`: the last value maps those
    names back to the campaign's systems."""
    row = cur.execute(
        "SELECT run_dir, system_a, system_b FROM campaigns WHERE campaign_id = ?", [campaign_id]
    ).fetchone()
    if folder is None or (row is not None and row[0]):
        run_dir, system_a, system_b, decoding, seed = _campaign_pair(cur, campaign_id)
        return str(folder or run_dir), system_a, system_b, decoding, seed, {}
    if row is None:
        raise CampaignError(f"no campaign with id '{campaign_id}'")
    _, system_a, system_b = row
    return str(folder), str(system_a), str(system_b), None, None, {"a": system_a, "b": system_b}


def _clean(value: Any) -> Any:
    """None for a missing value (NaN, pandas' NA); numpy scalars as plain Python values."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value.item() if hasattr(value, "item") else value


def import_judge(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    judge: str,
    imported_by: str | None = None,
    folder: str | Path | None = None,
) -> JudgeImport:
    """Store a judge's verdicts on the campaign's pairs (replacing an earlier import of the same judge).

    `folder`: where the judge wrote (default: the campaign's run folder); for a campaign made from a file, the
    folder `judge_folder.prepare_judging` wrote its pairs into."""
    run_dir, system_a, system_b, decoding, seed, names = _judged_pair(store.read(con), campaign_id, folder)
    if judge not in runfolder.list_judges(run_dir):
        known = ", ".join(runfolder.list_judges(run_dir)) or "none"
        raise CampaignError(f"no judge '{judge}' in {run_dir}/judges; judges there: {known}")
    verdicts = runfolder.read_verdicts(run_dir, judge)
    if verdicts.empty:
        raise CampaignError(f"judge '{judge}' has no verdicts in {run_dir} yet")
    verdicts = verdicts.reindex(columns=list(VERDICT_COLUMNS))
    for column in ("system_a", "system_b", "ab_winner", "ba_winner", "verdict") if names else ():
        verdicts[column] = verdicts[column].replace(names)
    item_ids = {
        r[0]
        for r in store.read(con)
        .execute("SELECT item_id FROM items WHERE campaign_id = ?", [campaign_id])
        .fetchall()
    }
    mine = (
        verdicts["item_id"].isin(item_ids)
        & verdicts.apply(lambda r: {r["system_a"], r["system_b"]} == {system_a, system_b}, axis=1)
        & (decoding is None or verdicts["decoding"].astype(str).eq(str(decoding)))
        & (seed is None or pd.to_numeric(verdicts["seed"], errors="coerce").eq(seed))
    )
    kept = verdicts[mine].drop_duplicates("item_id", keep="last")
    rows = [[campaign_id, judge] + [_clean(v) for v in r] for r in kept.itertuples(index=False)]
    summary = runfolder.read_judge_summary(run_dir, judge)
    config = runfolder.read_judge_config(run_dir, judge)

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute("DELETE FROM judge_verdicts WHERE campaign_id = ? AND judge = ?", [campaign_id, judge])
        cur.execute("DELETE FROM judge_runs WHERE campaign_id = ? AND judge = ?", [campaign_id, judge])
        cur.execute(
            "INSERT INTO judge_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                campaign_id,
                judge,
                run_dir,
                json.dumps(config),
                json.dumps(summary),
                len(rows),
                store.utcnow(),
                imported_by,
            ],
        )
        if rows:
            marks = ", ".join("?" * (2 + len(VERDICT_COLUMNS)))
            cur.executemany(f"INSERT INTO judge_verdicts VALUES ({marks})", rows)

    store.write(con, work)
    return JudgeImport(
        campaign_id=campaign_id,
        judge=judge,
        imported=len(rows),
        other_pairs=int((~mine).sum()),
        missing=len(item_ids - set(kept["item_id"])),
        finished=bool(summary),
    )


def judges_in_run(con: duckdb.DuckDBPyConnection, campaign_id: str) -> list[str]:
    """The judges with verdicts in the campaign's run folder (imported or not); [] for a campaign made from
    a file or whose run folder is gone."""
    row = (
        store.read(con)
        .execute("SELECT run_dir FROM campaigns WHERE campaign_id = ?", [campaign_id])
        .fetchone()
    )
    return runfolder.list_judges(row[0]) if row and row[0] else []


def judge_runs(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """The judges imported into a campaign: judge, run_dir, n_verdicts, imported_at, and their summary and
    config as dicts."""
    frame = store.read_frame(
        con,
        "SELECT judge, run_dir, n_verdicts, imported_at, summary, config FROM judge_runs "
        "WHERE campaign_id = ? ORDER BY judge",
        [campaign_id],
    )
    for column in ("summary", "config"):
        frame[column] = [json.loads(text) if text else {} for text in frame[column]]
    return frame


def judge_verdicts_frame(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """One row per (judge, item): the judge's verdict seen from the campaign (`winner`: a system, `tie` or
    None; `p_system_b`: its probability that the campaign's system_b is better, a tie ½), whether its two
    orders agree (`consistent`), and the words of each output (`length_a`, `length_b`). (docs/judges.md,
    "In the app")."""
    return store.read_frame(
        con,
        "SELECT v.judge, v.item_id, c.system_a, c.system_b, v.verdict AS winner, v.consistent, CASE WHEN "
        "v.system_b = c.system_b THEN v.p_b_better ELSE 1 - v.p_b_better END AS p_system_b, oa.n_words AS "
        "length_a, ob.n_words AS length_b, v.prompt_tokens, v.completion_tokens FROM judge_verdicts v JOIN "
        "campaigns c USING (campaign_id) LEFT JOIN outputs oa ON oa.campaign_id = v.campaign_id AND "
        "oa.item_id = v.item_id AND oa.system = c.system_a LEFT JOIN outputs ob ON ob.campaign_id = "
        "v.campaign_id AND ob.item_id = v.item_id AND ob.system = c.system_b WHERE v.campaign_id = ? ORDER "
        "BY v.judge, v.item_id",
        [campaign_id],
    )


def main_import_judge(argv: list[str] | None = None) -> int:
    """`python -m annotations import-judge --campaign ID --judge NAME [--db FILE]`."""
    parser = argparse.ArgumentParser(
        prog="python -m annotations import-judge",
        description="Import an LLM judge's verdicts from the campaign's run folder (judges/NAME/), kept "
        "apart from human judgments.",
    )
    parser.add_argument("--campaign", required=True, help="campaign id")
    parser.add_argument("--judge", required=True, help="the judge's name: its folder under the run's judges/")
    parser.add_argument("--db", default=None, help="the store (default: the app's)")
    args = parser.parse_args(argv)
    con = store.connect(args.db)
    try:
        done = import_judge(con, args.campaign, args.judge)
    finally:
        con.close()
    state = "finished" if done.finished else "not finished yet (no summary.json): import again when it is"
    print(
        f"judge '{done.judge}': {done.imported} verdicts imported into campaign {done.campaign_id}; "
        f"{done.missing} of its items without a verdict, {done.other_pairs} verdicts on other pairs left "
        "out; "
        f"the judge is {state}"
    )
    return 0
