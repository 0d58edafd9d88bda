"""The anytime-valid stop of a stored campaign: where its confidence sequence stands (at the campaign's own
equivalence margin, `CampaignConfig.equivalence_margin`), and the close it makes by itself when the campaign
asks for it (`CampaignConfig.close_when_decided`).

The decision is `annotations.stats.certainty` over the campaign's judgments, the same the Results page
shows. It is computed only when a submit brings an item to its k judgments (`after_submit`): a submit that
completes nothing, or any submit of a campaign without the option, reads nothing more than before.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from annotations import store
from annotations.campaigns import campaign_config, metrics_frame
from annotations.campaigns.active_selection import active_draws_frame
from annotations.campaigns.judge_verdicts import judge_verdicts_frame
from annotations.campaigns.queries import campaign_status, set_status, set_stopping_rule
from annotations.errors import AnnotationError
from annotations.stats.certainty import Certainty, certainty, item_labels
from annotations.stats.power import HumanItemsPlan, human_items_needed

CONFIDENCE = 0.95  # of the confidence sequence that closes a campaign by itself (alpha = 0.05)
VERDICT_WORDS = {
    "finetune_better": "the fine-tune is better",
    "base_better": "the base is better",
    "equivalent": "they are equivalent within ±{delta:g}",
}


def campaign_certainty(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    *,
    with_proxy: bool = True,
    target_half_width: float = 0.05,
    confidence: float = CONFIDENCE,
) -> Certainty:
    """The campaign's certainty at its own equivalence margin: the sequential decision and, with a proxy
    score in the store, the prediction-powered interval and the planner. Raises AnnotationError before any
    human judgment of the pair."""
    # judgments calls this module after a submit; without the proxy, the lean frame of the decision
    from annotations.judging.judgments import decision_frame, judgments_frame

    config = campaign_config(con, campaign_id)
    judgments = (judgments_frame if with_proxy else decision_frame)(con, campaign_id)
    metrics = metrics_frame(con, campaign_id) if with_proxy else None
    return certainty(
        judgments,
        metrics,
        delta=config.equivalence_margin,
        confidence=confidence,
        use_proxy=with_proxy,
        target_half_width=target_half_width,
        # humans on the items a judge chose: no anytime-valid stop (the sequence assumes a random order), so
        # such a campaign never closes itself; the judges are proxies as on Results
        active_draws=active_draws_frame(con, campaign_id),
        judges=judge_verdicts_frame(con, campaign_id) if with_proxy else None,
    )


@dataclass(frozen=True)
class CampaignState:
    """What the Campaigns page shows beside a campaign's progress: the sequential decision (None before any
    human judgment of the pair, with `reason`), and the planner for `target_half_width`."""

    certainty: Certainty | None
    plan: HumanItemsPlan
    equivalence_margin: float
    close_when_decided: bool
    reason: str | None = None


def campaign_state(
    con: duckdb.DuckDBPyConnection, campaign_id: str, target_half_width: float = 0.05
) -> CampaignState:
    """The campaign's decision at its own margin and the human-judged items a `target_half_width` needs,
    with and without the proxy (from the current data; the conservative p = 1/2 before any)."""
    from annotations.judging.judgments import judgments_frame

    config = campaign_config(con, campaign_id)
    judgments = judgments_frame(con, campaign_id)
    try:
        result = certainty(
            judgments,
            metrics_frame(con, campaign_id),
            delta=config.equivalence_margin,
            confidence=CONFIDENCE,
            target_half_width=target_half_width,
        )
    except AnnotationError as e:
        plan = human_items_needed(target_half_width, CONFIDENCE)
        return CampaignState(None, plan, config.equivalence_margin, config.close_when_decided, str(e))
    labels = item_labels(judgments, result.system, result.opponent)["label"]
    plan = human_items_needed(target_half_width, CONFIDENCE, labels, result.ppi)
    return CampaignState(result, plan, config.equivalence_margin, config.close_when_decided)


def closing_reason(result: Certainty) -> str:
    """The reason stored on a campaign the decision closed, e.g. 'closed automatically: decided — the
    fine-tune is better (after 40 items)'."""
    words = VERDICT_WORDS[result.decision.verdict].format(delta=result.decision.delta)
    return f"closed automatically: decided — {words} (after {result.n_items:,} items)"


def close_if_decided(con: duckdb.DuckDBPyConnection, campaign_id: str) -> str | None:
    """Close an active campaign whose confidence sequence decided, when its config asks for it; the reason
    stored, or None when it stays as it is."""
    # Read now, not from this process's copy: another app process may have just turned the option off.
    if not campaign_config(con, campaign_id, fresh=True).close_when_decided:
        return None
    if campaign_status(con, campaign_id).status != "active":
        return None
    try:
        result = campaign_certainty(con, campaign_id, with_proxy=False)
    except AnnotationError:  # no judgment of the pair yet
        return None
    if not result.decision.may_stop:
        return None
    reason = closing_reason(result)
    set_status(con, campaign_id, "closed", reason=reason)
    return reason


def item_completed(cur: duckdb.DuckDBPyConnection, campaign_id: str, item_id: str, k: int) -> bool:
    """Whether the item has exactly its k regular judgments (gold items and flipped repeats do not count)."""
    (judged,) = cur.execute(
        "SELECT count(*) FROM assignments WHERE campaign_id = ? AND item_id = ? AND status = 'submitted' "
        "AND NOT is_gold AND NOT is_repeat",
        [campaign_id, item_id],
    ).fetchone()
    return judged == k


def after_submit(con: duckdb.DuckDBPyConnection, campaign_id: str, item_id: str) -> str | None:
    """Called after a new judgment is stored: when the campaign closes by itself and this judgment brought
    its item to k, close it if decided. Costs nothing (the config is cached) for a campaign without the
    option, one count otherwise, and the decision only when an item completes."""
    config = campaign_config(con, campaign_id)
    if not config.close_when_decided:
        return None
    if not item_completed(store.read(con), campaign_id, item_id, config.k):
        return None
    return close_if_decided(con, campaign_id)


def reopen(con: duckdb.DuckDBPyConnection, campaign_id: str) -> str:
    """Open a closed campaign to annotators again; one closed by its own decision also stops closing by
    itself (its decision still holds, so the next completed item would close it again). What was done, in
    a sentence."""
    was = campaign_status(con, campaign_id)
    set_status(con, campaign_id, "active")
    if (was.reason or "").startswith("closed automatically") and campaign_config(
        con, campaign_id
    ).close_when_decided:
        set_stopping_rule(con, campaign_id, close_when_decided=False)
        return "Reopened; it no longer closes by itself (its decision still holds): turn that on again here."
    return "Reopened."
