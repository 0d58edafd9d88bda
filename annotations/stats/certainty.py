"""How certain the verdict is, for the results page's "Certainty" block: the prediction-powered win rate with
a proxy (`ppi`: an imported LLM judge's probability, or a stored automatic score difference), beside the
human-only interval, and the anytime-valid state of the campaign (`sequential`), from the frames of
docs/frames.md and the judge verdicts frame (annotations.campaigns.judge_verdicts_frame); no I/O.

The unit is the item: each item's human label is the mean of its judgments of the pair (the system's win 1, a
tie or both bad 1/2, a loss 0), gold items and flipped repeats left out as in the verdict; items enter the
confidence sequence in the order they were completed (their last judgment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from annotations.stats.active import active_win_rate
from annotations.stats.ppi import (
    PPIPlan,
    PPIResult,
    StatsInputError,
    describe,
    human_items_for_half_width,
    ppi_mean,
)
from annotations.stats.preference import default_pair
from annotations.stats.sequential import (
    Decision,
    PPIConfidenceSequence,
    confidence_sequence,
    decide,
    ppi_confidence_sequence,
)

# the automatic score tried first as the proxy, when the page does not name one (most human-like first)
PROXY_ORDER = ("likelihood", "bertscore_f1", "rougeL", "rougeLsum", "rouge1", "rouge2", "sentence_sacrebleu")


def item_labels(judgments: pd.DataFrame, system: str, opponent: str) -> pd.DataFrame:
    """One row per judged item of the pair, in completion order: item_id, label (in [0, 1]), n_judgments.

    In numpy rather than a pandas groupby: the campaign's self-close runs this after a submit, and the
    groupby's fixed cost was most of it."""
    left, right = judgments["shown_left"].astype(str), judgments["shown_right"].astype(str)
    pair = ((left == system) & (right == opponent)) | ((left == opponent) & (right == system))
    rows = judgments[pair & ~judgments["is_gold"].astype(bool) & ~judgments["is_repeat"].astype(bool)]
    winner = rows["winner"].astype(str).to_numpy()
    label = np.where(winner == system, 1.0, np.where(winner == opponent, 0.0, 0.5))
    codes, items = pd.factorize(rows["item_id"].astype(str).to_numpy())  # in order of first appearance
    n_judgments = np.bincount(codes, minlength=len(items))
    completed = np.full(len(items), np.iinfo(np.int64).min)
    np.maximum.at(completed, codes, pd.DatetimeIndex(rows["submitted_at"]).asi8)
    order = np.argsort(completed, kind="stable")  # the item's last judgment; ties keep the first-seen order
    return pd.DataFrame(
        {
            "item_id": np.asarray(items, dtype=object)[order],
            "label": (np.bincount(codes, weights=label, minlength=len(items)) / n_judgments)[order],
            "n_judgments": n_judgments[order],
        }
    )


def metric_preference(metrics: pd.DataFrame, metric: str, system: str, opponent: str) -> pd.Series:
    """Per item, the score's preference for `system`: 1/2 + tanh(difference / its sd over items) / 2, so
    that the proxy lives on the labels' scale (PPI++'s lam is clipped to [0, 1]); only items scored for
    both systems."""
    rows = metrics[metrics["metric"].astype(str) == metric]
    table = rows.pivot_table(index="item_id", columns="system", values="value", aggfunc="mean")
    if system not in table or opponent not in table:
        return pd.Series(dtype=float)
    difference = (table[system] - table[opponent]).dropna()
    spread = float(difference.std()) if len(difference) > 1 else 0.0
    return 0.5 + np.tanh(difference / (spread or 1.0)) / 2


def judge_proxy(judge: str) -> str:
    """The name a judge has among the proxies (the page's choice, `Certainty.proxy`)."""
    return f"judge '{judge}'"


def judge_preference(verdicts: pd.DataFrame, judge: str, system: str, opponent: str) -> pd.Series:
    """Per item, the judge's probability that `system` is better than `opponent`, oriented like the human
    label: its two orders' probabilities averaged, a tie counted 1/2 (`p_b_better`, ft_core.judge.pairs); an
    order-inconsistent pair keeps that average, whatever it is. Only items the judge has a probability on;
    empty when the judge compared another pair.

    `verdicts`: annotations.campaigns.judge_verdicts_frame (judge, item_id, system_a, system_b,
    p_system_b)."""
    rows = verdicts[verdicts["judge"].astype(str) == judge].dropna(subset=["p_system_b"])
    if rows.empty:
        return pd.Series(dtype=float)
    system_a, system_b = str(rows["system_a"].iloc[0]), str(rows["system_b"].iloc[0])
    if {system, opponent} != {system_a, system_b}:
        return pd.Series(dtype=float)
    p = pd.Series(rows["p_system_b"].astype(float).to_numpy(), index=rows["item_id"].astype(str).to_numpy())
    return (p if system == system_b else 1 - p).groupby(level=0).mean()


def proxy_choices(metrics: pd.DataFrame | None, verdicts: pd.DataFrame | None = None) -> list[str]:
    """The proxies a campaign offers, the default first: each imported judge (by name), then the automatic
    scores (`proxy_metrics`). The order is fixed before any result is seen, never by which proxy narrows
    the interval most (that choice would void the interval's coverage)."""
    judges = [] if verdicts is None or verdicts.empty else sorted(set(verdicts["judge"].astype(str)))
    return [judge_proxy(j) for j in judges] + proxy_metrics(metrics)


def proxy_metrics(metrics: pd.DataFrame | None) -> list[str]:
    """The automatic scores a campaign has, in the order the page offers them as proxy."""
    if metrics is None or metrics.empty:
        return []
    present = sorted(set(metrics["metric"].astype(str)))
    return [m for m in PROXY_ORDER if m in present] + [m for m in present if m not in PROXY_ORDER]


@dataclass(frozen=True)
class Certainty:
    system: str
    opponent: str
    n_items: int  # items of the pair humans judged (gold and repeats left out)
    human_win_rate: float
    sequence_low: float  # the confidence sequence's current ends, valid however often anyone looked
    sequence_high: float
    decision: Decision
    proxy: str | None  # the proxy used, if any: an automatic score's name or judge_proxy(judge)
    ppi: PPIResult | None  # None without a proxy, or with fewer than 2 judged items that have it
    ppi_sentence: str
    plan: PPIPlan | None  # human-judged items for target_half_width, with and without the proxy
    confidence: float
    # the anytime-valid sequence with the proxy (judged items with it, in completion order; the unjudged ones
    # bound its mean); None where `ppi` is None or fewer than 2 items are unjudged
    ppi_sequence: PPIConfidenceSequence | None = None


def certainty(
    judgments: pd.DataFrame,
    metrics: pd.DataFrame | None = None,
    metric: str | None = None,
    delta: float = 0.05,
    confidence: float = 0.95,
    system: str | None = None,
    opponent: str | None = None,
    gold_items=(),
    use_proxy: bool = True,
    target_half_width: float = 0.05,
    active_draws: pd.DataFrame | None = None,
    judges: pd.DataFrame | None = None,
) -> Certainty:
    """The PPI interval with `metric` (default: the first of `proxy_choices`) as the proxy and the sequential
    decision at equivalence margin `delta`, for `system` against `opponent` (default the campaign's pair);
    `use_proxy=False` for the human judgments alone. `judges` (annotations.campaigns.judge_verdicts_frame)
    makes each imported judge a proxy, named `judge_proxy(judge)`, its probability per item
    (`judge_preference`). The population is the items that have the proxy: human-judged items without it
    (a judge that has not finished, an output not scored) are left out of both intervals, and the sentence
    says how many. With a proxy, also the planner: human-judged items for a
    `target_half_width`, with the proxy on the campaign's items and without it.

    Gold items are not part of the population the win rate describes: those judged are known from the
    judgments; pass `gold_items` (the items frame's gold ids) to leave out the unjudged ones from the
    proxy's items too.

    `active_draws` (annotations.campaigns.active_selection.active_draws_frame), when the campaign's human
    items were drawn by a judge's uncertainty: the interval is then active_win_rate's, weighted by 1 / pi_i
    with that judge as the proxy, and the stop is not offered (the confidence sequence assumes items in a
    random order, not the judge's hard ones first)."""
    if system is None or opponent is None:
        system, opponent = default_pair(judgments)
    labels = item_labels(judgments, system, opponent)
    if labels.empty:
        raise StatsInputError("no human judgments of this pair yet (gold items and repeats left out)")
    sequence = confidence_sequence(labels["label"].to_numpy(), alpha=1 - confidence)
    decision = decide(sequence.lower, sequence.upper, delta, estimate=float(sequence.mean[-1]))
    if active_draws is not None and not active_draws.empty:
        return _active_certainty(labels, sequence, active_draws, system, opponent, delta, confidence)
    metric = (metric or next(iter(proxy_choices(metrics, judges)), None)) if use_proxy else None
    ppi, plan, sentence = (
        None,
        None,
        "No automatic score or judge to use as a proxy: only the human judgments count.",
    )
    ppi_sequence = None
    if metric is not None:
        proxy, what = _proxy_values(metric, metrics, judges, system, opponent)
        gold = set(map(str, gold_items)) | set(
            judgments.loc[judgments["is_gold"].astype(bool), "item_id"].astype(str)
        )
        proxy = proxy[~proxy.index.astype(str).isin(gold)]
        judged = labels[labels["item_id"].isin(proxy.index)]
        unjudged = proxy[~proxy.index.isin(labels["item_id"])]
        if len(judged) >= 2:
            ppi = ppi_mean(
                judged["label"], proxy.loc[judged["item_id"]], unjudged.to_numpy(), confidence=confidence
            )
            sentence = describe(ppi, what) + _left_out(len(labels) - len(judged), what)
            if len(unjudged) >= 2:
                ppi_sequence = ppi_confidence_sequence(
                    judged["label"], proxy.loc[judged["item_id"]], unjudged.to_numpy(), alpha=1 - confidence
                )
            plan = human_items_for_half_width(
                judged["label"],
                proxy.loc[judged["item_id"]],
                unjudged.to_numpy(),
                target_half_width,
                confidence,
            )
        else:
            sentence = f"Fewer than 2 human-judged items have {what}: the proxy cannot be used yet."
    return _certainty(
        labels,
        sequence,
        system,
        opponent,
        confidence,
        decision=decision,
        proxy=metric,
        ppi=ppi,
        plan=plan,
        ppi_sentence=sentence,
        ppi_sequence=ppi_sequence,
    )


def _certainty(labels, sequence, system, opponent, confidence, **proxy_part) -> Certainty:
    """A Certainty: the human part (items, win rate, the sequence's current ends) from `labels` and
    `sequence`, the decision and the proxy's part as given."""
    return Certainty(
        system=system,
        opponent=opponent,
        n_items=len(labels),
        human_win_rate=float(labels["label"].mean()),
        sequence_low=float(sequence.lower[-1]),
        sequence_high=float(sequence.upper[-1]),
        confidence=confidence,
        **proxy_part,
    )


def _proxy_values(metric, metrics, judges, system, opponent) -> tuple[pd.Series, str]:
    """The proxy `metric` names, per item on the labels' scale, and how a sentence calls it."""
    if judges is not None and not judges.empty:
        for judge in sorted(set(judges["judge"].astype(str))):
            if metric == judge_proxy(judge):
                return judge_preference(judges, judge, system, opponent), f"the probability of {metric}"
    if metrics is None or metrics.empty:
        return pd.Series(dtype=float), f"the {metric} difference"
    return metric_preference(metrics, metric, system, opponent), f"the {metric} difference"


def _left_out(n: int, what: str) -> str:
    """The sentence's tail when human-judged items lack the proxy: the population is the items with it."""
    if n <= 0:
        return ""
    items, are = ("items", "are") if n != 1 else ("item", "is")
    return (
        f" {n:,} human-judged {items} without {what} {are} left out of both intervals: they describe the "
        "items that have it."
    )


def _active_certainty(labels, sequence, draws, system, opponent, delta, confidence) -> Certainty:
    """certainty() for a campaign switched to "humans where the judge is unsure" (stats/active.py)."""
    judge = f"judge '{draws['judge'].iloc[0]}'"
    ppi, sentence = None, ""
    if {system, opponent} != {str(draws["system_a"].iloc[0]), str(draws["system_b"].iloc[0])}:
        sentence = (
            "The judge chose the items for the campaign's own pair; this pair has no weighted estimate."
        )
    else:
        try:
            ppi = active_win_rate(labels, draws, system, confidence)
            sentence = (
                f"{describe(ppi, judge)} Humans judged the items {judge} was least sure of, each weighted by "
                "1 / its probability of being drawn, so the estimate stays unbiased."
            )
        except StatsInputError as e:
            sentence = str(e)
    stop = Decision(
        verdict="keep_going",
        message="No stop is offered here: humans judge the items the judge chose (the hard ones first), "
        "and the anytime-valid sequence assumes items in a random order. Judge the drawn items; the "
        "weighted interval is the verdict.",
        lower=float(sequence.lower[-1]),
        upper=float(sequence.upper[-1]),
        n=len(labels),
        delta=delta,
        more_items=None,
    )
    return _certainty(
        labels,
        sequence,
        system,
        opponent,
        confidence,
        decision=stop,
        proxy=judge,
        ppi=ppi,
        plan=None,
        ppi_sentence=sentence,
    )
