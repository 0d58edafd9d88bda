"""Every statistic of a campaign in one call, for the results page, `python -m annotations stats` and the export
(all three call `analyze`, so they can never disagree). Frames in (notes/contracts.md), a structured result out;
no I/O.

Which judgments count: annotators excluded by name (or flagged by the quality checks, when asked) are left out
of everything except the annotator table, which always shows everyone. Flipped repeats and gold items are
checks, not evidence: they feed self-consistency and gold accuracy, and stay out of the verdict and agreement
unless asked for. `CampaignAnalysis.used` says exactly what was used.
"""

from __future__ import annotations

import platform
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata

import numpy as np
import pandas as pd

from annotations.errors import AnnotationError
from annotations.stats import agreement, correlation, criteria, paired_metrics, power, preference, quality

PACKAGE_VERSION = "0.1.0"


@dataclass
class AnalysisOptions:
    """How to turn judgments into conclusions (shown on the page and written into every export)."""

    tie_policy: str = field(
        default="drop", metadata={"help": "drop | half | separate (see preference.TIE_POLICY_HELP)"}
    )
    exclude_annotators: tuple[str, ...] = field(default=(), metadata={"help": "annotator ids left out"})
    exclude_flagged: bool = field(
        default=False, metadata={"help": "also leave out annotators the checks flag"}
    )
    include_gold: bool = field(
        default=False, metadata={"help": "count gold items in the verdict and agreement"}
    )
    include_repeats: bool = field(
        default=False, metadata={"help": "count flipped repeats as extra judgments"}
    )
    n_boot: int = field(default=1000, metadata={"help": "bootstrap resamples for every interval"})
    seed: int = field(default=0, metadata={"help": "seed of every bootstrap"})
    confidence: float = field(default=0.95, metadata={"help": "interval coverage"})
    correlation_levels: tuple[str, ...] = field(
        default=correlation.LEVELS, metadata={"help": "metric-human levels"}
    )
    correlation_methods: tuple[str, ...] = field(
        default=correlation.METHODS, metadata={"help": "coefficients"}
    )
    target_half_width: float = field(
        default=0.05, metadata={"help": "win-rate interval half-width to plan for"}
    )
    detect_difference: float = field(
        default=0.05, metadata={"help": "win-rate difference from 0.5 to detect"}
    )
    thresholds: quality.QualityThresholds = field(default_factory=quality.QualityThresholds)

    def __post_init__(self) -> None:
        if self.tie_policy not in preference.TIE_POLICIES:
            raise AnnotationError(
                f"tie policy must be one of {', '.join(preference.TIE_POLICIES)}; got {self.tie_policy!r}"
            )
        self.exclude_annotators = tuple(sorted(set(self.exclude_annotators)))
        if isinstance(self.thresholds, dict):
            self.thresholds = quality.QualityThresholds(**self.thresholds)


@dataclass
class CampaignAnalysis:
    """The result of `analyze`; DataFrames for tables, result objects for single statistics."""

    campaign_id: str
    system: str  # the system whose win rate is reported (system_b, e.g. finetuned)
    opponent: str  # system_a, e.g. base
    options: AnalysisOptions
    used: dict  # what each statistic used: counts and exclusions
    win: preference.WinRateResult
    win_by_policy: pd.DataFrame  # the win rate under each tie policy, for comparison
    bradley_terry: preference.BradleyTerryResult | None
    criteria: pd.DataFrame
    metric_table: pd.DataFrame  # automatic metrics on the campaign's items: means, paired delta, interval
    agreement: pd.DataFrame  # target, level, alpha, ci_low, ci_high, n_units, n_annotators, reason, ...
    leave_one_out: pd.DataFrame  # target, level, annotator_id, alpha_without
    cohen: pd.DataFrame
    fleiss: agreement.FleissResult
    annotators: pd.DataFrame
    position: pd.DataFrame
    length: quality.LengthBiasResult
    speed: pd.DataFrame
    correlations: pd.DataFrame
    preference_correlations: pd.DataFrame
    pairwise_accuracy: pd.DataFrame
    power: power.MoreJudgments
    environment: dict
    seconds: float = 0.0
    used_judgment_ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))  # not exported
    # (item_id, system) rows: "metric:<m>" and "human:<criterion>" means behind the correlations (not exported)
    human_metric_means: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_dict(self) -> dict:
        """JSON-ready nested dict (NaN -> None)."""

        def frame(df: pd.DataFrame) -> list[dict]:
            return _clean(df.to_dict("records"))

        out = {
            "campaign_id": self.campaign_id,
            "system": self.system,
            "opponent": self.opponent,
            "options": _clean(asdict(self.options)),
            "used": _clean(self.used),
            "win": _clean(self.win.to_dict()),
            "win_by_policy": frame(self.win_by_policy),
            "bradley_terry": self.bradley_terry.to_dict() if self.bradley_terry else None,
            "criteria": frame(self.criteria),
            "metric_table": frame(self.metric_table),
            "agreement": frame(self.agreement),
            "leave_one_out": frame(self.leave_one_out),
            "cohen": frame(self.cohen),
            "fleiss": _clean(self.fleiss.to_dict()),
            "annotators": frame(self.annotators),
            "position": frame(self.position),
            "length": _clean(self.length.to_dict()),
            "speed": frame(self.speed),
            "correlations": frame(self.correlations),
            "preference_correlations": frame(self.preference_correlations),
            "pairwise_accuracy": frame(self.pairwise_accuracy),
            "power": _clean(self.power.to_dict()),
            "environment": self.environment,
        }
        return _clean(out)

    def statistics_table(self) -> pd.DataFrame:
        """Every headline statistic as one long table: statistic, target, level, method, value, ci_low, ci_high,
        n, seed, note (the CSV export)."""
        rows = []
        w = self.win
        rows.append(("win_rate", f"{w.system} vs {w.opponent}", f"tie policy {w.tie_policy}", "bootstrap over items",
                     w.win_rate, w.boot_low, w.boot_high, w.n_used, w.seed, w.reason))  # fmt: skip
        rows.append(("win_rate", f"{w.system} vs {w.opponent}", f"tie policy {w.tie_policy}", "Wilson score",
                     w.win_rate, w.wilson_low, w.wilson_high, w.n_used, None, None))  # fmt: skip
        rows.append(("sign_test_p", f"{w.system} vs {w.opponent}", "ties excluded", "exact binomial",
                     w.sign_test_p, None, None, w.wins + w.losses, None, None))  # fmt: skip
        for r in self.criteria.itertuples():
            rows.append(("mean_score_difference", r.criterion, f"{self.system} - {self.opponent}",
                         "bootstrap over items", r.mean_diff, r.ci_low, r.ci_high, r.n, self.options.seed, r.reason))  # fmt: skip
        for r in self.metric_table.itertuples():
            rows.append(("metric_difference", r.metric, f"{self.system} - {self.opponent}", "bootstrap over items",
                         r.delta, r.ci_low, r.ci_high, r.n_items, self.options.seed, None))  # fmt: skip
        for r in self.agreement.itertuples():
            rows.append(("krippendorff_alpha", r.target, r.level, "bootstrap over items", r.alpha, r.ci_low,
                         r.ci_high, r.n_units, r.seed, r.reason))  # fmt: skip
        rows.append(("fleiss_kappa", "preference", "nominal", self.fleiss.method, self.fleiss.kappa, None, None,
                     self.fleiss.n_items, None, self.fleiss.reason))  # fmt: skip
        for r in self.correlations.itertuples():
            rows.append((f"correlation_{r.method}", f"{r.metric} ~ {r.human}", r.level, r.ci_method, r.coefficient,
                         r.ci_low, r.ci_high, r.n, r.seed, r.reason))  # fmt: skip
        for r in self.preference_correlations.itertuples():
            rows.append((f"correlation_{r.method}", f"{r.metric} delta ~ preference", r.level, r.ci_method,
                         r.coefficient, r.ci_low, r.ci_high, r.n, r.seed, r.reason))  # fmt: skip
        for r in self.pairwise_accuracy.itertuples():
            rows.append(("pairwise_accuracy", r.metric, "items with a human majority", "Wilson score", r.accuracy,
                         r.ci_low, r.ci_high, r.n, None, r.reason))  # fmt: skip
        length = self.length
        rows.append(("length_bias_longer_wins", "decisive judgments", "unequal lengths", "exact binomial p",
                     length.share, None, None, length.n, None, length.reason))  # fmt: skip
        overall = self.position[self.position["annotator_id"] == "all"].iloc[0]
        rows.append(("position_bias_left_share", "all annotators", "left/right choices", "exact binomial p",
                     overall["left_share"], None, None, overall["n"], None, f"p = {overall['p_value']:.3g}"))  # fmt: skip
        columns = [
            "statistic",
            "target",
            "level",
            "method",
            "value",
            "ci_low",
            "ci_high",
            "n",
            "seed",
            "note",
        ]
        table = pd.DataFrame(rows, columns=columns)
        table["n_boot"] = self.options.n_boot
        table["confidence"] = self.options.confidence
        table["tie_policy"] = self.options.tie_policy
        table["versions"] = "; ".join(f"{k} {v}" for k, v in self.environment.items())
        return table


def _clean(value):
    """NaN/inf/numpy scalars/timestamps -> JSON-friendly Python values, recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def environment() -> dict:
    """Python and package versions, written beside every statistic so a reader can reproduce it."""
    versions = {"finetune-verdict": PACKAGE_VERSION, "python": platform.python_version()}
    for name in ("numpy", "pandas", "scipy", "duckdb", "pyarrow"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _alpha_row(target: str, result: agreement.AlphaResult) -> dict:
    row = {"target": target, **{k: v for k, v in result.to_dict().items() if k != "leave_one_out"}}
    row["half_width"] = result.half_width
    return row


def _agreement(judgments: pd.DataFrame, scores: pd.DataFrame, options: AnalysisOptions):
    """Alpha for the preference (with and without ties) and for each criterion (ordinal and interval)."""
    n_boot, seed = options.n_boot, options.seed
    ratings = judgments[["item_id", "annotator_id", "winner"]].rename(columns={"winner": "value"})
    decisive = ratings[~ratings["value"].isin(preference.TIE_OUTCOMES)]
    rows, loo = [], []
    targets = [
        ("preference (ties as a category)", ratings, "nominal"),
        ("preference (ties left out)", decisive, "nominal"),
    ]
    for criterion, part in scores.groupby("criterion", sort=True):
        # the unit is an (item, system) output: each annotator scored both outputs of the pair
        ratings = pd.DataFrame(
            {
                "item_id": part.groupby(["item_id", "system"], sort=True).ngroup().to_numpy(),
                "annotator_id": part["annotator_id"].to_numpy(),
                "value": part["score"].to_numpy(),
            }
        ).drop_duplicates(["item_id", "annotator_id"])
        targets += [(f"{criterion} score", ratings, "ordinal"), (f"{criterion} score", ratings, "interval")]
    for target, frame, level in targets:
        result = agreement.krippendorff_alpha(frame, level, n_boot=n_boot, seed=seed)
        rows.append(_alpha_row(target, result))
        loo += [
            {"target": target, "level": level, "annotator_id": a, "alpha_without": v, "alpha": result.alpha}
            for a, v in result.leave_one_out.items()
        ]
    table = pd.DataFrame(rows)
    loo_table = pd.DataFrame(loo, columns=["target", "level", "annotator_id", "alpha_without", "alpha"])
    return table, loo_table, ratings


def _human_metric_frame(
    scores: pd.DataFrame, metrics: pd.DataFrame
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """(item_id, system) rows with one column per metric and per criterion (mean score over judgments)."""
    if scores.empty or metrics.empty:
        return pd.DataFrame(), [], []
    human = scores.pivot_table(
        index=["item_id", "system"], columns="criterion", values="score", aggfunc="mean"
    )
    auto = metrics.pivot_table(index=["item_id", "system"], columns="metric", values="value", aggfunc="mean")
    criteria = [str(c) for c in human.columns]
    metric_names = [str(m) for m in auto.columns]
    human.columns = [f"human:{c}" for c in criteria]
    auto.columns = [f"metric:{m}" for m in metric_names]
    return auto.join(human, how="inner").reset_index(), metric_names, criteria


def _correlations(
    scores, metrics, judgments, system, opponent, options: AnalysisOptions, deltas: pd.DataFrame
):
    frame, metric_names, criteria = _human_metric_frame(scores, metrics)
    columns = list(correlation.CorrelationResult.__dataclass_fields__)
    table = pd.DataFrame(columns=columns)
    if metric_names and criteria:
        table = correlation.correlation_table(
            frame, [f"metric:{m}" for m in metric_names], [f"human:{c}" for c in criteria],
            options.correlation_levels, options.correlation_methods,
            n_boot=options.n_boot, seed=options.seed, confidence=options.confidence,
        )  # fmt: skip
        table["metric"] = table["metric"].str.removeprefix("metric:")
        table["human"] = table["human"].str.removeprefix("human:")
    all_metrics = sorted(metrics["metric"].astype(str).unique()) if not metrics.empty else []
    by_delta = correlation.preference_correlations(
        judgments, metrics, all_metrics, system, opponent, options.correlation_methods,
        options.n_boot, options.seed, options.confidence, deltas=deltas,
    ) if all_metrics else []  # fmt: skip
    accuracies = correlation.pairwise_accuracies(
        judgments, metrics, all_metrics, system, opponent, options.confidence, deltas=deltas
    )
    accuracy = [r.to_dict() for r in accuracies]
    acc_columns = list(correlation.PairwiseAccuracy.__dataclass_fields__)
    return (
        table,
        pd.DataFrame([r.to_dict() for r in by_delta], columns=columns),
        pd.DataFrame(accuracy, columns=acc_columns),
        frame,
    )


def _judgment_statistics(evidence, scores, metrics, pairs, system, opponent, options: AnalysisOptions):
    """Verdict, Bradley-Terry, criteria, metric table and agreement (everything but the correlations)."""
    n_boot, seed, conf = options.n_boot, options.seed, options.confidence
    win = preference.win_rate(evidence, system, opponent, options.tie_policy, n_boot, seed, conf)
    by_policy = [
        win.to_dict()
        if policy == options.tie_policy
        else preference.win_rate(evidence, system, opponent, policy, n_boot, seed, conf).to_dict()
        for policy in preference.TIE_POLICIES
    ]
    shown = set(evidence["shown_left"].astype(str)) | set(evidence["shown_right"].astype(str))
    bt = preference.bradley_terry(evidence, opponent, n_boot, seed, conf) if len(shown) > 2 else None
    criteria_table = criteria.criterion_differences(scores, system, opponent, n_boot, seed, conf)
    metric_table = paired_metrics.metric_differences(
        metrics, system, opponent, n_boot, seed, conf, pairs=pairs
    )
    agreement_table, loo, ratings = _agreement(evidence, scores, options)
    cohen = agreement.cohen_kappa_pairs(ratings)
    fleiss = agreement.fleiss_kappa(ratings)
    return win, pd.DataFrame(by_policy), bt, criteria_table, metric_table, agreement_table, loo, cohen, fleiss


def analyze(
    judgments: pd.DataFrame,
    scores: pd.DataFrame | None = None,
    metrics: pd.DataFrame | None = None,
    options: AnalysisOptions | None = None,
    campaign_id: str | None = None,
) -> CampaignAnalysis:
    """Run every statistic of one campaign. Raises AnnotationError when there is nothing to analyse."""
    started = time.perf_counter()
    options = options or AnalysisOptions()
    if judgments is None or judgments.empty:
        raise AnnotationError("this campaign has no judgments yet: nothing to analyse")
    scores = (
        scores
        if scores is not None
        else pd.DataFrame(columns=["judgment_id", "item_id", "annotator_id", "criterion", "system", "score"])
    )
    metrics = (
        metrics if metrics is not None else pd.DataFrame(columns=["item_id", "system", "metric", "value"])
    )
    campaign_id = (
        campaign_id or str(judgments["campaign_id"].iloc[0]) if "campaign_id" in judgments else campaign_id
    )
    system, opponent = preference.default_pair(judgments)
    th = options.thresholds

    # quality of every annotator, on everything they did
    firsts_all = judgments[~judgments["is_repeat"].astype(bool)]
    majority_all = agreement.majority_agreement(firsts_all.rename(columns={"winner": "value"}))
    gold = agreement.gold_agreement(judgments)
    consistency = agreement.self_consistency(judgments)
    annotators = quality.annotator_table(judgments, majority_all, gold, consistency, th)

    excluded = set(options.exclude_annotators)
    if options.exclude_flagged:
        excluded |= set(annotators.loc[annotators["flagged"], "annotator_id"])
    # one row selection per frame, and none when it keeps every row: copying 100,000 judgments' text columns
    # costs a cold results page about a tenth of a second each time (same rows, same index, same values)
    kept = judgments[~judgments["annotator_id"].astype(str).isin(excluded)] if excluded else judgments
    keep = np.ones(len(kept), dtype=bool)
    if not options.include_repeats:
        keep &= ~kept["is_repeat"].astype(bool).to_numpy()
    if not options.include_gold:
        keep &= ~kept["is_gold"].astype(bool).to_numpy()
    evidence = kept if keep.all() else kept[keep]
    annotators["excluded"] = annotators["annotator_id"].isin(excluded)
    used = {
        "judgments_total": len(judgments),
        "annotators_total": int(judgments["annotator_id"].nunique()),
        "excluded_annotators": sorted(excluded),
        "judgments_of_excluded_annotators": int(len(judgments) - len(kept)),
        "repeats_left_out": 0 if options.include_repeats else int(kept["is_repeat"].astype(bool).sum()),
        "gold_left_out": 0
        if options.include_gold
        else int((kept["is_gold"].astype(bool) & ~kept["is_repeat"].astype(bool)).sum()),
        "judgments_used": len(evidence),
        "items_used": int(evidence["item_id"].nunique()),
        "annotators_used": int(evidence["annotator_id"].nunique()),
        "verdict_and_agreement": "judgments_used (no excluded annotators; repeats and gold per the options)",
        "biases_and_speed": "every judgment of the annotators kept, repeats and gold included",
        "annotator_table": "every judgment of every annotator",
    }
    if evidence.empty:
        raise AnnotationError("no judgments are left after the exclusions: include more annotators")
    # (Index lookups: Series.isin on large string columns is slow in pandas 3)
    if not scores.empty:
        scores = scores[pd.Index(evidence["judgment_id"]).get_indexer(scores["judgment_id"]) >= 0]
    if not metrics.empty:  # the verdict's items, so metrics and humans describe the same outputs
        metrics = metrics[pd.Index(evidence["item_id"].unique()).get_indexer(metrics["item_id"]) >= 0]
    used_scores = scores
    pairs = paired_metrics.metric_pairs(metrics, system, opponent)
    conf = options.confidence

    # the correlations run beside the rest on a second core (numpy and the bootstrap matrix products release
    # the GIL); every input is only read, so the values are those of running one after the other
    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(
            _correlations, used_scores, metrics, evidence, system, opponent, options, pairs[0] - pairs[1]
        )
        parts = _judgment_statistics(evidence, used_scores, metrics, pairs, system, opponent, options)
        correlations, preference_correlations, accuracy, human_metric_means = later.result()
    win, win_by_policy, bt, criteria_table, metric_table, agreement_table, loo, cohen, fleiss = parts
    alpha_pref = agreement_table.iloc[0]
    alpha_for_power = agreement.AlphaResult(
        alpha_pref["alpha"], alpha_pref["ci_low"], alpha_pref["ci_high"], int(alpha_pref["n_units"]),
        int(alpha_pref["n_annotators"]), int(alpha_pref["n_values"]), "nominal",
    )  # fmt: skip
    plan = power.more_judgments(
        win, alpha_for_power, options.target_half_width, options.detect_difference, significance=1 - conf
    )
    return CampaignAnalysis(
        campaign_id=campaign_id or "",
        system=system,
        opponent=opponent,
        options=options,
        used=used,
        win=win,
        win_by_policy=win_by_policy,
        bradley_terry=bt,
        criteria=criteria_table,
        metric_table=metric_table,
        agreement=agreement_table,
        leave_one_out=loo,
        cohen=cohen,
        fleiss=fleiss,
        annotators=annotators,
        position=quality.position_bias(kept),
        length=quality.length_bias(kept),
        speed=quality.speed(kept, th.min_seconds, th.max_words_per_second),
        correlations=correlations,
        preference_correlations=preference_correlations,
        pairwise_accuracy=accuracy,
        power=plan,
        environment=environment(),
        seconds=time.perf_counter() - started,
        used_judgment_ids=evidence["judgment_id"].to_numpy(),
        human_metric_means=human_metric_means,
    )
