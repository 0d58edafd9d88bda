"""Can each annotator's judgments be trusted: position bias (left/right), length bias, speed, and the
annotator table that flags who to look at (with gold accuracy, agreement with the majority and
self-consistency from `annotations.stats.agreement`). For the researcher deciding whom to exclude.

Position bias is the one check about left/right (by definition); everything else uses the de-randomized
winner. Pure functions over the judgments frame (docs/frames.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from annotations.errors import OptionError
from annotations.fields import bounded, check_limits


def _two_sided_binomial_half(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Exact two-sided binomial test against 1/2 for many (k, n) at once: the distribution is symmetric, so
    the p-value is twice the smaller tail, capped at 1 (what scipy.stats.binomtest gives for p = 1/2)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        p = np.minimum(1.0, 2 * sps.binom.cdf(np.minimum(k, n - k), n, 0.5))
    return np.where(n > 0, p, np.nan)


def position_bias(judgments: pd.DataFrame) -> pd.DataFrame:
    """Share of "left" among left/right choices, per annotator and overall ("all"), with an exact two-sided
    binomial test against 1/2 (ties excluded). With sides randomized, an unbiased annotator is near 1/2.

    Columns: annotator_id, n, left, left_share, p_value."""
    columns = judgments[["choice", "annotator_id"]]
    decisive = columns[columns["choice"].isin(["left", "right"])]
    is_left = (decisive["choice"] == "left").astype(int)
    per = is_left.groupby(decisive["annotator_id"].astype(str)).agg(["size", "sum"])
    per.loc["all"] = [len(is_left), int(is_left.sum())]
    out = per.rename(columns={"size": "n", "sum": "left"}).rename_axis("annotator_id").reset_index()
    out["left_share"] = np.where(out["n"] > 0, out["left"] / out["n"].clip(lower=1), np.nan)
    out["p_value"] = _two_sided_binomial_half(out["left"].to_numpy(), out["n"].to_numpy())
    return out


@dataclass
class LengthBiasResult:
    """Does the longer output win more often than chance? (decisive judgments with unequal lengths)."""

    n: int
    longer_won: int
    share: float | None
    p_value: float | None
    mean_length_winner: float | None
    mean_length_loser: float | None
    reason: str | None = None
    method: str = "share of decisive judgments won by the longer output; exact two-sided binomial test vs 1/2"

    def to_dict(self) -> dict:
        return asdict(self)


def length_bias(judgments: pd.DataFrame) -> LengthBiasResult:
    """Length bias: among judgments with a winner and outputs of different length, how often the longer
    won."""
    columns = judgments[["choice", "left_length", "right_length"]]
    decisive = columns[columns["choice"].isin(["left", "right"])]
    left_len = decisive["left_length"].to_numpy(dtype=float)
    right_len = decisive["right_length"].to_numpy(dtype=float)
    unequal = np.isfinite(left_len) & np.isfinite(right_len) & (left_len != right_len)
    left_won = (decisive["choice"] == "left").to_numpy()[unequal]
    left_len, right_len = left_len[unequal], right_len[unequal]
    n = int(unequal.sum())
    if n == 0:
        return LengthBiasResult(
            0, 0, None, None, None, None, "no decisive judgment of outputs of different length"
        )
    longer_won = int((left_won == (left_len > right_len)).sum())
    winner_len = np.where(left_won, left_len, right_len)
    loser_len = np.where(left_won, right_len, left_len)
    return LengthBiasResult(
        n,
        longer_won,
        longer_won / n,
        float(sps.binomtest(longer_won, n, 0.5).pvalue),
        float(winner_len.mean()),
        float(loser_len.mean()),
    )


def too_fast(
    judgments: pd.DataFrame, min_seconds: float = 3.0, max_words_per_second: float = 20.0
) -> pd.Series:
    """True for judgments faster than `min_seconds` or than reading both outputs at `max_words_per_second`
    (skimming runs at about 10 words/s; Rayner et al. 2016, "So much to read, so little time")."""
    words = judgments["left_length"].fillna(0).astype(float) + judgments["right_length"].fillna(0).astype(
        float
    )
    duration = judgments["duration_s"].astype(float)
    return (duration < min_seconds) | (duration < words / max_words_per_second)


def speed(
    judgments: pd.DataFrame, min_seconds: float = 3.0, max_words_per_second: float = 20.0
) -> pd.DataFrame:
    """Per annotator and overall ("all"): n, median seconds per judgment, share of implausibly fast ones."""
    fast = too_fast(judgments, min_seconds, max_words_per_second)
    frame = pd.DataFrame(
        {"annotator_id": judgments["annotator_id"].astype(str), "s": judgments["duration_s"], "fast": fast}
    )
    per = frame.groupby("annotator_id").agg(
        n=("s", "size"), median_s=("s", "median"), fast_share=("fast", "mean")
    )
    per.loc["all"] = [len(frame), frame["s"].median(), frame["fast"].mean()]
    per["n"] = per["n"].astype(int)
    return per.reset_index()


@dataclass
class QualityThresholds:
    """When an annotator is flagged (each check needs a minimum of evidence before it may flag). Checks
    itself: a value out of its range is an OptionError (a ValueError) naming the field and the range."""

    position_p: float = bounded(
        0.01,
        help="flag left/right bias when the binomial test's p is below this ...",
        label="Position p",
        above=0,
        max=1,
    )
    position_share: float = bounded(
        0.75,
        help="... and the left share is above this (or below 1 - this)",
        label="Position share",
        min=0.5,
        max=1,
    )
    fast_share: float = bounded(
        0.5, help="flag more than this share of implausibly fast judgments", label="Fast share", min=0, max=1
    )
    gold_accuracy: float = bounded(
        0.5,
        help="flag gold accuracy below this, with at least min_gold gold items",
        label="Gold accuracy",
        min=0,
        max=1,
    )
    min_gold: int = bounded(
        3, help="gold items needed before gold accuracy may flag", label="Gold items", min=1
    )
    self_consistency: float = bounded(
        0.4,
        help="flag consistency on flipped repeats below this, with at least min_repeats",
        label="Self-consistency",
        min=0,
        max=1,
    )
    min_repeats: int = bounded(
        10, help="flipped repeats needed before self-consistency may flag", label="Repeats", min=1
    )
    min_seconds: float = bounded(
        3.0,
        help="a judgment faster than this many seconds is implausibly fast",
        label="Fastest seconds",
        min=0,
    )
    max_words_per_second: float = bounded(
        20.0,
        help="a judgment reading faster than this is implausibly fast",
        label="Words per second",
        above=0,
    )

    def __post_init__(self) -> None:
        check_limits(self, OptionError)


def annotator_table(
    judgments: pd.DataFrame, majority: pd.DataFrame, gold: pd.DataFrame, consistency: pd.DataFrame,
    thresholds: QualityThresholds | None = None,
) -> pd.DataFrame:  # fmt: skip
    """One row per annotator: judgments, left share and its p-value, median seconds, share too fast, gold
    accuracy, agreement with the majority, self-consistency, and the flags that follow from `thresholds`."""
    th = thresholds or QualityThresholds()
    position = position_bias(judgments).set_index("annotator_id")
    pace = speed(judgments, th.min_seconds, th.max_words_per_second).set_index("annotator_id")
    table = pace.drop(index="all").rename(columns={"n": "n_judgments"})
    table["left_share"] = position["left_share"].reindex(table.index)
    table["left_p"] = position["p_value"].reindex(table.index)
    for frame, cols in ((gold, ["gold_n", "gold_accuracy"]), (consistency, ["repeat_n", "self_consistency"])):
        table = table.join(frame.set_index("annotator_id")[cols])
    table = table.join(
        majority.set_index("annotator_id").rename(
            columns={"n": "majority_n", "agreement": "majority_agreement"}
        )
    )
    flags = []
    for _, row in table.iterrows():
        f = []
        share = row["left_share"]
        if (
            pd.notna(row["left_p"])
            and row["left_p"] < th.position_p
            and abs(share - 0.5) > th.position_share - 0.5
        ):
            f.append(f"position bias ({share:.0%} left)")
        if row["fast_share"] > th.fast_share:
            f.append(f"too fast ({row['fast_share']:.0%} of judgments)")
        if (
            row["gold_n"] >= th.min_gold
            and row["gold_accuracy"] is not None
            and row["gold_accuracy"] < th.gold_accuracy
        ):
            f.append(f"fails gold ({row['gold_accuracy']:.0%})")
        consistent = row["self_consistency"]
        if row["repeat_n"] >= th.min_repeats and consistent is not None and consistent < th.self_consistency:
            f.append(f"inconsistent on repeats ({consistent:.0%})")
        flags.append("; ".join(f))
    table["flags"] = flags
    table["flagged"] = table["flags"] != ""
    return table.reset_index().rename(columns={"index": "annotator_id"})
