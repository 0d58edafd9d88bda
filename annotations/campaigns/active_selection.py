"""Humans where the judge is unsure: switch a campaign whose LLM judge has verdicts to a human budget of B
items, drawn once by the judge's uncertainty (active inference, Zrnic & Candès 2024; the statistics in
annotations/stats/active.py).

Switching gives each regular item i the probability pi_i = sampling_probabilities(judge_uncertainty(p_i), B)
and makes ONE Bernoulli(pi_i) draw xi_i from `secrets` (unpredictable, as the side design is), stored with
pi_i in `active_draws` (migration 013). Never redrawn: switching again with the same judge and budget returns
the stored draw; with other ones it is refused. From then on the assignment serves only drawn items (and gold
items), with everything else unchanged; Results weighs each human label by 1 / pi_i.

- p_i is the judge's probability that the campaign's system_b is better (judge_verdicts_frame); an item whose
  two orders disagree, or that has no verdict, counts as fully unsure (p = 1/2).
- Items humans had already started before the switch (an assignment open or judged) keep pi_i = 1 and are
  drawn: which items were started depended on the annotators' orders, never on their labels, so the estimate
  stays unbiased; the rest of the budget, B - started, is spread over the other items.

`python -m annotations active --campaign ID --budget B --judge NAME [--db FILE]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import secrets
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from annotations import store
from annotations.campaigns.judge_verdicts import judge_runs, judge_verdicts_frame
from annotations.errors import CampaignError
from annotations.stats.active import MIN_SHARE, judge_uncertainty, sampling_probabilities
from annotations.stats.ppi import StatsInputError

# The switch writes in the assignment's lane (annotations.judging.assignment.ASSIGNMENT_LANE), so no claim
# runs between reading which items are started and storing the draw. Not imported: the assignment imports
# annotations.campaigns.
ASSIGNMENT_LANE = "assignments"


@dataclass(frozen=True)
class ActiveSelection:
    """A campaign's switch to "humans where the judge is unsure"."""

    campaign_id: str
    judge: str
    budget: float  # expected human-judged items (sum of pi_i)
    min_share: float
    n_items: int  # regular items drawn among
    n_drawn: int  # items humans will judge
    n_started: int  # items started before the switch (pi_i = 1)
    min_probability: float
    already: bool = False  # True: the campaign was already switched; this is the stored draw

    def sentence(self) -> str:
        again = "Already switched: " if self.already else ""
        return (
            f"{again}humans judge {self.n_drawn} of {self.n_items} items, chosen where judge '{self.judge}' "
            f"is least sure (budget {self.budget:g}, every item drawn with probability at least "
            f"{self.min_probability:.3f}; {self.n_started} started before the switch are kept)."
        )


def active_selection(con: duckdb.DuckDBPyConnection, campaign_id: str) -> ActiveSelection | None:
    """The campaign's switch, or None when humans judge every item (the default)."""
    cur = store.read(con)
    row = cur.execute(
        "SELECT judge, budget, min_share, n_items, n_drawn FROM active_selections WHERE campaign_id = ?",
        [campaign_id],
    ).fetchone()
    if row is None:
        return None
    judge, budget, min_share, n_items, n_drawn = row
    n_started, min_probability = cur.execute(
        "SELECT count(*) FILTER (WHERE started), min(probability) FROM active_draws WHERE campaign_id = ?",
        [campaign_id],
    ).fetchone()
    return ActiveSelection(
        campaign_id, judge, float(budget), float(min_share), int(n_items), int(n_drawn), int(n_started),
        float(min_probability),
    )  # fmt: skip


def active_draws_frame(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """One row per regular item of a switched campaign: item_id, judge, system_a, system_b (the campaign's),
    judge_p_system_b (None without a verdict), probability (pi_i), drawn (xi_i), started; empty when not
    switched. What annotations.stats.active.active_win_rate takes."""
    return store.read_frame(
        con,
        "SELECT d.item_id, s.judge, c.system_a, c.system_b, d.judge_p_system_b, d.probability, d.drawn, "
        "d.started FROM active_draws d JOIN active_selections s USING (campaign_id) JOIN campaigns c "
        "USING (campaign_id) WHERE d.campaign_id = ? ORDER BY d.item_id",
        [campaign_id],
    )


def _judge_probabilities(con: duckdb.DuckDBPyConnection, campaign_id: str, judge: str) -> pd.Series:
    """item_id -> the judge's p(system_b better), 1/2 where its two orders disagree; CampaignError when the
    judge has no verdicts on the campaign."""
    if (
        store.read(con).execute("SELECT 1 FROM campaigns WHERE campaign_id = ?", [campaign_id]).fetchone()
        is None
    ):
        raise CampaignError(f"no campaign with id '{campaign_id}'")
    imported = judge_runs(con, campaign_id)["judge"].tolist()
    verdicts = judge_verdicts_frame(con, campaign_id)
    verdicts = verdicts[verdicts["judge"] == judge]
    if verdicts.empty or verdicts["p_system_b"].isna().all():
        known = ", ".join(imported) or "none (import one first: .venv/bin/python -m annotations import-judge)"
        raise CampaignError(
            f"judge '{judge}' has no verdicts on campaign '{campaign_id}'; judges imported: {known}"
        )
    p = verdicts.set_index("item_id")["p_system_b"].astype(float)
    unsure = verdicts.set_index("item_id")["consistent"].eq(False)
    return p.where(~unsure, 0.5)


def switch_to_active(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    judge: str,
    budget: float,
    min_share: float = MIN_SHARE,
    created_by: str | None = None,
) -> ActiveSelection:
    """Draw, once, the items humans judge: pi_i from the judge's uncertainty with an expected `budget` of
    items (started items kept with pi_i = 1). Switching again with the same judge and budget returns the
    stored draw; with others, CampaignError. Nothing is written on an error."""
    existing = active_selection(con, campaign_id)
    if existing is not None:
        return _same_or_refuse(existing, judge, budget)
    judge_p = _judge_probabilities(con, campaign_id, judge)
    items = [
        r[0]
        for r in store.read(con)
        .execute(
            "SELECT item_id FROM items WHERE campaign_id = ? AND NOT is_gold ORDER BY item_id", [campaign_id]
        )
        .fetchall()
    ]
    # One uniform number per item, drawn here (not in the write, which may run more than once) from the
    # operating system's generator: nobody can predict or replay which items humans will see.
    system_random = secrets.SystemRandom()
    uniforms = {item_id: system_random.random() for item_id in items}

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        if cur.execute("SELECT 1 FROM active_selections WHERE campaign_id = ?", [campaign_id]).fetchone():
            return  # switched meanwhile: the stored draw stands
        started = {
            r[0]
            for r in cur.execute(
                "SELECT DISTINCT item_id FROM assignments WHERE campaign_id = ? AND NOT is_gold AND NOT "
                "is_repeat AND status IN ('open', 'submitted')",
                [campaign_id],
            ).fetchall()
        }
        frame = _draw(items, judge_p, started, uniforms, budget, min_share)
        rows = [
            [campaign_id, r.item_id, None if np.isnan(r.p) else float(r.p), float(r.pi), bool(r.drawn),
             bool(r.started)]
            for r in frame.itertuples(index=False)
        ]  # fmt: skip
        cur.executemany("INSERT INTO active_draws VALUES (?, ?, ?, ?, ?, ?)", rows)
        cur.execute(
            "INSERT INTO active_selections VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [campaign_id, judge, float(budget), float(min_share), len(items), int(frame["drawn"].sum()),
             store.utcnow(), created_by],
        )  # fmt: skip

    store.write(con, work, lane=ASSIGNMENT_LANE)
    stored = active_selection(con, campaign_id)
    if stored.judge != judge or stored.budget != float(budget):  # another switch won the race
        return _same_or_refuse(stored, judge, budget)
    return stored


def _same_or_refuse(existing: ActiveSelection, judge: str, budget: float) -> ActiveSelection:
    if existing.judge == judge and existing.budget == float(budget):
        return dataclasses.replace(existing, already=True)
    raise CampaignError(
        f"campaign '{existing.campaign_id}' was already switched with judge '{existing.judge}' and budget "
        f"{existing.budget:g}; its draw is kept (redrawing after humans started would bias the estimate)"
    )


def _draw(
    items: list[str],
    judge_p: pd.Series,
    started: set[str],
    uniforms: dict[str, float],
    budget: float,
    min_share: float,
) -> pd.DataFrame:
    """item_id, p, pi, drawn, started for each item: started items pi = 1, the others pi from the judge's
    uncertainty with the budget left; CampaignError when the budget does not fit."""
    if not 0 < budget <= len(items):
        raise CampaignError(f"budget must be between 0 and the campaign's {len(items)} items, got {budget:g}")
    frame = pd.DataFrame({"item_id": items})
    frame["p"] = judge_p.reindex(items).to_numpy(dtype=float)
    frame["started"] = frame["item_id"].isin(started)
    rest = ~frame["started"]
    left = budget - int(frame["started"].sum())
    if not rest.any() or left <= 0:
        raise CampaignError(
            f"a budget of {budget:g} items leaves nothing to choose: humans already started "
            f"{int(frame['started'].sum())} of the {len(items)} items (give a budget above that)"
        )
    try:
        uncertainty = judge_uncertainty(frame.loc[rest, "p"].fillna(0.5))
        pi = sampling_probabilities(uncertainty, left, min_share)
    except StatsInputError as e:
        raise CampaignError(f"budget {budget:g}: {e}") from None
    frame["pi"] = 1.0
    frame.loc[rest, "pi"] = pi
    frame["drawn"] = frame["started"] | (frame["item_id"].map(uniforms) < frame["pi"])
    return frame


def main_active(argv: list[str] | None = None) -> int:
    """`python -m annotations active --campaign ID --budget B --judge NAME [--db FILE]`."""
    parser = argparse.ArgumentParser(
        prog="python -m annotations active",
        description="Let humans judge only about B items, chosen where the LLM judge is least sure; drawn "
        "once and kept (the estimate on Results weighs each human label by 1 / its probability).",
    )
    parser.add_argument("--campaign", required=True, help="campaign id")
    parser.add_argument("--budget", required=True, type=float, help="expected number of human-judged items")
    parser.add_argument(
        "--judge", required=True, help="an imported judge (.venv/bin/python -m annotations import-judge)"
    )
    parser.add_argument("--min-share", type=float, default=MIN_SHARE, help="pi_i >= min_share * B / items")
    parser.add_argument("--db", default=None, help="the store (default: the app's)")
    args = parser.parse_args(argv)
    con = store.connect(args.db)
    try:
        done = switch_to_active(con, args.campaign, args.judge, args.budget, args.min_share)
    finally:
        con.close()
    print(done.sentence())
    return 0
