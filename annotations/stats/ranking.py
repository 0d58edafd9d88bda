"""The ranking of three or more systems judged in pairs (e.g. base, SFT and DPO): Bradley-Terry strengths
with item-bootstrap intervals, the observed win rate of every pair with its interval, and the answer to "is
system X better than system Y" (e.g. "did preference tuning help beyond SFT?"). For the results page of a
campaign over several systems.

Ties and both-bad count half a win each way (the simple tie model; Davidson's 1970 tie parameter is not
fitted: with ties as half wins the strengths are those of the plain Bradley-Terry MLE on the halved counts).
The strengths come from `annotations.stats.preference.bradley_terry` (MM algorithm, Hunter 2004) and every
interval from the one resampling engine (`ft_core.resampling`, resampling items), so the same judgments and
seed give the same figures wherever they are computed. Pure functions over the judgments frame
(docs/frames.md).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pandas as pd

from annotations.errors import AnnotationError
from annotations.stats import preference
from annotations.stats.intervals import percentile_interval

VERDICTS = ("better", "worse", "not shown")


@dataclass(frozen=True)
class Comparison:
    """Whether `system` is better than `opponent`: the Bradley-Terry strength difference with its interval,
    the model's P(system beats opponent), and the observed head-to-head win rate (ties half) with its
    interval."""

    system: str
    opponent: str
    strength_difference: float  # log-strength of system - opponent
    ci_low: float | None
    ci_high: float | None
    p_beats: float  # Bradley-Terry probability that system beats opponent
    win_rate: float | None  # observed, head to head, ties half
    win_low: float | None  # Wilson interval over items (annotations.stats.preference.win_rate)
    win_high: float | None
    n_judgments: int  # judgments of this pair
    verdict: str  # better | worse | not shown
    confidence: float

    @property
    def sentence(self) -> str:
        """The answer in one sentence, for the results page."""
        level = f"{self.confidence:.0%}"
        if self.ci_low is None or self.ci_high is None:
            interval = "no interval (too few judgments to resample)"
        else:
            interval = (
                f"{level} interval of the strength difference {self.ci_low:+.2f} to {self.ci_high:+.2f}"
            )
        observed = (
            f"; head to head it won {_share(self.win_rate)} of {self.n_judgments} judgments "
            f"({_share(self.win_low)}–{_share(self.win_high)}, ties half)"
            if self.win_rate is not None
            else "; the two were never compared head to head"
        )
        answer = {
            "better": f"Yes: {self.system} is better than {self.opponent}",
            "worse": f"No: {self.system} is worse than {self.opponent}",
            "not shown": f"Not shown: {self.system} is not distinguishable from {self.opponent}",
        }[self.verdict]
        return (
            f"{answer} (Bradley-Terry P({self.system} beats {self.opponent}) = {self.p_beats:.2f}, "
            f"{interval}){observed}."
        )


@dataclass(frozen=True)
class Ranking:
    """Every system's strength and every pair's win rate in one campaign's judgments."""

    bradley_terry: preference.BradleyTerryResult  # .table: system, strength, ci_low, ci_high, ...
    win_rates: pd.DataFrame  # one row per ordered pair: system, opponent, win_rate, ci_low, ci_high, n
    systems: list[str]  # strongest first
    confidence: float

    @property
    def table(self) -> pd.DataFrame:
        """The Bradley-Terry table, strongest first."""
        return self.bradley_terry.table

    def win_rate_matrix(self) -> pd.DataFrame:
        """Observed win rate of the row's system over the column's (ties half), strongest first; NaN on the
        diagonal and where a pair was never compared."""
        matrix = self.win_rates.pivot(index="system", columns="opponent", values="win_rate")
        return matrix.reindex(index=self.systems, columns=self.systems).astype(float)

    def compare(self, system: str, opponent: str) -> Comparison:
        """Is `system` better than `opponent`? Better (worse) when the whole interval of the strength
        difference lies above (below) zero."""
        for name in (system, opponent):
            if name not in self.systems:
                raise AnnotationError(
                    f"system {name!r} was not judged; pick one of {', '.join(self.systems)}"
                )
        if system == opponent:
            raise AnnotationError(f"compare two different systems, not {system!r} with itself")
        strength = self.table.set_index("system")["strength"]
        difference = float(strength[system] - strength[opponent])
        low = high = None
        boot = self.bradley_terry.boot
        if boot is not None and len(boot):
            low, high = percentile_interval((boot[system] - boot[opponent]).to_numpy(), self.confidence)
        verdict = "not shown"
        if low is not None and high is not None:
            verdict = "better" if low > 0 else "worse" if high < 0 else "not shown"
        head_to_head = self.win_rates[
            (self.win_rates.system == system) & (self.win_rates.opponent == opponent)
        ]
        row = head_to_head.iloc[0] if len(head_to_head) else None
        return Comparison(
            system=system,
            opponent=opponent,
            strength_difference=difference,
            ci_low=low,
            ci_high=high,
            p_beats=1 / (1 + math.exp(-difference)),
            win_rate=_number(row["win_rate"]) if row is not None else None,
            win_low=_number(row["ci_low"]) if row is not None else None,
            win_high=_number(row["ci_high"]) if row is not None else None,
            n_judgments=int(row["n"]) if row is not None else 0,
            verdict=verdict,
            confidence=self.confidence,
        )


def rank_systems(
    judgments: pd.DataFrame, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95
) -> Ranking:
    """Rank every system shown in the judgments (columns item_id, shown_left, shown_right, winner; gold and
    repeat judgments should be left out by the caller). Raises AnnotationError with fewer than two systems or
    when the systems do not form one connected set of comparisons (no common scale then).

    References: R. A. Bradley & M. E. Terry (1952); D. R. Hunter (2004), "MM algorithms for generalized
    Bradley-Terry models"; the item-clustered bootstrap of Field & Welsh (2007)."""
    if judgments.empty:
        raise AnnotationError("there are no judgments yet: nothing to rank")
    left, right = judgments["shown_left"].astype(str), judgments["shown_right"].astype(str)
    systems = sorted(set(left) | set(right))
    if len(systems) < 2:
        raise AnnotationError("fewer than two systems were judged: nothing to rank")
    _check_connected(systems, zip(left, right))
    bt = preference.bradley_terry(judgments, systems[0], n_boot=n_boot, seed=seed, confidence=confidence)
    rows = []
    for a, b in itertools.combinations(systems, 2):
        for system, opponent in ((a, b), (b, a)):
            result = preference.win_rate(
                judgments, system, opponent, tie_policy="half", n_boot=0, seed=seed, confidence=confidence
            )
            if result.n_judgments == 0:
                continue
            rows.append(
                {
                    "system": system,
                    "opponent": opponent,
                    "win_rate": result.win_rate,
                    "ci_low": result.item_low,
                    "ci_high": result.item_high,
                    "n": result.n_judgments,
                }
            )
    win_rates = pd.DataFrame(rows, columns=["system", "opponent", "win_rate", "ci_low", "ci_high", "n"])
    return Ranking(bt, win_rates, list(bt.table["system"]), confidence)


def _check_connected(systems: list[str], pairs) -> None:
    """Bradley-Terry strengths share one scale only when every system is linked to every other through
    comparisons (Ford 1957's condition, without which the MLE is not unique)."""
    group = {s: s for s in systems}

    def root(s: str) -> str:
        while group[s] != s:
            s = group[s]
        return s

    for a, b in pairs:
        group[root(a)] = root(b)
    parts: dict[str, list[str]] = {}
    for s in systems:
        parts.setdefault(root(s), []).append(s)
    if len(parts) > 1:
        listed = "; ".join(", ".join(p) for p in parts.values())
        raise AnnotationError(
            f"the systems fall into separate groups never compared with each other: {listed}"
        )


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _share(value: float | None) -> str:
    return "?" if value is None else f"{value:.0%}"
