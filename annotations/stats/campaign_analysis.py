"""The result of `analyze`, for the results page, the export and `python -m annotations stats`: every statistic
of one campaign as result objects and tables, the options and exclusions behind them, and two ways to write it
down (a JSON-ready dict, and one long table of every headline statistic for the CSV export).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from annotations.stats.agreement import FleissResult, RawAgreement
from annotations.stats.power import AgreementPlan, MoreJudgments
from annotations.stats.preference import BradleyTerryResult, WinRateResult
from annotations.stats.quality import LengthBiasResult

if TYPE_CHECKING:
    from annotations.stats.analysis import AnalysisOptions


@dataclass
class CampaignAnalysis:
    """The result of `analyze`; DataFrames for tables, result objects for single statistics."""

    campaign_id: str
    system: str  # the system whose win rate is reported (system_b, e.g. finetuned)
    opponent: str  # system_a, e.g. base
    options: AnalysisOptions
    used: dict  # what each statistic used: counts and exclusions
    win: WinRateResult
    win_by_policy: pd.DataFrame  # the win rate under each tie policy, for comparison
    bradley_terry: BradleyTerryResult | None
    criteria: pd.DataFrame
    metric_table: pd.DataFrame  # automatic metrics on the campaign's items: means, paired delta, interval
    agreement: pd.DataFrame  # target, level, alpha, ci_low, ci_high, n_units, n_annotators, reason, ...
    leave_one_out: pd.DataFrame  # target, level, annotator_id, alpha_without
    cohen: pd.DataFrame
    fleiss: FleissResult
    annotators: pd.DataFrame
    position: pd.DataFrame
    length: LengthBiasResult
    speed: pd.DataFrame
    correlations: pd.DataFrame
    preference_correlations: pd.DataFrame
    pairwise_accuracy: pd.DataFrame
    power: MoreJudgments
    environment: dict
    seconds: float = 0.0
    used_judgment_ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))  # not exported
    # (item_id, system) rows: "metric:<m>" and "human:<criterion>" means behind the correlations (not exported)
    human_metric_means: pd.DataFrame = field(default_factory=pd.DataFrame)
    agreement_plan: AgreementPlan | None = None  # second judgments needed for alpha intervals of given widths
    raw_agreement: RawAgreement | None = (
        None  # share of agreeing pairs of preference judgments on the same item
    )

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
            "agreement_plan": _clean(self.agreement_plan.to_dict()) if self.agreement_plan else None,
            "raw_agreement": _clean(self.raw_agreement.to_dict()) if self.raw_agreement else None,
            "environment": self.environment,
        }
        return _clean(out)

    def statistics_table(self) -> pd.DataFrame:
        """Every headline statistic as one long table: statistic, target, level, method, value, ci_low, ci_high,
        n, seed, note (the CSV export)."""
        rows = []
        w = self.win
        rows.append(("win_rate", f"{w.system} vs {w.opponent}", f"tie policy {w.tie_policy}",
                     "Wilson score, the item as the unit (item-mean share)", w.item_share, w.item_low, w.item_high,
                     w.n_items_used, None, w.reason))  # fmt: skip
        rows.append(("win_rate", f"{w.system} vs {w.opponent}", f"tie policy {w.tie_policy}", "bootstrap over items",
                     w.win_rate, w.boot_low, w.boot_high, w.n_used, w.seed, w.reason or w.boot_note))  # fmt: skip
        rows.append(("win_rate", f"{w.system} vs {w.opponent}", f"tie policy {w.tie_policy}", "Wilson score, judgments as the unit",
                     w.win_rate, w.wilson_low, w.wilson_high, w.n_used, None, None))  # fmt: skip
        rows.append(("sign_test_p", f"{w.system} vs {w.opponent}", "ties excluded", "exact binomial",
                     w.sign_test_p, None, None, w.wins + w.losses, None, None))  # fmt: skip
        for r in self.criteria.itertuples():
            rows.append(("mean_score_difference", r.criterion, f"{self.system} - {self.opponent}",
                         "bootstrap over items", r.mean_diff, r.ci_low, r.ci_high, r.n, self.options.seed, r.reason))  # fmt: skip
        for r in self.metric_table.itertuples():
            rows.append(("metric_difference", r.metric, f"{self.system} - {self.opponent}", "bootstrap over items",
                         r.delta, r.ci_low, r.ci_high, r.n_items, self.options.seed, getattr(r, "reason", None)))  # fmt: skip
        for r in self.agreement.itertuples():
            rows.append(("krippendorff_alpha", r.target, r.level, "bootstrap over items", r.alpha, r.ci_low,
                         r.ci_high, r.n_units, r.seed, r.reason))  # fmt: skip
        raw = self.raw_agreement
        if raw is not None and raw.share is not None:
            rows.append(("raw_agreement", "preference (ties as a category)", "pairs of judgments on one item",
                         raw.method, raw.share, None, None, raw.n_pairs, None, f"{raw.n_items} items"))  # fmt: skip
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
