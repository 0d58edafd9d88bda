"""Who won, how sure, and can the judgments be trusted: win rate with an explicit tie policy (Wilson interval,
exact sign test, item-clustered bootstrap), Bradley-Terry strengths for campaigns with more than two systems,
per-criterion mean score differences, and the bias and quality checks of each annotator (position bias, length
bias, speed, gold accuracy).

Every statistic works on the de-randomized `winner` (a system name, "tie" or "both_bad"), never on left/right,
except position bias, which is about left/right by definition. Pure functions over the judgments and scores
frames of notes/contracts.md. Judgments on the same item are not independent, so bootstrap intervals resample
items; the resampling draws how many times each distinct per-item pattern occurs (a multinomial draw, exactly
the item bootstrap), which keeps 1,000 resamples of 100,000 judgments in milliseconds.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from annotations.errors import AnnotationError

TIE_POLICIES = ("drop", "half", "separate")
TIE_POLICY_HELP = {
    "drop": "ties and 'both bad' are left out: win rate = wins / (wins + losses)",
    "half": "ties and 'both bad' count half a win: win rate = (wins + ties/2) / all judgments",
    "separate": "ties and 'both bad' are their own outcome: win rate = wins / all judgments, tie rate shown beside",
}
TIE_OUTCOMES = ("tie", "both_bad")


# --------------------------------------------------------------------------- bootstrap over items


PATTERN_LIMIT = 2000  # above this many distinct per-item rows, resample with explicit item weights


@functools.lru_cache(maxsize=2)
def item_weights(n_items: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_items) float32: how often each item is drawn in each bootstrap resample (each row is one
    draw of n_items items with replacement). Cached, so every statistic of an analysis shares the resamples."""
    rng = np.random.default_rng(seed)
    weights = np.empty((n_boot, n_items), dtype=np.float32)
    for b in range(n_boot):
        weights[b] = np.bincount(rng.integers(0, n_items, n_items), minlength=n_items)
    weights.flags.writeable = False
    return weights


def bootstrap_totals(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Item bootstrap of per-item rows `values` (G, c): the column totals of each of n_boot resamples of G items
    drawn with replacement (Efron & Tibshirani 1993, ch. 6), shape (n_boot, c).

    When the rows take few distinct values (win/loss/tie counts, scores), drawing G items is the same as a
    multinomial draw of how often each distinct row occurs, which costs nothing per item; otherwise explicit
    item weights are used (shared and cached)."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    G = len(values)
    if G == 0:
        return np.full((n_boot, values.shape[1]), np.nan)
    fine_grained = G > PATTERN_LIMIT and len(np.unique(values[:, 0])) > PATTERN_LIMIT
    if not fine_grained:
        patterns, freq = distinct_rows(values)
        if len(patterns) <= PATTERN_LIMIT:
            return pattern_totals(patterns, freq, n_boot, seed)
    centre = values.mean(axis=0)
    weights = item_weights(G, n_boot, seed)
    return (weights @ (values - centre).astype(np.float32)).astype(float) + G * centre


def distinct_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a 2-D array in sorted order and how often each occurs."""
    doubled = values * 2  # counts and half counts (ties) are integers once doubled
    if np.all(doubled == np.round(doubled)) and doubled.min() >= 0:
        ints = doubled.astype(np.int64)
        base = int(ints.max()) + 1
        if base ** values.shape[1] < 2**62:
            keys = (ints * base ** np.arange(values.shape[1])[::-1]).sum(axis=1)
            _, first, freq = np.unique(keys, return_index=True, return_counts=True)
            return values[first], freq
    counts = pd.DataFrame(values).value_counts(sort=False).sort_index()
    return np.array(counts.index.tolist(), dtype=float).reshape(
        len(counts), values.shape[1]
    ), counts.to_numpy()


def pattern_totals(patterns: np.ndarray, freq: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Item bootstrap totals when G items take P distinct rows `patterns` with frequencies `freq`: drawing G
    items with replacement is a multinomial draw of how often each pattern occurs."""
    G = int(freq.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(G, freq / G, size=n_boot).astype(float)
    return draws @ patterns


def percentile_interval(samples: np.ndarray, confidence: float = 0.95) -> tuple[float | None, float | None]:
    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples)]
    if len(samples) < 2:
        return None, None
    tail = (1 - confidence) / 2
    low, high = np.quantile(samples, [tail, 1 - tail])
    return float(low), float(high)


# --------------------------------------------------------------------------- win rate


def wilson_interval(
    successes: float, n: float, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion (Wilson 1927; Agresti & Coull 1998). Works with half counts."""
    if n <= 0:
        return None, None
    z = sps.norm.ppf(1 - (1 - confidence) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


@dataclass
class WinRateResult:
    """How often `system` beat `opponent`, under `tie_policy`, with three kinds of interval."""

    system: str
    opponent: str
    tie_policy: str
    wins: int
    losses: int
    ties: int  # "tie"
    both_bad: int
    n_judgments: int  # all judgments of this pair, whatever the outcome
    n_used: int  # the denominator under the tie policy
    n_items: int
    win_rate: float | None
    tie_rate: float | None  # share of ties and both-bad among all judgments
    loss_rate: float | None
    wilson_low: float | None
    wilson_high: float | None
    boot_low: float | None  # item-clustered bootstrap
    boot_high: float | None
    sign_test_p: float | None  # exact two-sided sign test on wins vs losses (ties left out)
    n_boot: int
    seed: int
    confidence: float
    reason: str | None = None
    method: str = (
        "win rate; Wilson score interval; exact binomial sign test (ties excluded); "
        "percentile bootstrap resampling items"
    )

    @property
    def half_width(self) -> float | None:
        if self.boot_low is None or self.boot_high is None:
            return None
        return (self.boot_high - self.boot_low) / 2

    def to_dict(self) -> dict:
        return asdict(self)


def _pair_rows(judgments: pd.DataFrame, system: str, opponent: str) -> pd.DataFrame:
    left, right = judgments["shown_left"].astype(str), judgments["shown_right"].astype(str)
    pair = ((left == system) & (right == opponent)) | ((left == opponent) & (right == system))
    return judgments[pair]


def default_pair(judgments: pd.DataFrame) -> tuple[str, str]:
    """(system, opponent): the campaign's system_b (e.g. finetuned) against its system_a (e.g. base)."""
    if judgments.empty:
        raise AnnotationError("there are no judgments yet: nothing to compare")
    first = judgments.iloc[0]
    return str(first["system_b"]), str(first["system_a"])


def win_rate(
    judgments: pd.DataFrame,
    system: str | None = None,
    opponent: str | None = None,
    tie_policy: str = "drop",
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> WinRateResult:
    """Win rate of `system` over `opponent` (default: system_b over system_a) with `tie_policy`.

    References: E. B. Wilson (1927) for the score interval; W. J. Dixon & A. M. Mood (1946) for the sign test;
    the clustered bootstrap resamples items (Field & Welsh 2007, "Bootstrapping clustered data")."""
    if tie_policy not in TIE_POLICIES:
        raise AnnotationError(f"tie policy must be one of {', '.join(TIE_POLICIES)}; got {tie_policy!r}")
    if system is None or opponent is None:
        system, opponent = default_pair(judgments)
    rows = _pair_rows(judgments[["item_id", "shown_left", "shown_right", "winner"]], system, opponent)
    winner = rows["winner"].astype(str).to_numpy()
    win, loss = winner == system, winner == opponent
    tie, both_bad = winner == "tie", winner == "both_bad"
    W, L, T, B = int(win.sum()), int(loss.sum()), int(tie.sum()), int(both_bad.sum())
    N = W + L + T + B
    if tie_policy == "drop":
        num, den = win.astype(float), (win | loss).astype(float)
    elif tie_policy == "half":
        num, den = win + 0.5 * (tie | both_bad), np.ones(len(rows))
    else:
        num, den = win.astype(float), np.ones(len(rows))
    n_used, successes = float(den.sum()), float(num.sum())
    n_items = int(rows["item_id"].nunique())
    result = WinRateResult(
        system, opponent, tie_policy, W, L, T, B, N, int(n_used), n_items,
        None, None, None, None, None, None, None, None, n_boot, seed, confidence,
    )  # fmt: skip
    if N:
        result.tie_rate, result.loss_rate = (T + B) / N, L / N
    if n_used == 0:
        result.reason = (
            "no judgments of this pair yet"
            if N == 0
            else "every judgment is a tie: no win rate when ties are dropped"
        )
        return result
    result.win_rate = successes / n_used
    result.wilson_low, result.wilson_high = wilson_interval(successes, n_used, confidence)
    if W + L > 0:
        result.sign_test_p = float(sps.binomtest(W, W + L, 0.5).pvalue)
    if n_boot > 0:
        codes = pd.factorize(rows["item_id"], sort=True)[0]
        per_item = np.column_stack([np.bincount(codes, weights=num), np.bincount(codes, weights=den)])
        totals = bootstrap_totals(per_item, n_boot, seed)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = totals[:, 0] / totals[:, 1]
        result.boot_low, result.boot_high = percentile_interval(boot, confidence)
    return result


# --------------------------------------------------------------------------- Bradley-Terry


@dataclass
class BradleyTerryResult:
    """Log-strengths relative to `reference` (0), with item-bootstrap intervals, and P(beats reference)."""

    table: pd.DataFrame  # system, strength, ci_low, ci_high, p_beats_reference, wins, comparisons
    reference: str
    n_judgments: int
    n_boot: int
    seed: int
    reason: str | None = None
    method: str = "Bradley-Terry maximum likelihood by the MM algorithm (Hunter 2004), ties as half wins"

    def to_dict(self) -> dict:
        return {
            **{k: v for k, v in asdict(self).items() if k != "table"},
            "table": self.table.to_dict("records"),
        }


def _bt_fit(wins: np.ndarray, iterations: int = 300) -> np.ndarray:
    """Log-strengths from win matrices wins[..., i, j] (i beat j), MM updates, geometric mean 1."""
    comparisons = wins + np.swapaxes(wins, -1, -2)
    total_wins = wins.sum(axis=-1)
    strength = np.ones(wins.shape[:-1])
    for _ in range(iterations):
        denom = (comparisons / (strength[..., :, None] + strength[..., None, :])).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            new = np.where(denom > 0, total_wins / denom, strength)
        new = np.maximum(new, 1e-12)
        new /= np.exp(np.log(new).mean(axis=-1, keepdims=True))
        if np.allclose(new, strength, rtol=1e-10, atol=1e-12):
            strength = new
            break
        strength = new
    return np.log(strength)


def bradley_terry(
    judgments: pd.DataFrame,
    reference: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BradleyTerryResult:
    """Bradley-Terry strengths of every system shown in the judgments (Bradley & Terry 1952; MM algorithm of
    D. R. Hunter 2004, "MM algorithms for generalized Bradley-Terry models"). Ties and both-bad count half a win
    each way. Intervals: percentile bootstrap resampling items."""
    left = judgments["shown_left"].astype(str).to_numpy()
    right = judgments["shown_right"].astype(str).to_numpy()
    winner = judgments["winner"].astype(str).to_numpy()
    systems = sorted(set(left) | set(right))
    if reference is None:
        reference = str(judgments["system_a"].iloc[0]) if len(judgments) else (systems[0] if systems else "")
    S = len(systems)
    empty = pd.DataFrame(columns=["system", "strength", "ci_low", "ci_high", "p_beats_reference"])
    if S < 2:
        return BradleyTerryResult(
            empty, reference, len(judgments), n_boot, seed, "fewer than two systems judged"
        )
    index = {s: i for i, s in enumerate(systems)}
    li, ri = np.array([index[s] for s in left]), np.array([index[s] for s in right])
    # twice the wins, as integers: a tie gives each side one (= half a win)
    left_wins = np.where(winner == left, 2, np.where(winner == right, 0, 1))
    right_wins = 2 - left_wins
    item_index, items = pd.factorize(judgments["item_id"])
    G = len(items)
    flat = np.zeros((G, S * S))
    np.add.at(flat, (item_index, li * S + ri), left_wins)
    np.add.at(flat, (item_index, ri * S + li), right_wins)
    wins = flat.sum(axis=0).reshape(S, S) / 2
    if reference not in index:
        raise AnnotationError(
            f"bradley_terry: reference system {reference!r} was not judged; pick one of {', '.join(systems)}"
        )
    ref = index[reference]
    log_strength = _bt_fit(wins)
    log_strength = log_strength - log_strength[ref]
    ci_low = ci_high = [None] * S
    if n_boot > 0:
        boot = _bt_fit(bootstrap_totals(flat, n_boot, seed).reshape(n_boot, S, S) / 2)
        boot = boot - boot[:, [ref]]
        bounds = [percentile_interval(boot[:, i], confidence) for i in range(S)]
        ci_low, ci_high = [b[0] for b in bounds], [b[1] for b in bounds]
    table = pd.DataFrame(
        {
            "system": systems,
            "strength": log_strength,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "p_beats_reference": 1 / (1 + np.exp(-log_strength)),
            "wins": wins.sum(axis=1),
            "comparisons": (wins + wins.T).sum(axis=1),
        }
    ).sort_values("strength", ascending=False, ignore_index=True)
    reason = None
    if ((table["wins"] == 0) | (table["wins"] == table["comparisons"])).any():
        reason = "a system won all or none of its comparisons: its strength is unbounded (shown at the fit's limit)"
    return BradleyTerryResult(table, reference, len(judgments), n_boot, seed, reason)


# --------------------------------------------------------------------------- per-criterion differences


def criterion_differences(
    scores: pd.DataFrame,
    system: str,
    opponent: str,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per criterion: mean of (score of `system` - score of `opponent`) over judgments that scored both, with
    an item-clustered bootstrap interval and a paired t interval on per-item mean differences (Student 1908).

    Columns: criterion, mean_system, mean_opponent, mean_diff, ci_low, ci_high, t_low, t_high, t_p, n, n_items,
    reason."""
    columns = [
        "criterion",
        "mean_system",
        "mean_opponent",
        "mean_diff",
        "ci_low",
        "ci_high",
        "t_low",
        "t_high",
    ]
    columns += ["t_p", "n", "n_items", "reason"]
    if scores.empty:
        return pd.DataFrame(columns=columns)
    wide = scores[scores["system"].astype(str).isin([system, opponent])].pivot_table(
        index=["judgment_id", "item_id", "criterion"], columns="system", values="score", aggfunc="mean"
    )
    rows = []
    for criterion, part in wide.groupby(level="criterion", sort=True):
        if system not in part or opponent not in part:
            continue
        part = part.dropna(subset=[system, opponent])
        diff = (part[system] - part[opponent]).to_numpy(dtype=float)
        row = dict.fromkeys(columns)
        row.update(criterion=criterion, n=len(diff), n_items=0)
        if len(diff) == 0:
            row["reason"] = "no judgment scored both systems"
            rows.append(row)
            continue
        items = part.index.get_level_values("item_id")
        row.update(
            mean_system=float(part[system].mean()),
            mean_opponent=float(part[opponent].mean()),
            mean_diff=diff.mean(),
        )
        per_item = pd.DataFrame({"item": items, "sum": diff, "n": 1.0}).groupby("item").sum()
        row["n_items"] = len(per_item)
        item_means = (per_item["sum"] / per_item["n"]).to_numpy()
        if len(item_means) >= 2 and item_means.std() > 0:
            t = sps.ttest_1samp(item_means, 0.0)
            row["t_low"], row["t_high"] = (float(x) for x in t.confidence_interval(confidence))
            row["t_p"] = float(t.pvalue)
        elif len(item_means) < 2:
            row["reason"] = "fewer than two items: no interval"
        else:
            row["reason"] = "every item has the same difference: the t interval is degenerate"
        if n_boot > 0 and len(per_item) >= 2:
            totals = bootstrap_totals(per_item[["sum", "n"]].to_numpy(), n_boot, seed)
            row["ci_low"], row["ci_high"] = percentile_interval(totals[:, 0] / totals[:, 1], confidence)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- biases and quality


def _two_sided_binomial_half(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Exact two-sided binomial test against 1/2 for many (k, n) at once: the distribution is symmetric, so the
    p-value is twice the smaller tail, capped at 1 (what scipy.stats.binomtest gives for p = 1/2)."""
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
    """Length bias: among judgments with a winner and outputs of different length, how often the longer won."""
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
    """When an annotator is flagged (each check needs a minimum of evidence before it may flag)."""

    position_p: float = 0.01  # binomial test p below this ...
    position_share: float = 0.75  # ... and left share above this (or below 1 - this)
    fast_share: float = 0.5  # more than this share of implausibly fast judgments
    gold_accuracy: float = 0.5  # gold accuracy below this, with at least min_gold gold items
    min_gold: int = 3
    self_consistency: float = 0.4  # consistency on flipped repeats below this, with at least min_repeats
    min_repeats: int = 10
    min_seconds: float = 3.0
    max_words_per_second: float = 20.0


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


# --------------------------------------------------------------------------- automatic metrics


def metric_differences(
    metrics: pd.DataFrame,
    system: str,
    opponent: str,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    pairs: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Per automatic metric, over the items that have both systems: mean of each system, the mean paired
    difference with a percentile bootstrap interval over items (Koehn 2004, "Statistical significance tests for
    machine translation evaluation"), and the share of items where `system` scores higher.

    `pairs`: metric_pairs(metrics, system, opponent) when the caller has it already.
    Columns: metric, mean_opponent, mean_system, delta, ci_low, ci_high, share_system_higher, n_items."""
    columns = [
        "metric",
        "mean_opponent",
        "mean_system",
        "delta",
        "ci_low",
        "ci_high",
        "share_system_higher",
        "n_items",
    ]
    mine, theirs = metric_pairs(metrics, system, opponent) if pairs is None else pairs
    rows = []
    for metric in sorted(mine.columns):
        both = mine[metric].notna() & theirs[metric].notna()
        a, b = mine[metric][both].to_numpy(float), theirs[metric][both].to_numpy(float)
        diff = a - b
        row = dict.fromkeys(columns)
        row.update(metric=metric, n_items=len(diff))
        if len(diff):
            row.update(
                mean_opponent=float(b.mean()), mean_system=float(a.mean()), delta=float(diff.mean()),
                share_system_higher=float((diff > 0).mean()),
            )  # fmt: skip
        if n_boot > 0 and len(diff) >= 2:
            totals = bootstrap_totals(diff, n_boot, seed)[:, 0] / len(diff)
            row["ci_low"], row["ci_high"] = percentile_interval(totals, confidence)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def metric_pairs(metrics: pd.DataFrame, system: str, opponent: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two (item_id x metric) frames with the same index and columns: `system`'s and `opponent`'s values."""
    if metrics.empty:
        return pd.DataFrame(), pd.DataFrame()
    system_col = metrics["system"]
    pair = metrics[(system_col == system) | (system_col == opponent)]
    keys = ["item_id", "metric", "system"]
    if pair.duplicated(keys).any():
        pair = pair.groupby(keys, as_index=False)["value"].mean()
    wide = pair.set_index(keys)["value"].unstack(["system", "metric"])
    if system not in wide.columns.get_level_values(0) or opponent not in wide.columns.get_level_values(0):
        return pd.DataFrame(), pd.DataFrame()
    mine, theirs = wide[system], wide[opponent]
    names = sorted(set(mine.columns) | set(theirs.columns))
    return mine.reindex(columns=names), theirs.reindex(columns=names)
