"""Inter-annotator agreement for a campaign's judgments, for the researcher deciding whether the human verdict
is trustworthy: Krippendorff's alpha (any level, bootstrap interval over items, leave-one-annotator-out),
Cohen's kappa per annotator pair, Fleiss' kappa, agreement with the majority and with gold items, and
self-consistency on flipped repeats.

All functions are pure: long-format DataFrames in, numbers and small DataFrames out. Alpha is computed from a
vectorised coincidence matrix; the bootstrap resamples items by drawing how many times each distinct
per-item rating pattern occurs (a multinomial draw), which is exactly the item bootstrap but costs nothing per
item, so 100,000 judgments and 1,000 resamples take milliseconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from annotations.errors import AnnotationError
from annotations.stats.frames import require_columns
from annotations.stats.intervals import degenerate, half_width, percentile_interval
from ft_core.resampling import PATTERN_LIMIT, bootstrap_totals, distinct_rows, pattern_totals

LEVELS = ("nominal", "ordinal", "interval", "ratio")


@dataclass
class AlphaResult:
    """Krippendorff's alpha with its bootstrap interval; `reason` explains a None alpha."""

    alpha: float | None
    ci_low: float | None
    ci_high: float | None
    n_units: int  # units (items) with at least two ratings: the pairable ones
    n_annotators: int
    n_values: int  # pairable ratings
    level: str
    reason: str | None = None  # why alpha (or its interval) is undefined, in words
    n_boot: int = 0
    n_boot_undefined: int = 0  # resamples with no variation, left out of the interval
    seed: int = 0
    method: str = "Krippendorff's alpha (Krippendorff 2011), percentile bootstrap over units"
    leave_one_out: dict[str, float | None] = field(default_factory=dict)
    confidence: float = 0.95  # coverage of [ci_low, ci_high]

    @property
    def half_width(self) -> float | None:
        return half_width(self.ci_low, self.ci_high)

    def to_dict(self) -> dict:
        return asdict(self)


def _encode(values: pd.Series, level: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..V-1 for each rating and the sorted distinct values (numbers for metric levels)."""
    if level == "nominal":
        codes, cats = pd.factorize(values.astype(str), sort=True)
        return codes.astype(np.int64), np.asarray(cats, dtype=object)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any():
        bad = values[numeric.isna()].iloc[0]
        raise AnnotationError(
            f"level '{level}' needs numeric ratings; found {bad!r}. Use level='nominal' for labels"
        )
    cats, codes = np.unique(numeric.to_numpy(dtype=float), return_inverse=True)
    return codes.astype(np.int64), cats


def _delta(level: str, values: np.ndarray, marginals: np.ndarray) -> np.ndarray:
    """Squared distance delta^2(c, k) between values; for ordinal it depends on the marginals (…, V).

    Krippendorff (2011), 'Computing Krippendorff's Alpha-Reliability', section E (difference functions)."""
    V = len(values)
    if level == "nominal":
        d = 1.0 - np.eye(V)
        return np.broadcast_to(d, marginals.shape[:-1] + (V, V))
    if level == "interval":
        d = (values[:, None] - values[None, :]) ** 2
        return np.broadcast_to(d, marginals.shape[:-1] + (V, V))
    if level == "ratio":
        s = values[:, None] + values[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(s == 0, 0.0, ((values[:, None] - values[None, :]) / np.where(s == 0, 1, s)) ** 2)
        return np.broadcast_to(d, marginals.shape[:-1] + (V, V))
    # ordinal: (sum_{g=c..k} n_g - (n_c + n_k)/2)^2
    cum = np.cumsum(marginals, axis=-1)
    lo = np.minimum.outer(np.arange(V), np.arange(V))
    hi = np.maximum.outer(np.arange(V), np.arange(V))
    between = cum[..., hi] - cum[..., lo] + marginals[..., lo]  # sum of n_g for g in [lo, hi]
    d = between - (marginals[..., :, None] + marginals[..., None, :]) / 2
    return d**2


def _alpha_from_coincidences(o: np.ndarray, level: str, values: np.ndarray) -> np.ndarray:
    """Alpha from coincidence matrices o (…, V, V); NaN where expected disagreement is zero."""
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    d = _delta(level, values, n_c)
    observed = (o * d).sum(axis=(-2, -1))
    expected = (n_c[..., :, None] * n_c[..., None, :] * d).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1.0 - (n - 1) * observed / expected
    return np.where(expected > 0, alpha, np.nan)


def _unit_contributions(counts: np.ndarray) -> np.ndarray:
    """Each unit's share of the coincidence matrix: (n_uc n_uk - [c=k] n_uc) / (m_u - 1), shape (U, V, V)."""
    m = counts.sum(axis=1)
    outer = counts[:, :, None] * counts[:, None, :]
    outer -= counts[:, :, None] * np.eye(counts.shape[1])[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        contrib = outer / np.where(m > 1, m - 1, 1)[:, None, None]
    contrib[m < 2] = 0.0
    return contrib


def _reject_duplicates(data: pd.DataFrame, unit: str, annotator: str, name: str) -> None:
    dupes = data.duplicated([unit, annotator]).sum()
    if dupes:
        raise AnnotationError(
            f"{name} needs one rating per ({unit}, {annotator}); found {dupes} duplicates "
            "(drop repeated judgments first)"
        )


def _undefined_reason(n_units: int, o: np.ndarray, values: np.ndarray) -> str | None:
    if n_units == 0:
        return "no item has ratings from two or more annotators, so there is no pair of ratings to compare"
    n_c = o.sum(axis=1)
    used = values[n_c > 0]
    if len(used) < 2:
        return (
            f"every pairable rating is {used[0]!r}: with no variation there is no expected disagreement, "
            "so alpha is undefined (not 0)"
        )
    return None


def krippendorff_alpha(
    df: pd.DataFrame,
    level: str,
    unit: str = "item_id",
    annotator: str = "annotator_id",
    value: str = "value",
    n_boot: int = 1000,
    seed: int = 0,
    leave_one_out: bool = True,
    confidence: float = 0.95,
) -> AlphaResult:
    """Krippendorff's alpha of `df` (one row per unit x annotator rating) at `level`.

    Missing values (NaN) are dropped; units rated by a single annotator are not pairable and do not count.
    The interval is a percentile bootstrap over units (Hayes & Krippendorff 2007 resample units too).
    Reference: K. Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", UPenn ASC papers 43.
    """
    if level not in LEVELS:
        raise AnnotationError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    require_columns(df, [unit, annotator, value], "krippendorff_alpha")
    data = df[[unit, annotator, value]].dropna(subset=[value])
    _reject_duplicates(data, unit, annotator, "krippendorff_alpha")
    n_annotators = int(data[annotator].nunique())
    if data.empty:
        return AlphaResult(
            None,
            None,
            None,
            0,
            0,
            0,
            level,
            "there are no ratings",
            n_boot=n_boot,
            seed=seed,
            confidence=confidence,
        )
    codes, values = _encode(data[value], level)
    V = len(values)
    unit_index, unit_codes = pd.factorize(data[unit])
    U = len(unit_codes)
    counts = np.bincount(unit_index * V + codes, minlength=U * V).reshape(U, V).astype(float)
    m = counts.sum(axis=1)
    pairable = m >= 2
    n_units = int(pairable.sum())
    n_values = int(m[pairable].sum())
    distinct = distinct_rows(counts[pairable])
    patterns, freq = distinct.rows, distinct.counts
    contrib = _unit_contributions(patterns) if len(patterns) else np.zeros((0, V, V))
    o = np.tensordot(freq.astype(float), contrib, axes=1) if len(patterns) else np.zeros((V, V))
    reason = _undefined_reason(n_units, o, values)
    result = AlphaResult(
        None,
        None,
        None,
        n_units,
        n_annotators,
        n_values,
        level,
        reason,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
    )
    if reason is not None:
        return result
    result.alpha = float(_alpha_from_coincidences(o, level, values))
    if n_boot > 0:
        o_boot = _resampled_coincidences(contrib, freq, counts[pairable], n_boot, seed)
        boot = _alpha_from_coincidences(o_boot, level, values)
        result.n_boot_undefined = int(np.isnan(boot).sum())
        low, high = percentile_interval(boot, confidence)
        if low is None:
            result.reason = "the bootstrap resamples have no variation, so the interval is undefined"
        elif degenerate(low, high):  # printed, "1.00 to 1.00" would claim a certainty the items do not hold
            result.reason = (
                f"every bootstrap resample gives alpha = {result.alpha:.2f} (on {n_units} units rated twice "
                "or more); the bootstrap cannot give an interval from so few distinct values"
            )
        else:
            result.ci_low, result.ci_high = low, high
    if leave_one_out and n_annotators > 2:
        result.leave_one_out = _leave_one_annotator_out(
            data[annotator], unit_index, codes, counts, o, level, values
        )
    return result


def _resampled_coincidences(
    contrib: np.ndarray, freq: np.ndarray, counts: np.ndarray, n_boot: int, seed: int
) -> np.ndarray:
    """The coincidence matrix of each item-bootstrap resample, (n_boot, V, V): from the distinct units'
    contributions `contrib` and their frequencies `freq` when they are few, else from every pairable unit's
    `counts`."""
    V = contrib.shape[-1]
    if len(contrib) <= PATTERN_LIMIT:
        totals = pattern_totals(contrib.reshape(len(contrib), V * V), freq, n_boot, seed)
    else:
        totals = bootstrap_totals(_unit_contributions(counts).reshape(len(counts), V * V), n_boot, seed)
    return totals.reshape(n_boot, V, V)


def _leave_one_annotator_out(
    annotators, unit_index, codes, counts, o, level, values
) -> dict[str, float | None]:
    """Alpha without each annotator, all at once: a rating's share of the coincidence matrix is its unit's
    contribution minus the unit's contribution without that rating; it depends only on the unit's counts and
    the rating's value, so it is computed once per distinct (counts, value) and summed per annotator."""
    V = len(values)
    ann_index, ann_codes = pd.factorize(annotators.astype(str), sort=True)
    kinds = distinct_rows(np.column_stack([counts[unit_index], codes]).astype(np.int64))
    before = kinds.rows[:, :V].astype(float)
    after = before.copy()
    after[np.arange(len(before)), kinds.rows[:, V]] -= 1
    share = (_unit_contributions(before) - _unit_contributions(after)).reshape(len(before), V * V)
    A, P = len(ann_codes), len(before)
    per_kind = np.bincount(ann_index * P + kinds.inverse, minlength=A * P).reshape(A, P)
    alphas = _alpha_from_coincidences(o[None] - (per_kind @ share).reshape(A, V, V), level, values)
    return {str(name): (None if np.isnan(a) else float(a)) for name, a in zip(ann_codes, alphas)}


def cohen_kappa_pairs(
    df: pd.DataFrame, unit: str = "item_id", annotator: str = "annotator_id", value: str = "value"
) -> pd.DataFrame:
    """Cohen's kappa for every annotator pair on the units both rated (nominal).

    Columns: annotator_1, annotator_2, n (shared units), observed (agreement share), kappa (None where the
    expected agreement is 1, i.e. both used a single identical label), reason.
    Reference: J. Cohen (1960), "A coefficient of agreement for nominal scales".
    """
    require_columns(df, [unit, annotator, value], "cohen_kappa_pairs")
    data = df[[unit, annotator, value]].dropna()
    _reject_duplicates(data, unit, annotator, "cohen_kappa_pairs")
    codes, cats = _encode(data[value], "nominal")
    ann_codes, ann_names = pd.factorize(data[annotator].astype(str), sort=True)
    unit_codes = pd.factorize(data[unit])[0]
    # integer codes only: the self-join on the unit is the expensive step
    rows = pd.DataFrame({"u": unit_codes, "a": ann_codes, "c": codes})
    pairs = rows.merge(rows, on="u", suffixes=("_1", "_2"))
    pairs = pairs[pairs["a_1"] < pairs["a_2"]]
    columns = ["annotator_1", "annotator_2", "n", "observed", "kappa", "reason"]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    V, A = len(cats), len(ann_names)
    pair_code = pairs["a_1"].to_numpy() * A + pairs["a_2"].to_numpy()
    pair_index, pair_values = pd.factorize(pair_code, sort=True)
    names = np.asarray(ann_names, dtype=object)
    keys = np.column_stack([names[pair_values // A], names[pair_values % A]])
    P = len(keys)
    table = np.bincount(
        (pair_index * V + pairs["c_1"].to_numpy()) * V + pairs["c_2"].to_numpy(), minlength=P * V * V
    ).reshape(P, V, V)
    n = table.sum(axis=(1, 2)).astype(float)
    observed = np.trace(table, axis1=1, axis2=2) / n
    expected = (table.sum(axis=2) * table.sum(axis=1)).sum(axis=1) / n**2
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = (observed - expected) / (1 - expected)
    undefined = expected >= 1 - 1e-12
    return pd.DataFrame(
        {
            "annotator_1": keys[:, 0],
            "annotator_2": keys[:, 1],
            "n": n.astype(int),
            "observed": observed,
            "kappa": [None if u else float(k) for u, k in zip(undefined, kappa)],
            "reason": [
                "both annotators used one and the same label: kappa undefined" if u else None
                for u in undefined
            ],
        }
    )


@dataclass
class RawAgreement:
    """The plain share of agreeing pairs: of all pairs of judgments by two annotators on the same item, the
    share that chose the same outcome. Shown beside alpha, and instead of it where alpha is undefined."""

    share: float | None  # None when no item has judgments from two annotators
    n_pairs: int  # pairs of judgments on the same item
    n_items: int  # items judged by two or more annotators
    n_judgments: int  # judgments on those items
    values: list[str] = field(default_factory=list)  # the distinct outcomes chosen on those items
    method: str = "pairwise percent agreement: agreeing pairs / all pairs of judgments on the same item"

    def to_dict(self) -> dict:
        return asdict(self)


def raw_agreement(
    df: pd.DataFrame, unit: str = "item_id", annotator: str = "annotator_id", value: str = "value"
) -> RawAgreement:
    """Share of agreeing pairs among the pairs of ratings by two annotators of the same unit (one rating
    per annotator and unit: the first). The observed agreement of Fleiss (1971), pooled over units with any
    number of ratings (Krippendorff 2004, "Content Analysis", 2nd ed., section 11.2, on percent agreement)."""
    require_columns(df, [unit, annotator, value], "raw_agreement")
    data = df[[unit, annotator, value]].dropna().drop_duplicates([unit, annotator])
    per_unit = data.groupby(unit)[annotator].transform("size")
    data = data[per_unit >= 2]
    if data.empty:
        return RawAgreement(None, 0, 0, 0)
    counts = data.groupby([unit, value]).size()
    m = data.groupby(unit).size()
    agreeing = float((counts * (counts - 1) / 2).sum())
    pairs = float((m * (m - 1) / 2).sum())
    values = sorted(data[value].astype(str).unique())
    return RawAgreement(agreeing / pairs, int(pairs), int(len(m)), int(len(data)), values)


@dataclass
class FleissResult:
    """Fleiss' kappa over the items with the most common number of ratings (it needs a fixed number)."""

    kappa: float | None
    n_items: int
    raters_per_item: int
    n_items_left_out: int  # items with a different number of ratings
    reason: str | None = None
    method: str = "Fleiss' kappa (Fleiss 1971) on items with the modal number of ratings"

    def to_dict(self) -> dict:
        return asdict(self)


def fleiss_kappa(
    df: pd.DataFrame, unit: str = "item_id", annotator: str = "annotator_id", value: str = "value"
) -> FleissResult:
    """Fleiss' kappa (nominal). Reference: J. L. Fleiss (1971), "Measuring nominal scale agreement among many
    raters", Psychological Bulletin 76(5)."""
    require_columns(df, [unit, annotator, value], "fleiss_kappa")
    data = df[[unit, annotator, value]].dropna().drop_duplicates([unit, annotator])
    if data.empty:
        return FleissResult(None, 0, 0, 0, "there are no ratings")
    codes, cats = _encode(data[value], "nominal")
    unit_index, units = pd.factorize(data[unit], sort=True)
    V = len(cats)
    table = np.bincount(unit_index * V + codes, minlength=len(units) * V).reshape(len(units), V)
    m = table.sum(axis=1)
    eligible = m[m >= 2]
    if len(eligible) == 0:
        return FleissResult(None, 0, 0, len(units), "no item has two or more ratings")
    raters = int(np.bincount(eligible).argmax())
    table = table[m == raters].astype(float)
    N = len(table)
    p_j = table.sum(axis=0) / (N * raters)
    p_i = ((table**2).sum(axis=1) - raters) / (raters * (raters - 1))
    p_bar, p_e = p_i.mean(), (p_j**2).sum()
    if p_e >= 1 - 1e-12:
        return FleissResult(
            None, N, raters, len(units) - N, "every rating is the same label: kappa undefined"
        )
    return FleissResult(float((p_bar - p_e) / (1 - p_e)), N, raters, len(units) - N)


def majority_agreement(
    df: pd.DataFrame, unit: str = "item_id", annotator: str = "annotator_id", value: str = "value"
) -> pd.DataFrame:
    """Per annotator: share of their ratings equal to the majority of the *other* annotators on the same item.

    Items where the others are tied for the majority, or where nobody else rated, are not counted.
    Columns: annotator_id, n, agreement (None when n == 0)."""
    require_columns(df, [unit, annotator, value], "majority_agreement")
    data = df[[unit, annotator, value]].dropna().drop_duplicates([unit, annotator])
    codes, cats = _encode(data[value], "nominal")
    unit_index, units = pd.factorize(data[unit], sort=True)
    V = len(cats)
    counts = np.bincount(unit_index * V + codes, minlength=len(units) * V).reshape(len(units), V)
    others = counts[unit_index].copy()
    others[np.arange(len(codes)), codes] -= 1
    top = others.max(axis=1)
    unique_top = (others == top[:, None]).sum(axis=1) == 1
    counted = (top > 0) & unique_top
    agree = others.argmax(axis=1) == codes
    frame = pd.DataFrame(
        {"annotator_id": data[annotator].astype(str).to_numpy(), "c": counted, "a": agree & counted}
    )
    out = frame.groupby("annotator_id").agg(n=("c", "sum"), agreed=("a", "sum")).reset_index()
    out["agreement"] = [a / n if n else None for a, n in zip(out["agreed"], out["n"])]
    return out[["annotator_id", "n", "agreement"]]


def gold_agreement(
    judgments: pd.DataFrame, annotator: str = "annotator_id", value: str = "winner", gold: str = "gold_winner"
) -> pd.DataFrame:
    """Per annotator: share of gold items (is_gold with a known gold winner) judged as the gold answer says.

    Columns: annotator_id, gold_n, gold_accuracy (None when the annotator saw no gold item)."""
    require_columns(judgments, [annotator, value, gold, "is_gold"], "gold_agreement")
    data = judgments[judgments["is_gold"].fillna(False).astype(bool) & judgments[gold].notna()]
    annotators = judgments[annotator].astype(str).unique()
    correct = (data[value].astype(str) == data[gold].astype(str)).groupby(data[annotator].astype(str))
    out = pd.DataFrame({"annotator_id": annotators})
    out["gold_n"] = out["annotator_id"].map(correct.size()).fillna(0).astype(int)
    out["gold_accuracy"] = out["annotator_id"].map(correct.mean()).astype(object)
    out.loc[out["gold_n"] == 0, "gold_accuracy"] = None
    return out


def self_consistency(judgments: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: on flipped repeats, the share where the de-randomized winner matches the original's.

    A repeat shows the same item with sides swapped, so a side-driven annotator contradicts themselves.
    Columns: annotator_id, repeat_n, self_consistency (None without repeats)."""
    require_columns(
        judgments, ["annotator_id", "assignment_id", "is_repeat", "repeat_of", "winner"], "self_consistency"
    )
    repeats = judgments[judgments["is_repeat"].fillna(False).astype(bool) & judgments["repeat_of"].notna()]
    originals = judgments[["assignment_id", "winner"]].drop_duplicates("assignment_id")
    paired = repeats.merge(
        originals, left_on="repeat_of", right_on="assignment_id", suffixes=("", "_original")
    )
    same = (paired["winner"].astype(str) == paired["winner_original"].astype(str)).groupby(
        paired["annotator_id"].astype(str)
    )
    out = pd.DataFrame({"annotator_id": judgments["annotator_id"].astype(str).unique()})
    out["repeat_n"] = out["annotator_id"].map(same.size()).fillna(0).astype(int)
    out["self_consistency"] = out["annotator_id"].map(same.mean()).astype(object)
    out.loc[out["repeat_n"] == 0, "self_consistency"] = None
    return out
