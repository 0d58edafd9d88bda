"""Every statistic of a campaign in one call, for the results page, `python -m annotations stats` and the
export (all three call `analyze`, so they can never disagree). Frames in (docs/frames.md), a
`CampaignAnalysis` out; no I/O.

Which judgments count: annotators excluded by name (or flagged by the quality checks, when asked) are left out
of everything except the annotator table, which always shows everyone. Flipped repeats and gold items are
checks, not evidence: they feed self-consistency and gold accuracy, and stay out of the verdict and agreement
unless asked for. `CampaignAnalysis.evidence` says exactly what was used.

Who counts by competence (`options.participants`, `competence_measure`, `competence_threshold`,
`use_adjudicated`; annotations.stats.competence): "exclude" leaves out the participants whose MACE or
Dawid–Skene competence is below the threshold, like annotators excluded by name, so every figure drops them;
"weight" weighs each judgment by its annotator's competence in the win rate and its item interval and test
only (the bootstrap and judgments' intervals are left out of a weighted headline, every other figure is
unweighted; `Evidence.who_counts` says so); `use_adjudicated` replaces the judgments of every adjudicated item
by its adjudicated label in the judgments used. The judgments themselves are never changed.

`analyze` is a plain function told in stages, each a function with a result type of its own
(`annotations.stats.campaign_analysis`): the annotators' quality, the selection of the evidence, the verdict,
the agreement, the metrics against the humans, the biases, and the plan. It runs them one after another, with
no threads and no cache; the results page runs the same stage functions on threads
(`annotations.report.analysis_stages`), pinned to this path by a test.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as sps

from annotations.errors import AnnotationError
from annotations.stats import (
    agreement,
    competence,
    correlation,
    criteria,
    paired_metrics,
    power,
    preference,
    quality,
)
from annotations.stats.analysis_options import AnalysisOptions
from annotations.stats.campaign_analysis import (
    Agreement,
    Biases,
    CampaignAnalysis,
    Evidence,
    MetricsVersusHumans,
    Verdict,
)
from annotations.stats.environment import environment

__all__ = [
    "METRIC_COLUMNS", "SCORE_COLUMNS", "Agreement", "AgreementTarget", "AnalysisOptions", "Biases",
    "CampaignAnalysis", "Evidence", "MetricsVersusHumans", "Selection", "Verdict", "agreement_statistics",
    "agreement_targets", "analyze", "annotator_quality", "bias_statistics", "check_judgments",
    "evidence_frames", "finish", "headline_statistics", "human_metric_frame", "metrics_versus_humans",
    "select_evidence", "verdict_statistics", "weighted_win",
]  # fmt: skip

SCORE_COLUMNS = ["judgment_id", "item_id", "annotator_id", "criterion", "system", "score"]
METRIC_COLUMNS = ["item_id", "system", "metric", "value"]


@dataclass
class Selection:
    """The judgments each statistic uses, after the exclusions (see the module docstring), and their
    counts."""

    kept: pd.DataFrame  # every judgment of the annotators kept, repeats and gold included: biases and speed
    used: pd.DataFrame  # the verdict's and the agreement's judgments: no repeats or gold unless asked for
    excluded: set[str]  # annotator ids left out
    evidence: Evidence  # the counts, for the result
    weights: pd.Series | None = None  # competence per annotator_id, when options.participants == "weight"


def analyze(
    judgments: pd.DataFrame,
    scores: pd.DataFrame | None = None,
    metrics: pd.DataFrame | None = None,
    options: AnalysisOptions | None = None,
    campaign_id: str | None = None,
    adjudications: pd.DataFrame | None = None,
    competence_table: pd.DataFrame | None = None,
) -> CampaignAnalysis:
    """Run every statistic of one campaign, one stage after another. Raises AnnotationError when there is
    nothing to analyse. (The results page runs the same stages on threads:
    annotations.report.analysis_stages.) `adjudications` (item_id, winner: adjudications_frame) is needed
    when options.use_adjudicated; `competence_table` (competence.competence of these judgments) is computed
    when a competence choice needs it and none is given."""
    started = time.perf_counter()
    options = options or AnalysisOptions()
    campaign_id = check_judgments(judgments, campaign_id)
    system, opponent = preference.default_pair(judgments)
    table = annotator_quality(judgments, options.thresholds) if options.exclude_flagged else None
    selection = select_evidence(judgments, table, options, adjudications, competence_table)
    scores = scores if scores is not None else pd.DataFrame(columns=SCORE_COLUMNS)
    metrics = metrics if metrics is not None else pd.DataFrame(columns=METRIC_COLUMNS)
    scores, metrics = evidence_frames(scores, metrics, selection.used)
    pairs = paired_metrics.metric_pairs(metrics, system, opponent)
    return finish(
        campaign_id,
        system,
        opponent,
        options,
        selection,
        verdict=verdict_statistics(
            selection.used, scores, metrics, pairs, system, opponent, options, weights=selection.weights
        ),
        agreeing=agreement_statistics(selection.used, scores, options),
        versus=metrics_versus_humans(
            scores, metrics, selection.used, system, opponent, options, pairs[0] - pairs[1]
        ),
        biases=bias_statistics(judgments, table, selection, options),
        started=started,
    )


def check_judgments(judgments: pd.DataFrame | None, campaign_id: str | None) -> str:
    """The campaign id (given, or the judgments' own); AnnotationError when there are no judgments."""
    if judgments is None or judgments.empty:
        raise AnnotationError("this campaign has no judgments yet: nothing to analyse")
    if not campaign_id and "campaign_id" in judgments:
        campaign_id = str(judgments["campaign_id"].iloc[0])
    return campaign_id or ""


def finish(
    campaign_id: str,
    system: str,
    opponent: str,
    options: AnalysisOptions,
    selection: Selection,
    verdict: Verdict,
    agreeing: Agreement,
    versus: MetricsVersusHumans,
    biases: Biases,
    started: float,
) -> CampaignAnalysis:
    """The stages' results as one CampaignAnalysis, with the plan for more judgments."""
    plan = power.more_judgments(
        verdict.win,
        agreeing.preference_alpha,
        options.target_half_width,
        options.detect_difference,
        significance=1 - options.confidence,
    )
    return CampaignAnalysis(
        campaign_id=campaign_id,
        system=system,
        opponent=opponent,
        options=options,
        evidence=selection.evidence,
        verdict=verdict,
        agreement=agreeing,
        versus_metrics=versus,
        biases=biases,
        power=plan,
        environment=environment(),
        seconds=time.perf_counter() - started,
    )


def annotator_quality(judgments: pd.DataFrame, thresholds: quality.QualityThresholds) -> pd.DataFrame:
    """The annotator table, on everything each annotator did (exclusions do not apply to it)."""
    firsts = judgments[~judgments["is_repeat"].astype(bool)]
    majority = agreement.majority_agreement(firsts.rename(columns={"winner": "value"}))
    gold = agreement.gold_agreement(judgments)
    consistency = agreement.self_consistency(judgments)
    return quality.annotator_table(judgments, majority, gold, consistency, thresholds)


def select_evidence(
    judgments: pd.DataFrame,
    annotators: pd.DataFrame | None,
    options: AnalysisOptions,
    adjudications: pd.DataFrame | None = None,
    competence_table: pd.DataFrame | None = None,
) -> Selection:
    """Leave out the excluded (and, when asked, the flagged or low-competence) annotators, then repeats and
    gold unless asked for, then put the adjudicated labels in when asked; raise AnnotationError when nothing
    is left. `annotators` (the quality table) is read only to find the flagged; `competence_table`
    (competence.competence on every judgment) is computed here when the choice needs it and it is not given;
    `adjudications` (item_id, winner) is required when options.use_adjudicated."""
    excluded = set(options.exclude_annotators)
    if options.exclude_flagged:
        excluded |= set(annotators.loc[annotators["flagged"], "annotator_id"])
    weights, said = None, []
    if options.participants != "keep":
        if competence_table is None:
            competence_table = competence.competence(judgments, options.seed)
        label = competence.MEASURE_LABELS[options.competence_measure]
        if options.participants == "exclude":
            low = competence.below_threshold(
                competence_table, options.competence_measure, options.competence_threshold
            )
            excluded |= set(low)
            said.append(
                f"excluding {len(low)} low-competence participant{'' if len(low) == 1 else 's'} "
                f"({label} < {options.competence_threshold:g})"
            )
        else:
            weights = competence.competence_weights(competence_table, options.competence_measure)
            said.append(
                f"each participant weighted by {label} competence (weighted: the win rate, its item "
                "interval and p; the bootstrap and judgments' intervals are left out; every other figure "
                "is unweighted)"
            )
    # one row selection per frame, and none when it keeps every row: copying 100,000 judgments' text columns
    # costs a cold results page about a tenth of a second each time (same rows, same index, same values)
    kept = judgments[~judgments["annotator_id"].astype(str).isin(excluded)] if excluded else judgments
    repeat, gold = kept["is_repeat"].astype(bool).to_numpy(), kept["is_gold"].astype(bool).to_numpy()
    keep = np.ones(len(kept), dtype=bool)
    if not options.include_repeats:
        keep &= ~repeat
    if not options.include_gold:
        keep &= ~gold
    used = kept if keep.all() else kept[keep]
    if used.empty:
        raise AnnotationError("no judgments are left after the exclusions: include more annotators")
    adjudicated = 0
    if options.use_adjudicated:
        if adjudications is None:
            raise AnnotationError(
                "use_adjudicated needs the campaign's adjudications (annotations.judging.adjudication."
                "adjudications_frame; load_campaign reads them)"
            )
        decided = adjudications[adjudications["item_id"].astype(str).isin(used["item_id"].astype(str))]
        adjudicated = int(decided["item_id"].nunique())
        used = competence.with_adjudications(used, decided)
        said.append(f"with {adjudicated} adjudicated item{'' if adjudicated == 1 else 's'}")
    participants = used["annotator_id"].astype(str)
    evidence = Evidence(
        judgments_total=len(judgments),
        annotators_total=int(judgments["annotator_id"].nunique()),
        excluded_annotators=sorted(excluded),
        judgments_of_excluded_annotators=int(len(judgments) - len(kept)),
        repeats_left_out=0 if options.include_repeats else int(repeat.sum()),
        gold_left_out=0 if options.include_gold else int((gold & ~repeat).sum()),
        judgments_used=len(used),
        items_used=int(used["item_id"].nunique()),
        annotators_used=int(participants[participants != competence.ADJUDICATOR].nunique()),
        adjudicated_items=adjudicated,
        who_counts="; ".join(said),
        used_judgment_ids=used["judgment_id"].to_numpy(),
    )
    return Selection(kept, used, excluded, evidence, weights)


def bias_statistics(
    judgments: pd.DataFrame, table: pd.DataFrame | None, selection: Selection, options: AnalysisOptions
) -> Biases:
    """The annotator table (`table` when already computed; every judgment of everyone, with who is excluded),
    and the position, length and speed checks on the judgments of the annotators kept."""
    annotators = table if table is not None else annotator_quality(judgments, options.thresholds)
    annotators = annotators.assign(excluded=annotators["annotator_id"].isin(selection.excluded))
    kept, th = selection.kept, options.thresholds
    return Biases(
        annotators=annotators,
        position=quality.position_bias(kept),
        length=quality.length_bias(kept),
        speed=quality.speed(kept, th.min_seconds, th.max_words_per_second),
    )


def evidence_frames(
    scores: pd.DataFrame, metrics: pd.DataFrame, used: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scores of the judgments used, and the metrics of their items (so metrics and humans describe the
    same outputs). Index lookups: Series.isin on large string columns is slow in pandas 3."""
    if not scores.empty:
        scores = scores[pd.Index(used["judgment_id"]).get_indexer(scores["judgment_id"]) >= 0]
    if not metrics.empty:
        metrics = metrics[pd.Index(used["item_id"].unique()).get_indexer(metrics["item_id"]) >= 0]
    return scores, metrics


def headline_statistics(
    used: pd.DataFrame,
    system: str,
    opponent: str,
    options: AnalysisOptions,
    weights: pd.Series | None = None,
) -> tuple[preference.WinRateResult, pd.DataFrame]:
    """The win rate under the chosen tie policy, and under each policy as a table: the verdict's headline.
    With `weights` (competence per annotator_id) the win rate, its item interval and p are weighted."""
    n_boot, seed, conf = options.n_boot, options.seed, options.confidence
    win = preference.win_rate(used, system, opponent, options.tie_policy, n_boot, seed, conf)
    by_policy = [
        win
        if policy == options.tie_policy
        else preference.win_rate(used, system, opponent, policy, n_boot, seed, conf)
        for policy in preference.TIE_POLICIES
    ]
    if weights is not None:
        by_policy = [weighted_win(r, used, weights) for r in by_policy]
        win = by_policy[preference.TIE_POLICIES.index(options.tie_policy)]
    return win, pd.DataFrame([r.to_dict() for r in by_policy])


def weighted_win(
    result: preference.WinRateResult, used: pd.DataFrame, weights: pd.Series
) -> preference.WinRateResult:
    """`result` with its win rate (judgments weighted by their annotator's competence), item share, item
    interval and item p weighted (competence.weighted_win_rate); the bootstrap and judgments' Wilson
    intervals, which take no weights, left out with a note. The counts stay the judgments' counts."""
    if result.win_rate is None:
        return result
    w = competence.weighted_win_rate(
        used, result.system, result.opponent, weights, result.tie_policy, result.confidence
    )
    rows = used[used["shown_left"].astype(str).isin([result.system, result.opponent])]
    rows = rows[rows["shown_right"].astype(str).isin([result.system, result.opponent])]
    winner = rows["winner"].astype(str).to_numpy()
    num, den = preference._policy_counts(
        winner == result.system,
        winner == result.opponent,
        np.isin(winner, preference.TIE_OUTCOMES),
        result.tie_policy,
    )
    weight = rows["annotator_id"].astype(str).map(weights).fillna(1.0).to_numpy(dtype=float)
    total = float((den * weight).sum())
    item_p = None
    if w.win_rate is not None and w.n_items:
        item_p = float(2 * sps.norm.sf(abs((w.win_rate - 0.5) / np.sqrt(0.25 / w.n_items))))
    return dataclasses.replace(
        result,
        win_rate=float((num * weight).sum() / total) if total > 0 else None,
        item_share=w.win_rate,
        item_low=w.low,
        item_high=w.high,
        item_p=item_p,
        n_items_used=w.n_items,
        wilson_low=None,
        wilson_high=None,
        boot_low=None,
        boot_high=None,
        boot_note="weighted by competence: only the item interval takes the weights",
        method="win rate weighted by competence; Wilson score interval with the item as the unit (item-mean "
        "weighted share, n = items); score test of 1/2 with n = items",
    )


def verdict_statistics(
    used: pd.DataFrame,
    scores: pd.DataFrame,
    metrics: pd.DataFrame,
    pairs: tuple[pd.DataFrame, pd.DataFrame],
    system: str,
    opponent: str,
    options: AnalysisOptions,
    headline: tuple[preference.WinRateResult, pd.DataFrame] | None = None,
    weights: pd.Series | None = None,
) -> Verdict:
    """Win rate (under every tie policy; `headline` when already computed), Bradley-Terry, criterion and
    metric differences."""
    n_boot, seed, conf = options.n_boot, options.seed, options.confidence
    win, by_policy = headline or headline_statistics(used, system, opponent, options, weights)
    # systems ever shown (counted in C: a Python set of 100,000 judgments' sides cost a tenth of a second)
    n_shown = (
        pd.concat([used["shown_left"], used["shown_right"]], ignore_index=True)
        .astype(str)
        .nunique(dropna=False)
    )
    return Verdict(
        win=win,
        win_by_policy=by_policy,
        bradley_terry=preference.bradley_terry(used, opponent, n_boot, seed, conf) if n_shown > 2 else None,
        criteria=criteria.criterion_differences(scores, system, opponent, n_boot, seed, conf),
        metric_table=paired_metrics.metric_differences(
            metrics, system, opponent, n_boot, seed, conf, pairs=pairs
        ),
    )


class AgreementTarget(NamedTuple):
    """What one alpha is computed on: a name for the table, the long ratings, the level of measurement."""

    target: str
    ratings: pd.DataFrame
    level: str


def agreement_targets(used: pd.DataFrame, scores: pd.DataFrame) -> list[AgreementTarget]:
    """The targets of alpha: the preference with and without ties (nominal), and each criterion's
    scores (ordinal and interval), whose unit is an (item, system) output: each annotator scored both."""
    preference_ratings = used[["item_id", "annotator_id", "winner"]].rename(columns={"winner": "value"})
    decisive = preference_ratings[~preference_ratings["value"].isin(preference.TIE_OUTCOMES)]
    targets = [
        AgreementTarget("preference (ties as a category)", preference_ratings, "nominal"),
        AgreementTarget("preference (ties left out)", decisive, "nominal"),
    ]
    for criterion, part in scores.groupby("criterion", sort=True):
        ratings = pd.DataFrame(
            {
                "item_id": part.groupby(["item_id", "system"], sort=True).ngroup().to_numpy(),
                "annotator_id": part["annotator_id"].to_numpy(),
                "value": part["score"].to_numpy(),
            }
        ).drop_duplicates(["item_id", "annotator_id"])
        targets += [
            AgreementTarget(f"{criterion} score", ratings, "ordinal"),
            AgreementTarget(f"{criterion} score", ratings, "interval"),
        ]
    return targets


def agreement_statistics(used: pd.DataFrame, scores: pd.DataFrame, options: AnalysisOptions) -> Agreement:
    """Alpha for every target of `agreement_targets`, leave-one-annotator-out, and Cohen's and Fleiss'
    kappa on the preference."""
    rows, loo, alphas = [], [], []
    targets = agreement_targets(used, scores)
    for target, ratings, level in targets:
        result = agreement.krippendorff_alpha(
            ratings, level, n_boot=options.n_boot, seed=options.seed, confidence=options.confidence
        )
        alphas.append(result)
        rows.append(
            {
                "target": target,
                **{k: v for k, v in result.to_dict().items() if k != "leave_one_out"},
                "half_width": result.half_width,
            }
        )
        loo += [
            {"target": target, "level": level, "annotator_id": a, "alpha_without": v, "alpha": result.alpha}
            for a, v in result.leave_one_out.items()
        ]
    preference_ratings = targets[0].ratings
    return Agreement(
        table=pd.DataFrame(rows),
        leave_one_out=pd.DataFrame(
            loo, columns=["target", "level", "annotator_id", "alpha_without", "alpha"]
        ),
        cohen=agreement.cohen_kappa_pairs(preference_ratings),
        fleiss=agreement.fleiss_kappa(preference_ratings),
        preference_alpha=alphas[0],
        plan=power.agreement_plan(preference_ratings, confidence=options.confidence),
        raw=agreement.raw_agreement(preference_ratings),
    )


def human_metric_frame(scores: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """(item_id, system) rows with a "metric:<m>" column per metric and a "human:<criterion>" column per
    criterion (mean score over the judgments); empty without scores or metrics."""
    if scores.empty or metrics.empty:
        return pd.DataFrame()
    human = scores.pivot_table(
        index=["item_id", "system"], columns="criterion", values="score", aggfunc="mean"
    )
    auto = metrics.pivot_table(index=["item_id", "system"], columns="metric", values="value", aggfunc="mean")
    human.columns = [f"human:{c}" for c in human.columns]
    auto.columns = [f"metric:{m}" for m in auto.columns]
    return auto.join(human, how="inner").reset_index()


def metrics_versus_humans(
    scores: pd.DataFrame,
    metrics: pd.DataFrame,
    used: pd.DataFrame,
    system: str,
    opponent: str,
    options: AnalysisOptions,
    deltas: pd.DataFrame,
) -> MetricsVersusHumans:
    """Metric-human correlations at every level and method, the per-item delta against the human preference,
    and each metric's pairwise accuracy against the human majority (`deltas`: metric_deltas of the pair)."""
    means = human_metric_frame(scores, metrics)
    columns = list(correlation.CorrelationResult.__dataclass_fields__)
    table = pd.DataFrame(columns=columns)
    metric_columns = [c for c in means.columns if c.startswith("metric:")]
    human_columns = [c for c in means.columns if c.startswith("human:")]
    if metric_columns and human_columns:
        table = correlation.correlation_table(
            means,
            metric_columns,
            human_columns,
            options.correlation_levels,
            options.correlation_methods,
            n_boot=options.n_boot,
            seed=options.seed,
            confidence=options.confidence,
        )
        table["metric"] = table["metric"].str.removeprefix("metric:")
        table["human"] = table["human"].str.removeprefix("human:")
    names = sorted(metrics["metric"].astype(str).unique()) if not metrics.empty else []
    by_delta = (
        correlation.preference_correlations(
            used,
            metrics,
            names,
            system,
            opponent,
            options.correlation_methods,
            options.n_boot,
            options.seed,
            options.confidence,
            deltas=deltas,
        )
        if names
        else []
    )
    accuracies = correlation.pairwise_accuracies(
        used, metrics, names, system, opponent, options.confidence, deltas=deltas
    )
    return MetricsVersusHumans(
        correlations=table,
        preference_correlations=pd.DataFrame([r.to_dict() for r in by_delta], columns=columns),
        pairwise_accuracy=pd.DataFrame(
            [r.to_dict() for r in accuracies], columns=list(correlation.PairwiseAccuracy.__dataclass_fields__)
        ),
        means=means,
    )
