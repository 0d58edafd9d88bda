"""Which crowd participants to trust: straight-lining (always the same side, always the same system), the
per-participant check table, annotator competence by MACE and by Dawid–Skene (through `crowd-kit`), and the
verdict with and without the low-competence participants, weighted by competence, or with adjudicated labels
(a sensitivity table). For the researcher deciding whether the verdict rests on careless participants.

Nothing here deletes a judgment: every function takes the judgments frame (docs/frames.md) and returns new
frames. References: D. Hovy et al. (2013), "Learning Whom to Trust with MACE", NAACL; A. P. Dawid &
A. M. Skene (1979), "Maximum likelihood estimation of observer error-rates using the EM algorithm",
JRSS C; crowd-kit: D. Ustalov et al. (2021), "Learning from Crowds with Crowd-Kit".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from annotations.errors import AnnotationError, OptionError
from annotations.stats import preference, quality
from annotations.stats.frames import require_columns
from annotations.stats.intervals import wilson_interval

MEASURES = ("mace", "dawid_skene")  # the competence columns of `competence`
MEASURE_LABELS = {"mace": "MACE", "dawid_skene": "Dawid–Skene"}
USES = ("keep", "weight", "exclude")  # keep everyone, weight each by competence, exclude below a threshold
CHECK_COLUMNS = ("attention_passed", "gold_accuracy")  # per-participant outcomes of the silent checks
# MACE's random restarts (crowd-kit's default is 10): each cost about 4 s on 600 labels on a loaded 2-core
# machine, and the runs measured gave the same competences from the first restart on (docs/metrics.md)
MACE_RESTARTS = 3
ADJUDICATOR = "adjudicator"  # the annotator_id of an adjudicated label in `with_adjudications`' frame


def crowd_labels(judgments: pd.DataFrame) -> pd.DataFrame:
    """One label per (item, annotator) as crowd-kit takes it (columns task, worker, label): the system the
    annotator chose, or "tie" for a tie and for both bad. Flipped repeats are left out (the first judgment is
    the label)."""
    require_columns(judgments, ["item_id", "annotator_id", "winner", "is_repeat"], "crowd labels")
    firsts = judgments[~judgments["is_repeat"].astype(bool)]
    winner = firsts["winner"].astype(str)
    label = winner.where(~winner.isin(preference.TIE_OUTCOMES), "tie")
    labels = pd.DataFrame(
        {"task": firsts["item_id"].astype(str), "worker": firsts["annotator_id"].astype(str), "label": label}
    )
    return labels.drop_duplicates(["task", "worker"], keep="last").reset_index(drop=True)


def mace_competence(labels: pd.DataFrame, seed: int = 0) -> pd.Series:
    """MACE competence per worker (probability of labelling by knowledge rather than by spamming), indexed
    by worker name. crowd-kit's `spamming_` rows come in `pd.factorize(labels.worker)` order (first
    appearance), not sorted: they are mapped back by that order."""
    from crowdkit.aggregation import MACE  # heavy import (seconds): only when asked

    model = MACE(n_restarts=MACE_RESTARTS, n_iter=50, random_state=seed).fit(labels)
    _codes, workers = pd.factorize(labels["worker"])
    # column 1 multiplies the indicator "label == true label" in crowd-kit's E-step: the knowing strategy
    return pd.Series(np.asarray(model.spamming_)[:, 1], index=pd.Index(workers, name="worker"), name="mace")


def dawid_skene_accuracy(labels: pd.DataFrame) -> pd.Series:
    """Dawid–Skene accuracy per worker: sum over true classes of prior(class) × P(says class | class), from
    the fitted confusion matrices (crowd-kit's `errors_`, indexed by (worker, observed label), one column per
    true label), indexed by worker name."""
    from crowdkit.aggregation import DawidSkene

    model = DawidSkene(n_iter=100).fit(labels)
    errors, priors = model.errors_, model.priors_
    accuracy = {}
    for worker in pd.unique(labels["worker"]):
        confusion = errors.xs(worker, level="worker")  # rows: observed label; a label never said is 0
        accuracy[worker] = float(
            sum(priors[c] * confusion[c].get(c, 0.0) for c in priors.index if c in confusion.columns)
        )
    return pd.Series(accuracy, name="dawid_skene").rename_axis("worker")


def competence(judgments: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per annotator: n_items labelled, MACE competence and Dawid–Skene accuracy (both in [0, 1], higher is
    more trustworthy). Raises AnnotationError when there is nothing to learn from (no item with two
    labels)."""
    labels = crowd_labels(judgments)
    if labels.empty or labels.groupby("task")["worker"].nunique().max() < 2:
        raise AnnotationError("competence needs items judged by at least two annotators; there are none yet")
    table = labels.groupby("worker").size().rename("n_items").to_frame()
    table = table.join(mace_competence(labels, seed)).join(dawid_skene_accuracy(labels))
    return table.rename_axis("annotator_id").reset_index()


def straight_lining(judgments: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: the most frequent click (`left`, `right`, `tie`, `both_bad`) and its share, and the most
    frequent de-randomized winner (a system, `tie` or `both_bad`) and its share, over first judgments. Sides
    are random, so an attentive annotator never clicks one side throughout; always the same system can be
    honest when one system is much better, and is shown for the researcher to judge."""
    firsts = judgments[~judgments["is_repeat"].astype(bool)]
    rows = []
    for annotator, own in firsts.groupby(firsts["annotator_id"].astype(str), sort=True):
        side, system = own["choice"].astype(str).value_counts(), own["winner"].astype(str).value_counts()
        rows.append(
            {
                "annotator_id": annotator,
                "n_first": len(own),
                "same_side": side.index[0],
                "same_side_share": side.iloc[0] / len(own),
                "same_system": system.index[0],
                "same_system_share": system.iloc[0] / len(own),
            }
        )
    columns = ["annotator_id", "n_first", "same_side", "same_side_share", "same_system", "same_system_share"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class CrowdThresholds:
    """When a participant is flagged by the crowd checks (each needs `min_judgments` first judgments)."""

    straight_share: float = 1.0  # flag one side (or one system) clicked at least this share of the time
    min_judgments: int = 5  # first judgments needed before straight-lining may flag
    fast_share: float = 0.5  # flag more than this share of implausibly fast judgments
    min_seconds: float = 3.0
    max_words_per_second: float = 20.0

    def __post_init__(self) -> None:
        if not 0.5 <= self.straight_share <= 1:
            raise OptionError(f"straight_share must be in [0.5, 1]; got {self.straight_share}")
        if self.min_judgments < 1:
            raise OptionError(f"min_judgments must be at least 1; got {self.min_judgments}")
        if not 0 <= self.fast_share <= 1:
            raise OptionError(f"fast_share must be in [0, 1]; got {self.fast_share}")


def _failed(attention_passed: object) -> bool:
    """An attention outcome that says failed: False (numpy's too), never None or NaN (no check answered)."""
    return attention_passed is not None and not pd.isna(attention_passed) and not bool(attention_passed)


def participant_table(
    judgments: pd.DataFrame,
    competence_table: pd.DataFrame | None = None,
    checks: pd.DataFrame | None = None,
    thresholds: CrowdThresholds | None = None,
) -> pd.DataFrame:
    """One row per annotator: judgments, straight-lining shares, share too fast, position bias (left share
    and its p-value), MACE and Dawid–Skene competence (when `competence_table` is given), the outcomes of the
    silent checks (when `checks` is given: columns user_id, attention_passed, gold_accuracy) and the flags."""
    th = thresholds or CrowdThresholds()
    table = straight_lining(judgments).set_index("annotator_id")
    pace = quality.speed(judgments, th.min_seconds, th.max_words_per_second).set_index("annotator_id")
    table = pace.drop(index="all").rename(columns={"n": "n_judgments"}).join(table, how="left")
    position = quality.position_bias(judgments).set_index("annotator_id")
    table["left_share"] = position["left_share"].reindex(table.index)
    table["left_p"] = position["p_value"].reindex(table.index)
    if competence_table is not None:
        table = table.join(competence_table.set_index("annotator_id")[list(MEASURES)])
    if checks is not None:
        require_columns(checks, ["user_id", *CHECK_COLUMNS], "participant checks")
        outcomes = checks.assign(user_id=checks["user_id"].astype(str)).set_index("user_id")
        table = table.join(outcomes[list(CHECK_COLUMNS)])
    flags = []
    for _, row in table.iterrows():
        f = []
        enough = pd.notna(row["n_first"]) and row["n_first"] >= th.min_judgments
        if enough and row["same_side_share"] >= th.straight_share:
            f.append(f"straight-lining ({row['same_side_share']:.0%} {row['same_side']})")
        if enough and row["same_system_share"] >= th.straight_share:
            f.append(f"always the same system ({row['same_system_share']:.0%} {row['same_system']})")
        if row["fast_share"] > th.fast_share:
            f.append(f"too fast ({row['fast_share']:.0%} of judgments)")
        if checks is not None and _failed(row.get("attention_passed")):
            f.append("failed an attention check")
        flags.append("; ".join(f))
    table["flags"] = flags
    table["flagged"] = table["flags"] != ""
    return table.rename_axis("annotator_id").reset_index()


def with_adjudications(judgments: pd.DataFrame, adjudications: pd.DataFrame) -> pd.DataFrame:
    """The judgments with every adjudicated item's judgments replaced by one row carrying the adjudicated
    winner (`adjudications`: columns item_id, winner), so the item counts once, as the adjudicator decided.
    A new frame: the judgments themselves are untouched."""
    if adjudications is None or adjudications.empty:
        return judgments
    decided = adjudications.drop_duplicates("item_id", keep="last").set_index("item_id")["winner"]
    item = judgments["item_id"].astype(str)
    hit = item.isin(decided.index)
    replaced = judgments[hit].drop_duplicates("item_id").copy()
    replaced["winner"] = decided.reindex(replaced["item_id"].astype(str)).to_numpy()
    replaced["annotator_id"] = ADJUDICATOR
    return pd.concat([judgments[~hit], replaced], ignore_index=True)


@dataclass
class WeightedWinRate:
    """A win rate with the item as the unit: per item, the (weighted) share of wins under the tie policy,
    averaged over the items, with a Wilson interval over n = items (as `preference.win_rate`'s item
    interval)."""

    win_rate: float | None
    low: float | None
    high: float | None
    n_judgments: int
    n_items: int
    n_annotators: int


def weighted_win_rate(
    used: pd.DataFrame,
    system: str,
    opponent: str,
    weights: pd.Series | None = None,
    tie_policy: str = "drop",
    confidence: float = 0.95,
) -> WeightedWinRate:
    """Item-unit win rate of `system` over `opponent` where each judgment counts with its annotator's weight
    (`weights` indexed by annotator_id; None: every judgment 1; an annotator without a weight, such as the
    adjudicator, counts 1). With equal weights this is exactly
    `preference.win_rate`'s item_share and item interval."""
    rows = used[used["shown_left"].astype(str).isin([system, opponent])]
    rows = rows[rows["shown_right"].astype(str).isin([system, opponent])]
    winner = rows["winner"].astype(str).to_numpy()
    num, den = preference._policy_counts(
        winner == system, winner == opponent, np.isin(winner, preference.TIE_OUTCOMES), tie_policy
    )
    w = (
        np.ones(len(rows))
        if weights is None
        else rows["annotator_id"].astype(str).map(weights).fillna(1.0).to_numpy(dtype=float)
    )
    counted = (w > 0) & (den > 0)
    codes = pd.factorize(rows["item_id"], sort=True)[0]
    per_num = np.bincount(codes, weights=num * w, minlength=codes.max() + 1 if len(codes) else 0)
    per_den = np.bincount(codes, weights=den * w, minlength=codes.max() + 1 if len(codes) else 0)
    keep = per_den > 0
    n_items = int(keep.sum())
    people = rows.loc[counted, "annotator_id"].astype(str)
    n_annotators = int(people[people != ADJUDICATOR].nunique())  # the adjudicator is no participant
    if n_items == 0:
        return WeightedWinRate(None, None, None, int(counted.sum()), 0, n_annotators)
    share = float((per_num[keep] / per_den[keep]).mean())
    low, high = wilson_interval(share * n_items, n_items, confidence)
    return WeightedWinRate(share, low, high, int(counted.sum()), n_items, n_annotators)


def competence_weights(competence_table: pd.DataFrame, measure: str) -> pd.Series:
    """Each annotator's weight: their competence under `measure`, indexed by annotator_id."""
    if measure not in MEASURES:
        raise OptionError(f"competence measure must be one of {', '.join(MEASURES)}; got {measure!r}")
    return competence_table.set_index("annotator_id")[measure].astype(float)


def below_threshold(competence_table: pd.DataFrame, measure: str, threshold: float) -> list[str]:
    """The annotators whose competence under `measure` is below `threshold` (sorted)."""
    if not 0 <= threshold <= 1:
        raise OptionError(f"competence threshold must be in [0, 1]; got {threshold}")
    weights = competence_weights(competence_table, measure)
    return sorted(weights.index[weights < threshold].astype(str))


def sensitivity_table(
    used: pd.DataFrame,
    competence_table: pd.DataFrame,
    measure: str = "mace",
    threshold: float = 0.5,
    tie_policy: str = "drop",
    confidence: float = 0.95,
    adjudications: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The verdict (item-unit win rate of system_b over system_a, its interval, n) with every participant,
    weighted by competence, and without those below `threshold`; and, when `adjudications` are given, each of
    these with the adjudicated labels where they exist. `used`: the judgments the verdict counts."""
    system, opponent = preference.default_pair(used)
    weights = competence_weights(competence_table, measure)
    low_ones = below_threshold(competence_table, measure, threshold)
    kept = used[~used["annotator_id"].astype(str).isin(low_ones)]
    label = MEASURE_LABELS[measure]
    variants = [
        ("all participants", used, None),
        (f"weighted by {label} competence", used, weights),
        (f"without the {len(low_ones)} below {threshold:.2f} ({label})", kept, None),
    ]
    if adjudications is not None and not adjudications.empty:
        variants += [
            (f"{name}, adjudicated labels where they exist", with_adjudications(frame, adjudications), w)
            for name, frame, w in variants
        ]
    rows = []
    for name, frame, w in variants:
        r = weighted_win_rate(frame, system, opponent, w, tie_policy, confidence)
        rows.append(
            {
                "participants": name,
                "win_rate": r.win_rate,
                "ci_low": r.low,
                "ci_high": r.high,
                "n_judgments": r.n_judgments,
                "n_items": r.n_items,
                "n_annotators": r.n_annotators,
            }
        )
    return pd.DataFrame(rows)


def disagreements(judgments: pd.DataFrame) -> pd.DataFrame:
    """Per item with at least two labels: n labels, the majority label and its share, and the normalized
    entropy of the labels (0: unanimous, 1: every label equally often), most disputed first — the items
    worth adjudicating. Labels as in `crowd_labels` (ties and both bad together)."""
    labels = crowd_labels(judgments)
    counts = labels.groupby(["task", "label"]).size().unstack(fill_value=0)
    n = counts.sum(axis=1)
    counts, n = counts[n >= 2], n[n >= 2]
    columns = ["item_id", "n_labels", "majority", "majority_share", "entropy"]
    if counts.empty:
        return pd.DataFrame(columns=columns)
    p = counts.div(n, axis=0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.nansum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
    k = max(counts.shape[1], 2)
    table = pd.DataFrame(
        {
            "item_id": counts.index.astype(str),
            "n_labels": n.to_numpy(),
            "majority": counts.idxmax(axis=1).to_numpy(),
            "majority_share": counts.max(axis=1).to_numpy() / n.to_numpy(),
            "entropy": h / np.log(k),
        }
    )
    return table.sort_values(["entropy", "n_labels", "item_id"], ascending=[False, False, True]).reset_index(
        drop=True
    )[columns]
