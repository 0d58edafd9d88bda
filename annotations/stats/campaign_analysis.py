"""The result of `analyze`, for the results page, the export and `python -m annotations stats`: every
statistic of one campaign, nested by the question it answers (`verdict`, `agreement`, `versus_metrics`,
`biases`), the `evidence` behind them and the options, and two ways to write it down (a JSON-ready dict whose
keys are those of `python -m annotations stats --json`, and one long table of every headline statistic for the
CSV export).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from annotations.stats.agreement import AlphaResult, FleissResult, RawAgreement
from annotations.stats.analysis_options import AnalysisOptions, options_record
from annotations.stats.power import AgreementPlan, MoreJudgments
from annotations.stats.preference import BradleyTerryResult, WinRateResult
from annotations.stats.quality import LengthBiasResult

# what each statistic reads, in words (written into the JSON's "used" beside the counts)
EVIDENCE_SCOPES = {
    "verdict_and_agreement": "judgments_used (no excluded annotators; repeats and gold per the options)",
    "biases_and_speed": "every judgment of the annotators kept, repeats and gold included",
    "annotator_table": "every judgment of every annotator",
}


@dataclass
class Evidence:
    """Which judgments the statistics use, after the exclusions: counts, and the ids of the judgments used."""

    judgments_total: int
    annotators_total: int
    excluded_annotators: list[str]
    judgments_of_excluded_annotators: int
    repeats_left_out: int
    gold_left_out: int
    judgments_used: int
    items_used: int
    annotators_used: int
    adjudicated_items: int = 0  # items whose judgments were replaced by the adjudicated label
    who_counts: str = ""  # the competence choice in words ("" when everyone counts as judged)
    used_judgment_ids: np.ndarray = field(
        default_factory=lambda: np.empty(0, dtype=object), repr=False, compare=False
    )

    def to_dict(self) -> dict:
        """The counts and exclusions, then what each statistic reads (EVIDENCE_SCOPES); not the judgment
        ids, and not the who-counts fields while everyone counts as judged (a default analysis keeps the
        keys it had before they existed)."""
        counts = {k: v for k, v in asdict(self).items() if k != "used_judgment_ids"}
        if not self.who_counts and not self.adjudicated_items:
            del counts["who_counts"], counts["adjudicated_items"]
        return {**counts, **EVIDENCE_SCOPES}


@dataclass
class Verdict:
    """Who won: the win rate (under the chosen tie policy and under each), Bradley-Terry with more than two
    systems, per-criterion score differences and the automatic metrics' paired differences."""

    win: WinRateResult
    win_by_policy: pd.DataFrame  # the win rate under each tie policy, for comparison
    bradley_terry: BradleyTerryResult | None
    criteria: pd.DataFrame
    metric_table: pd.DataFrame  # automatic metrics on the campaign's items: means, paired delta, interval


@dataclass
class Agreement:
    """Whether the annotators agree: alpha for each target, leave-one-annotator-out, Cohen and Fleiss."""

    table: (
        pd.DataFrame
    )  # one row per (target, level): alpha, ci_low, ci_high, n_units, n_annotators, reason, ...
    leave_one_out: pd.DataFrame  # target, level, annotator_id, alpha_without, alpha
    cohen: pd.DataFrame
    fleiss: FleissResult
    preference_alpha: AlphaResult | None  # the preference with ties as a category (the power plan uses it)
    plan: AgreementPlan | None  # items a second annotator would have to judge, for intervals of given widths
    raw: RawAgreement | None = None  # share of agreeing pairs of preference judgments on the same item


@dataclass
class MetricsVersusHumans:
    """Whether the automatic metrics agree with the humans."""

    correlations: pd.DataFrame  # metric x human score x level x method
    preference_correlations: pd.DataFrame  # per-item metric delta against the human preference
    pairwise_accuracy: pd.DataFrame
    means: pd.DataFrame  # (item_id, system): "metric:<m>" and "human:<criterion>" means (not exported)


@dataclass
class Biases:
    """The annotator table and the position, length and speed checks."""

    annotators: pd.DataFrame
    position: pd.DataFrame
    length: LengthBiasResult
    speed: pd.DataFrame


@dataclass
class CampaignAnalysis:
    """The result of `analyze`; DataFrames for tables, result objects for single statistics."""

    campaign_id: str
    system: str  # the system whose win rate is reported (system_b, e.g. finetuned)
    opponent: str  # system_a, e.g. base
    options: AnalysisOptions
    evidence: Evidence
    verdict: Verdict
    agreement: Agreement
    versus_metrics: MetricsVersusHumans
    biases: Biases
    power: MoreJudgments  # how many more judgments for the planned interval width and difference
    environment: dict
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN -> None) with the keys of `python -m annotations stats --json`."""

        def frame(df: pd.DataFrame) -> list[dict]:
            return _clean(df.to_dict("records"))

        v, g, m, b = self.verdict, self.agreement, self.versus_metrics, self.biases
        out = {
            "campaign_id": self.campaign_id,
            "system": self.system,
            "opponent": self.opponent,
            "options": _clean(options_record(self.options)),
            "used": _clean(self.evidence.to_dict()),
            "win": _clean(v.win.to_dict()),
            "win_by_policy": frame(v.win_by_policy),
            "bradley_terry": v.bradley_terry.to_dict() if v.bradley_terry else None,
            "criteria": frame(v.criteria),
            "metric_table": frame(v.metric_table),
            "agreement": frame(g.table),
            "leave_one_out": frame(g.leave_one_out),
            "cohen": frame(g.cohen),
            "fleiss": _clean(g.fleiss.to_dict()),
            "annotators": frame(b.annotators),
            "position": frame(b.position),
            "length": _clean(b.length.to_dict()),
            "speed": frame(b.speed),
            "correlations": frame(m.correlations),
            "preference_correlations": frame(m.preference_correlations),
            "pairwise_accuracy": frame(m.pairwise_accuracy),
            "power": _clean(self.power.to_dict()),
            "agreement_plan": _clean(g.plan.to_dict()) if g.plan else None,
            "raw_agreement": _clean(g.raw.to_dict()) if g.raw else None,
            "environment": self.environment,
        }
        return _clean(out)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The result's tables by the name of their JSON key (the export writes each as `<name>.csv`)."""
        v, g, m, b = self.verdict, self.agreement, self.versus_metrics, self.biases
        return {
            "agreement": g.table,
            "correlations": m.correlations,
            "preference_correlations": m.preference_correlations,
            "pairwise_accuracy": m.pairwise_accuracy,
            "annotators": b.annotators,
            "win_by_policy": v.win_by_policy,
            "criteria": v.criteria,
            "metric_table": v.metric_table,
            "cohen": g.cohen,
            "position": b.position,
            "speed": b.speed,
            "leave_one_out": g.leave_one_out,
        }

    def statistics_table(self) -> pd.DataFrame:
        """Every headline statistic as one long table: statistic, target, level, method, value, ci_low,
        ci_high, n, seed, note (the CSV export)."""
        rows = []
        w = self.verdict.win
        rows.append(
            (
                "win_rate",
                f"{w.system} vs {w.opponent}",
                f"tie policy {w.tie_policy}",
                "Wilson score, the item as the unit (item-mean share)",
                w.item_share,
                w.item_low,
                w.item_high,
                w.n_items_used,
                None,
                w.reason,
            )
        )
        rows.append(
            (
                "win_rate",
                f"{w.system} vs {w.opponent}",
                f"tie policy {w.tie_policy}",
                "bootstrap over items",
                w.win_rate,
                w.boot_low,
                w.boot_high,
                w.n_used,
                w.seed,
                w.reason or w.boot_note,
            )
        )
        rows.append(
            (
                "win_rate",
                f"{w.system} vs {w.opponent}",
                f"tie policy {w.tie_policy}",
                "Wilson score, judgments as the unit",
                w.win_rate,
                w.wilson_low,
                w.wilson_high,
                w.n_used,
                None,
                None,
            )
        )
        rows.append(
            (
                "sign_test_p",
                f"{w.system} vs {w.opponent}",
                "ties excluded",
                "exact binomial",
                w.sign_test_p,
                None,
                None,
                w.wins + w.losses,
                None,
                None,
            )
        )
        for r in self.verdict.criteria.itertuples():
            rows.append(
                (
                    "mean_score_difference",
                    r.criterion,
                    f"{self.system} - {self.opponent}",
                    "bootstrap over items",
                    r.mean_diff,
                    r.ci_low,
                    r.ci_high,
                    r.n,
                    self.options.seed,
                    r.reason,
                )
            )
        for r in self.verdict.metric_table.itertuples():
            rows.append(
                (
                    "metric_difference",
                    r.metric,
                    f"{self.system} - {self.opponent}",
                    "bootstrap over items",
                    r.delta,
                    r.ci_low,
                    r.ci_high,
                    r.n_items,
                    self.options.seed,
                    getattr(r, "reason", None),
                )
            )
        for r in self.agreement.table.itertuples():
            rows.append(
                (
                    "krippendorff_alpha",
                    r.target,
                    r.level,
                    "bootstrap over items",
                    r.alpha,
                    r.ci_low,
                    r.ci_high,
                    r.n_units,
                    r.seed,
                    r.reason,
                )
            )
        raw = self.agreement.raw
        if raw is not None and raw.share is not None:
            rows.append(
                (
                    "raw_agreement",
                    "preference (ties as a category)",
                    "pairs of judgments on one item",
                    raw.method,
                    raw.share,
                    None,
                    None,
                    raw.n_pairs,
                    None,
                    f"{raw.n_items} items",
                )
            )
        rows.append(
            (
                "fleiss_kappa",
                "preference",
                "nominal",
                self.agreement.fleiss.method,
                self.agreement.fleiss.kappa,
                None,
                None,
                self.agreement.fleiss.n_items,
                None,
                self.agreement.fleiss.reason,
            )
        )
        correlations = (
            (self.versus_metrics.correlations, lambda r: f"{r.metric} ~ {r.human}"),
            (self.versus_metrics.preference_correlations, lambda r: f"{r.metric} delta ~ preference"),
        )
        for frame, target in correlations:
            for r in frame.itertuples():
                rows.append(
                    (
                        f"correlation_{r.method}",
                        target(r),
                        r.level,
                        r.ci_method,
                        r.coefficient,
                        r.ci_low,
                        r.ci_high,
                        r.n,
                        r.seed,
                        r.reason,
                    )
                )
        for r in self.versus_metrics.pairwise_accuracy.itertuples():
            rows.append(
                (
                    "pairwise_accuracy",
                    r.metric,
                    "items with a human majority",
                    "Wilson score",
                    r.accuracy,
                    r.ci_low,
                    r.ci_high,
                    r.n,
                    None,
                    r.reason,
                )
            )
        length = self.biases.length
        rows.append(
            (
                "length_bias_longer_wins",
                "decisive judgments",
                "unequal lengths",
                "exact binomial p",
                length.share,
                None,
                None,
                length.n,
                None,
                length.reason,
            )
        )
        overall = self.biases.position[self.biases.position["annotator_id"] == "all"].iloc[0]
        rows.append(
            (
                "position_bias_left_share",
                "all annotators",
                "left/right choices",
                "exact binomial p",
                overall["left_share"],
                None,
                None,
                overall["n"],
                None,
                f"p = {overall['p_value']:.3g}",
            )
        )
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
