"""What an LLM judge is worth, measured against the annotators: for the judge card on Results.

Pure functions over two frames, no I/O: the campaign's human `judgments` (docs/frames.md) and one judge's
verdicts (`annotations.campaigns.judge_verdicts_frame`: item_id, winner, consistent, p_system_b, length_a,
length_b). The unit is the item: the human majority of an item (votes for each system; ties and "both bad" are
no vote for either, a draw between the systems is a tie) against the judge's verdict (a system when its two
orders agree, a tie when they disagree, as MT-bench counts it; Zheng et al. 2023).

- agreement: accuracy and Cohen's kappa (Cohen 1960) over the three labels, each with a percentile interval
  from
  the one item bootstrap (`ft_core.resampling`);
- order flip rate: the share of pairs whose two orders name different winners (position bias);
- preference for the longer output: among the pairs the judge decided whose outputs differ in length, the
  share
  where it chose the longer one (½: no preference), beside the same share for the human majority;
- calibration: the judge's probability that system_b is better against the human share of the item (votes for
  system_b, a tie ½), in equal-width bins; the expected calibration error (ECE, Naeini et al. 2015; Guo et al.
  2017) is the items-weighted mean gap between the two per bin;
- agreement with each annotator: accuracy and kappa of the judge against one annotator's labels on the items
  both
  judged (annotators with at least `min_items` of them), beside that annotator's own kappa with the other
  annotators (Cohen's kappa per pair, weighted by shared items) as the yardstick;
- Krippendorff's alpha (nominal, Krippendorff 2011) over the three labels with the judge as one more rater,
  next
  to the annotators' own alpha on the same items (`annotations.stats.agreement.krippendorff_alpha`, its item
  bootstrap);
- per criterion: the judge's verdict against the annotators' preference on each criterion (per judgment, the
  system scored higher; the item's majority as above).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from annotations.errors import AnnotationError
from annotations.stats.agreement import AlphaResult, cohen_kappa_pairs, krippendorff_alpha
from annotations.stats.intervals import degenerate, percentile_interval
from ft_core.resampling import bootstrap_totals

TIE = "tie"
JUDGE_RATER = (
    "(judge)"  # the judge's rater id in the alpha frame; annotator ids are pseudonyms like ann-3f2a9c
)
AGREEMENT_COLUMNS = [
    "n_items",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "kappa",
    "kappa_ci_low",
    "kappa_ci_high",
]


@dataclass(frozen=True)
class Agreement:
    """Accuracy and Cohen's kappa of a judge against the human majority, with bootstrap intervals over
    items."""

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
    # one row per annotator with >= min_items items shared with the judge: annotator_id, AGREEMENT_COLUMNS,
    # human_kappa (their kappa with the other annotators), human_n (items behind it)
    per_annotator: pd.DataFrame
    alpha: JudgeAlpha
    # one row per criterion of the campaign's scores: criterion, AGREEMENT_COLUMNS; empty without criteria
    per_criterion: pd.DataFrame


@dataclass(frozen=True)
class JudgeAlpha:
    """Krippendorff's alpha of the annotators alone and with the judge as one more rater, on the judge's
    items."""

    humans: AlphaResult
    with_judge: AlphaResult


def human_majority(judgments: pd.DataFrame) -> pd.DataFrame:
    """One row per item: `human` (the majority's system, or `tie`) and `human_share` (votes for system_b, ties
    and "both bad" ½, over the raters). Gold items and repeated assignments are left out."""
    if judgments.empty:
        return pd.DataFrame(columns=["item_id", "human", "human_share"])
    system_a, system_b = str(judgments["system_a"].iloc[0]), str(judgments["system_b"].iloc[0])
    votes = _votes(_counted(judgments), ["item_id"], system_a, system_b)
    share = (votes["for_b"] + 0.5 * (votes["raters"] - votes["for_a"] - votes["for_b"])) / votes["raters"]
    return pd.DataFrame({"item_id": votes["item_id"], "human": votes["human"], "human_share": share})


def _counted(judgments: pd.DataFrame) -> pd.DataFrame:
    """The judgments every card statistic counts: no gold items, no repeated assignments."""
    return judgments[~judgments["is_gold"].astype(bool) & ~judgments["is_repeat"].astype(bool)]


def _votes(frame: pd.DataFrame, keys: list[str], system_a: str, system_b: str) -> pd.DataFrame:
    """Per `keys` group of `frame` (a `winner` column): votes for each system, raters, and the majority
    `human` (a system, or `tie` on a draw; ties and "both bad" are no vote)."""
    votes = (
        frame.assign(
            for_a=(frame["winner"] == system_a).astype(float),
            for_b=(frame["winner"] == system_b).astype(float),
        )
        .groupby(keys, sort=True)
        .agg(for_a=("for_a", "sum"), for_b=("for_b", "sum"), raters=("winner", "size"))
        .reset_index()
    )
    votes["human"] = np.where(
        votes["for_a"] > votes["for_b"], system_a, np.where(votes["for_b"] > votes["for_a"], system_b, TIE)
    )
    return votes


def annotator_labels(judgments: pd.DataFrame) -> pd.DataFrame:
    """One row per (item, annotator) the cards count: item_id, annotator_id, value (a system, or `tie` for
    a tie and "both bad", the judge's three labels)."""
    counted = _counted(judgments)
    if counted.empty:
        return pd.DataFrame(columns=["item_id", "annotator_id", "value"])
    system_a, system_b = str(judgments["system_a"].iloc[0]), str(judgments["system_b"].iloc[0])
    value = counted["winner"].where(counted["winner"].isin([system_a, system_b]), TIE)
    labels = pd.DataFrame(
        {
            "item_id": counted["item_id"].values,
            "annotator_id": counted["annotator_id"].values,
            "value": value.values,
        }
    )
    return labels.drop_duplicates(["item_id", "annotator_id"], keep="last").reset_index(drop=True)


def _agreement_row(a: Agreement) -> dict:
    return {
        "n_items": a.n_items,
        "accuracy": a.accuracy,
        "accuracy_ci_low": a.accuracy_ci[0],
        "accuracy_ci_high": a.accuracy_ci[1],
        "kappa": a.kappa,
        "kappa_ci_low": a.kappa_ci[0],
        "kappa_ci_high": a.kappa_ci[1],
    }


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


def human_kappa_with_others(labels: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: Cohen's kappa with each other annotator on the items both judged, averaged weighted
    by those items (pairs with an undefined kappa left out): annotator_id, human_kappa, human_n."""
    pairs = cohen_kappa_pairs(labels).dropna(subset=["kappa"])
    if pairs.empty:
        return pd.DataFrame(columns=["annotator_id", "human_kappa", "human_n"])
    both_ways = pd.concat(
        [
            pairs.rename(columns={"annotator_1": "annotator_id"}),
            pairs.rename(columns={"annotator_2": "annotator_id"}),
        ]
    )
    both_ways = both_ways.assign(weighted=both_ways["kappa"].astype(float) * both_ways["n"])
    per = (
        both_ways.groupby("annotator_id")
        .agg(weighted=("weighted", "sum"), human_n=("n", "sum"))
        .reset_index()
    )
    per["human_kappa"] = per["weighted"] / per["human_n"]
    return per[["annotator_id", "human_kappa", "human_n"]]


def per_annotator_agreement(
    labels: pd.DataFrame,
    judge: pd.Series,
    min_items: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The judge (`judge`: its label per item, indexed by item_id) against each annotator of `labels`
    (`annotator_labels`) who shares at least `min_items` items with it: annotator_id, AGREEMENT_COLUMNS,
    human_kappa, human_n (`human_kappa_with_others`). Ordered by annotator id."""
    columns = ["annotator_id", *AGREEMENT_COLUMNS, "human_kappa", "human_n"]
    shared = labels[labels["item_id"].isin(judge.index)]
    rows = []
    for annotator, own in shared.groupby("annotator_id", sort=True):
        if len(own) < min_items:
            continue
        a = agreement(
            own["value"], judge.loc[own["item_id"]], n_boot=n_boot, seed=seed, confidence=confidence
        )
        rows.append({"annotator_id": annotator, **_agreement_row(a)})
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows).merge(human_kappa_with_others(labels), on="annotator_id", how="left")
    return table[columns]


def alpha_with_judge(
    labels: pd.DataFrame, judge: pd.Series, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95
) -> JudgeAlpha:
    """Nominal Krippendorff's alpha of the annotators on the judge's items, and of the same ratings with
    the judge's label per item (`judge`, indexed by item_id) as one more rater; both with their
    item-bootstrap interval."""
    humans = labels[labels["item_id"].isin(judge.index)]
    judged = judge.dropna()
    rater = pd.DataFrame({"item_id": judged.index, "annotator_id": JUDGE_RATER, "value": judged.values})
    together = pd.concat([humans, rater], ignore_index=True)
    options = dict(n_boot=n_boot, seed=seed, leave_one_out=False, confidence=confidence)
    return JudgeAlpha(
        humans=krippendorff_alpha(humans, "nominal", **options),
        with_judge=krippendorff_alpha(together, "nominal", **options),
    )


def criterion_preferences(judgments: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Per (item, criterion): the annotators' preference from their scores (per judgment the system scored
    higher, equal scores a tie; the item's majority as in `human_majority`): item_id, criterion, human."""
    columns = ["item_id", "criterion", "human"]
    if scores is None or scores.empty or judgments.empty:
        return pd.DataFrame(columns=columns)
    system_a, system_b = str(judgments["system_a"].iloc[0]), str(judgments["system_b"].iloc[0])
    counted = scores[scores["judgment_id"].isin(_counted(judgments)["judgment_id"])]
    wide = counted.pivot_table(
        index=["judgment_id", "item_id", "criterion"], columns="system", values="score", aggfunc="last"
    )
    if system_a not in wide.columns or system_b not in wide.columns:
        return pd.DataFrame(columns=columns)
    wide = wide[[system_a, system_b]].dropna().reset_index()
    if wide.empty:
        return pd.DataFrame(columns=columns)
    diff = wide[system_b] - wide[system_a]
    wide["winner"] = np.where(diff > 0, system_b, np.where(diff < 0, system_a, TIE))
    return _votes(wide, ["item_id", "criterion"], system_a, system_b)[columns]


def per_criterion_agreement(
    preferences: pd.DataFrame, judge: pd.Series, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95
) -> pd.DataFrame:
    """The judge's label per item (`judge`, indexed by item_id) against the annotators' preference on each
    criterion (`criterion_preferences`): criterion, AGREEMENT_COLUMNS."""
    rows = []
    for criterion, own in preferences.groupby("criterion", sort=True):
        own = own[own["item_id"].isin(judge.index)]
        a = agreement(
            own["human"], judge.loc[own["item_id"]], n_boot=n_boot, seed=seed, confidence=confidence
        )
        rows.append({"criterion": criterion, **_agreement_row(a)})
    return pd.DataFrame(rows, columns=["criterion", *AGREEMENT_COLUMNS])


def judge_sentence(
    judge: str, a: Agreement, flips: float | None, alpha: JudgeAlpha | None = None
) -> tuple[bool, str]:
    """(weak, a plain sentence): a judge is weak when its kappa interval includes 0 (or kappa is
    undefined), or when adding it as one more rater lowers the annotators' Krippendorff's alpha (it agrees
    with them less than they agree with each other)."""
    if a.n_items < 2:
        return True, (
            f"Judge {judge} and the annotators share {a.n_items} item(s): too few to say whether it "
            "tracks them."
        )
    low, high = a.kappa_ci
    flip_note = (
        f" It changes its verdict when the two outputs swap places in {flips:.0%} of pairs."
        if flips is not None and flips >= 0.25
        else ""
    )
    humans = alpha.humans.alpha if alpha is not None else None
    together = alpha.with_judge.alpha if alpha is not None else None
    below = humans is not None and together is not None and together < humans - 1e-9
    lowers = (
        f"adding it as one more rater lowers Krippendorff's α from {humans:.2f} to {together:.2f}: it agrees "
        "with your annotators less than they agree with each other."
        if below
        else ""
    )
    alpha_note = f" {lowers[:1].upper()}{lowers[1:]}" if below else ""
    if a.kappa is None or low is None or low <= 0:
        kappa = "undefined" if a.kappa is None else f"{a.kappa:.2f}"
        return True, (
            f"This judge does not track your annotators: its agreement beyond chance (κ = {kappa}) "
            f"could be zero. Do not use its verdicts in place of human judgments.{alpha_note}{flip_note}"
        )
    interval = "" if degenerate(low, high) else f" ({low:.2f} – {high:.2f})"
    if below:
        return True, (
            f"This judge is weaker than your annotators: it agrees with their majority on "
            f"{a.accuracy:.0%} of {a.n_items} items, κ = {a.kappa:.2f}{interval}, yet {lowers} Do not "
            f"use its verdicts in place of human judgments.{flip_note}"
        )
    return False, (
        f"This judge tracks your annotators: it agrees with their majority on {a.accuracy:.0%} of "
        f"{a.n_items} items, κ = {a.kappa:.2f}{interval}.{flip_note}"
    )


def judge_card(
    judge: str,
    judgments: pd.DataFrame,
    verdicts: pd.DataFrame,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    n_bins: int = 10,
    scores: pd.DataFrame | None = None,
    min_items: int = 10,
) -> JudgeCard:
    """One judge's card from the campaign's human judgments, the judge's verdicts (one row per item) and,
    when given, the campaign's criteria scores (docs/frames.md); `min_items`: the fewest items an annotator
    must share with the judge to get a row of the per-annotator table."""
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
    labels = annotator_labels(judgments)
    judge_label = verdicts.dropna(subset=["winner"]).drop_duplicates("item_id").set_index("item_id")["winner"]
    boot = dict(n_boot=n_boot, seed=seed, confidence=confidence)
    alpha = alpha_with_judge(labels, judge_label, **boot)
    weak, sentence = judge_sentence(judge, agreed, flips, alpha)
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
        per_annotator=per_annotator_agreement(labels, judge_label, min_items=min_items, **boot),
        alpha=alpha,
        per_criterion=per_criterion_agreement(criterion_preferences(judgments, scores), judge_label, **boot),
    )
