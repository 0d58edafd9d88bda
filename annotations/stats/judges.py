"""What an LLM judge is worth, measured against the annotators: for the judge card on Results.

Pure functions over two frames, no I/O: the campaign's human `judgments` (docs/frames.md) and one judge's
verdicts (`annotations.campaigns.judge_verdicts_frame`: item_id, winner, consistent, p_system_b, length_a,
length_b). The unit is the item: the human majority of an item (votes for each system; ties and "both bad" are no
vote for either, a draw between the systems is a tie) against the judge's verdict (a system when its two orders
agree, a tie when they disagree, as MT-bench counts it; Zheng et al. 2023).

- agreement: accuracy and Cohen's kappa (Cohen 1960) over the three labels, each with a percentile interval from
  the one item bootstrap (`ft_core.resampling`);
- order flip rate: the share of pairs whose two orders name different winners (position bias);
- preference for the longer output: among the pairs the judge decided whose outputs differ in length, the share
  where it chose the longer one (½: no preference), beside the same share for the human majority;
- calibration: the judge's probability that system_b is better against the human share of the item (votes for
  system_b, a tie ½), in equal-width bins; the expected calibration error (ECE, Naeini et al. 2015; Guo et al.
  2017) is the items-weighted mean gap between the two per bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from annotations.errors import AnnotationError
from annotations.stats.intervals import degenerate, percentile_interval
from ft_core.resampling import bootstrap_totals

TIE = "tie"


@dataclass(frozen=True)
class Agreement:
    """Accuracy and Cohen's kappa of a judge against the human majority, with bootstrap intervals over items."""

    n_items: int  # items with both a human majority and a judge verdict
    accuracy: float | None
    accuracy_ci: tuple[float | None, float | None]
    kappa: float | None  # None when undefined (both raters always give the same one label)
    kappa_ci: tuple[float | None, float | None]


@dataclass(frozen=True)
class Calibration:
    """The reliability curve (one row per non-empty bin: p_mean, human_share, n) and its ECE."""

    bins: pd.DataFrame
    ece: float | None
    n_items: int


@dataclass(frozen=True)
class JudgeCard:
    """Every number of one judge's card, and the sentence that says whether it tracks the annotators."""

    judge: str
    agreement: Agreement
    n_pairs: int  # pairs the judge gave a verdict on (both orders labelled)
    flip_rate: float | None  # share of those whose two orders disagree
    longer_share: (
        float | None
    )  # judge: share of its decided pairs (lengths differing) won by the longer output
    n_length_pairs: int
    human_longer_share: float | None  # the human majority's same share, for comparison
    calibration: Calibration
    weak: bool
    sentence: str


def human_majority(judgments: pd.DataFrame) -> pd.DataFrame:
    """One row per item: `human` (the majority's system, or `tie`) and `human_share` (votes for system_b, ties
    and "both bad" ½, over the raters). Gold items and repeated assignments are left out."""
    if judgments.empty:
        return pd.DataFrame(columns=["item_id", "human", "human_share"])
    counted = judgments[~judgments["is_gold"].astype(bool) & ~judgments["is_repeat"].astype(bool)]
    system_a, system_b = str(judgments["system_a"].iloc[0]), str(judgments["system_b"].iloc[0])
    votes = (
        counted.assign(
            for_a=(counted["winner"] == system_a).astype(float),
            for_b=(counted["winner"] == system_b).astype(float),
        )
        .groupby("item_id", sort=True)
        .agg(for_a=("for_a", "sum"), for_b=("for_b", "sum"), raters=("winner", "size"))
        .reset_index()
    )
    human = np.where(
        votes["for_a"] > votes["for_b"], system_a, np.where(votes["for_b"] > votes["for_a"], system_b, TIE)
    )
    share = (votes["for_b"] + 0.5 * (votes["raters"] - votes["for_a"] - votes["for_b"])) / votes["raters"]
    return pd.DataFrame({"item_id": votes["item_id"], "human": human, "human_share": share})


def _kappa_and_accuracy(tables: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cohen's kappa and accuracy of each confusion table (..., L, L) of counts; kappa NaN where undefined."""
    n = tables.sum(axis=(-2, -1))
    observed = np.trace(tables, axis1=-2, axis2=-1) / n
    expected = (tables.sum(axis=-1) * tables.sum(axis=-2)).sum(axis=-1) / n**2
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(np.isclose(expected, 1.0), np.nan, (observed - expected) / (1 - expected))
    return kappa, observed


def agreement(
    human: pd.Series, judge: pd.Series, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95
) -> Agreement:
    """Accuracy and Cohen's kappa of two label series aligned by item (NaN/None rows dropped); the intervals
    resample items (one bootstrap engine)."""
    pairs = pd.DataFrame({"human": human.values, "judge": judge.values}).dropna()
    if pairs.empty:
        return Agreement(0, None, (None, None), None, (None, None))
    labels = sorted(set(pairs["human"]) | set(pairs["judge"]))
    index = {label: i for i, label in enumerate(labels)}
    size = len(labels)
    cells = np.zeros((len(pairs), size * size))  # one-hot per item: its cell of the confusion table
    cells[
        np.arange(len(pairs)), [index[h] * size + index[j] for h, j in zip(pairs["human"], pairs["judge"])]
    ] = 1
    kappa, accuracy = _kappa_and_accuracy(cells.sum(axis=0).reshape(size, size))
    resampled = bootstrap_totals(cells, n_boot, seed).reshape(n_boot, size, size)
    kappas, accuracies = _kappa_and_accuracy(resampled)
    return Agreement(
        n_items=len(pairs),
        accuracy=float(accuracy),
        accuracy_ci=percentile_interval(accuracies, confidence),
        kappa=None if np.isnan(kappa) else float(kappa),
        kappa_ci=percentile_interval(kappas, confidence),
    )


def flip_rate(verdicts: pd.DataFrame) -> tuple[float | None, int]:
    """The share of pairs whose two orders name different winners, over the pairs labelled in both orders."""
    labelled = verdicts["consistent"].dropna()
    if labelled.empty:
        return None, 0
    return float(1 - labelled.astype(bool).mean()), len(labelled)


def longer_share(winner: pd.Series, length_a: pd.Series, length_b: pd.Series, system_a: str, system_b: str):
    """(share, n): among decided pairs (winner system_a or system_b) whose outputs differ in length, the share
    won by the longer output; None when there is none."""
    frame = pd.DataFrame(
        {"winner": winner.values, "a": length_a.astype(float).values, "b": length_b.astype(float).values}
    )
    frame = frame[
        frame["winner"].isin([system_a, system_b])
        & frame["a"].ne(frame["b"])
        & frame[["a", "b"]].notna().all(axis=1)
    ]
    if frame.empty:
        return None, 0
    longer = np.where(frame["a"] > frame["b"], system_a, system_b)
    return float((frame["winner"].values == longer).mean()), len(frame)


def calibration(p: pd.Series, share: pd.Series, n_bins: int = 10) -> Calibration:
    """Reliability of probabilities `p` against observed shares in [0, 1] (aligned by position; NaN dropped):
    equal-width bins over [0, 1], ECE = sum over bins of n_bin / n * |mean p - mean share|."""
    frame = pd.DataFrame({"p": np.asarray(p, dtype=float), "share": np.asarray(share, dtype=float)}).dropna()
    if frame.empty:
        return Calibration(pd.DataFrame(columns=["p_mean", "human_share", "n"]), None, 0)
    if not frame["p"].between(0, 1).all():
        raise AnnotationError("a judge's probabilities must lie between 0 and 1")
    bin_of = np.minimum((frame["p"] * n_bins).astype(int), n_bins - 1)
    bins = (
        frame.groupby(bin_of)
        .agg(p_mean=("p", "mean"), human_share=("share", "mean"), n=("p", "size"))
        .reset_index(drop=True)
    )
    ece = float((bins["n"] / len(frame) * (bins["p_mean"] - bins["human_share"]).abs()).sum())
    return Calibration(bins, ece, len(frame))


def judge_sentence(judge: str, a: Agreement, flips: float | None) -> tuple[bool, str]:
    """(weak, a plain sentence): a judge is weak when its kappa interval includes 0 (or kappa is undefined)."""
    if a.n_items < 2:
        return True, (f"Judge {judge} and the annotators share {a.n_items} item(s): too few to say whether it "
                      "tracks them.")  # fmt: skip
    low, high = a.kappa_ci
    flip_note = (
        f" It changes its verdict when the two outputs swap places in {flips:.0%} of pairs."
        if flips is not None and flips >= 0.25
        else ""
    )
    if a.kappa is None or low is None or low <= 0:
        kappa = "undefined" if a.kappa is None else f"{a.kappa:.2f}"
        return True, (f"This judge does not track your annotators: its agreement beyond chance (κ = {kappa}) "
                      f"could be zero. Do not use its verdicts in place of human judgments.{flip_note}")  # fmt: skip
    interval = "" if degenerate(low, high) else f" ({low:.2f} – {high:.2f})"
    return False, (f"This judge tracks your annotators: it agrees with their majority on {a.accuracy:.0%} of "
                   f"{a.n_items} items, κ = {a.kappa:.2f}{interval}.{flip_note}")  # fmt: skip


def judge_card(
    judge: str,
    judgments: pd.DataFrame,
    verdicts: pd.DataFrame,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    n_bins: int = 10,
) -> JudgeCard:
    """One judge's card from the campaign's human judgments and the judge's verdicts (one row per item)."""
    if judgments.empty:
        raise AnnotationError("no human judgments yet: a judge is measured against the annotators")
    system_a, system_b = str(judgments["system_a"].iloc[0]), str(judgments["system_b"].iloc[0])
    majority = human_majority(judgments)
    both = majority.merge(verdicts, on="item_id", how="inner")
    agreed = agreement(both["human"], both["winner"], n_boot=n_boot, seed=seed, confidence=confidence)
    flips, n_pairs = flip_rate(verdicts)
    judge_longer, n_length = longer_share(
        verdicts["winner"], verdicts["length_a"], verdicts["length_b"], system_a, system_b
    )
    human_longer, _ = longer_share(both["human"], both["length_a"], both["length_b"], system_a, system_b)
    weak, sentence = judge_sentence(judge, agreed, flips)
    return JudgeCard(
        judge=judge,
        agreement=agreed,
        n_pairs=n_pairs,
        flip_rate=flips,
        longer_share=judge_longer,
        n_length_pairs=n_length,
        human_longer_share=human_longer,
        calibration=calibration(both["p_system_b"], both["human_share"], n_bins=n_bins),
        weak=weak,
        sentence=sentence,
    )
