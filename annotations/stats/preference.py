"""Who won, and how sure: the win rate of one system over another with an explicit tie policy (Wilson interval
with the item as the unit, exact sign test, item-clustered bootstrap), and Bradley-Terry strengths for
campaigns with more than two systems. For the researcher asking whether the fine-tune helped.

The interval a researcher reads is the item interval (`item_low`, `item_high`): the Wilson score interval of
the item-mean share (each item's share of wins under the tie policy, averaged over the items) with the number
of items as n. It stays honest at the edges: 10 items won unanimously read 72%–100%, never 100%–100% (a
percentile bootstrap collapses to one point when every item has the same share; `boot_note` then says so and
the bootstrap interval is left empty). Counting items rather than judgments is conservative when judges of one
item disagree independently, and right when they agree (the design effect of k judgments per item is then k).

Every statistic works on the de-randomized `winner` (a system name, "tie" or "both_bad"), never on left/right.
Pure functions over the judgments frame (docs/frames.md).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from annotations.errors import AnnotationError
from annotations.stats.intervals import degenerate, half_width, percentile_interval, wilson_interval
from ft_core.resampling import bootstrap_totals

TIE_POLICIES = ("drop", "half", "separate")
TIE_POLICY_HELP = {
    "drop": "ties and 'both bad' are left out: win rate = wins / (wins + losses)",
    "half": "ties and 'both bad' count half a win: win rate = (wins + ties/2) / all judgments",
    "separate": "ties and 'both bad' are their own outcome: win rate = wins / all judgments, tie rate shown "
    "beside",
}
TIE_OUTCOMES = ("tie", "both_bad")


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
        "win rate; Wilson score interval with the item as the unit (item-mean share, n = items); Wilson "
        "score interval over judgments; exact binomial sign test (ties excluded); percentile bootstrap "
        "resampling items"
    )
    item_share: float | None = None  # mean over the items of each item's win share under the tie policy
    item_low: float | None = (
        None  # Wilson score interval of item_share with n = n_items_used: the one to read
    )
    item_high: float | None = None
    n_items_used: int = 0  # items with at least one judgment in the tie policy's denominator
    boot_note: str | None = None  # why the bootstrap interval is empty when it collapsed to a point
    item_p: float | None = (
        None  # two-sided score test of item_share = 1/2 with n = items: the test the Wilson
    )
    # interval inverts, so `item_p < 1 - confidence` exactly when [item_low, item_high] leaves out 1/2

    @property
    def half_width(self) -> float | None:
        """Half the width of the item interval (the one the verdict and the sample-size plan read)."""
        return half_width(self.item_low, self.item_high)

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
    num, den = _policy_counts(win, loss, tie | both_bad, tie_policy)
    n_used, successes = float(den.sum()), float(num.sum())
    result = WinRateResult(
        system=system,
        opponent=opponent,
        tie_policy=tie_policy,
        wins=W,
        losses=L,
        ties=T,
        both_bad=B,
        n_judgments=N,
        n_used=int(n_used),
        n_items=int(rows["item_id"].nunique()),
        win_rate=None,
        tie_rate=(T + B) / N if N else None,
        loss_rate=L / N if N else None,
        wilson_low=None,
        wilson_high=None,
        boot_low=None,
        boot_high=None,
        sign_test_p=None,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
    )
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
    codes = pd.factorize(rows["item_id"], sort=True)[0]
    per_item = np.column_stack([np.bincount(codes, weights=num), np.bincount(codes, weights=den)])
    counted_items = per_item[per_item[:, 1] > 0]
    shares = counted_items[:, 0] / counted_items[:, 1]
    result.n_items_used = len(shares)
    result.item_share = float(shares.mean())
    result.item_low, result.item_high = wilson_interval(
        result.item_share * len(shares), len(shares), confidence
    )
    score = (result.item_share - 0.5) / math.sqrt(0.25 / len(shares))
    result.item_p = float(2 * sps.norm.sf(abs(score)))
    if n_boot > 0:
        totals = bootstrap_totals(per_item, n_boot, seed)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = totals[:, 0] / totals[:, 1]
        low, high = percentile_interval(boot, confidence)
        if degenerate(low, high):
            result.boot_note = collapsed_bootstrap_note(shares)
        else:
            result.boot_low, result.boot_high = low, high
    return result


def collapsed_bootstrap_note(shares: np.ndarray) -> str:
    """Why an item bootstrap of these per-item shares gives no interval, in words."""
    n = len(shares)
    if n == 1:
        return "one item only: the bootstrap cannot give an interval from a single item"
    same = len(np.unique(shares)) == 1
    subject = (
        f"all {n} items agree (each gives {100 * shares[0]:.0f}%)"
        if same
        else f"the {n} items take too few distinct values"
    )
    return f"{subject}; the bootstrap cannot give an interval from so few distinct values"


def _policy_counts(
    win: np.ndarray, loss: np.ndarray, tie: np.ndarray, tie_policy: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per judgment, what it adds to the win rate's numerator and denominator under `tie_policy` (`tie`: a tie
    or both bad)."""
    if tie_policy == "drop":
        return win.astype(float), (win | loss).astype(float)
    if tie_policy == "half":
        return win + 0.5 * tie, np.ones(len(win))
    return win.astype(float), np.ones(len(win))


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
    confidence: float = 0.95  # coverage of the table's [ci_low, ci_high]
    # log-strengths in each item resample (one column per system, relative to `reference`); None without
    # resampling. For comparisons of two systems (annotations.stats.ranking), not for the table.
    boot: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        return {
            **{k: v for k, v in asdict(self).items() if k not in ("table", "boot")},
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
    D. R. Hunter 2004, "MM algorithms for generalized Bradley-Terry models"). Ties and both-bad count half
       a win each way. Intervals: percentile bootstrap resampling items."""
    left = judgments["shown_left"].astype(str).to_numpy()
    right = judgments["shown_right"].astype(str).to_numpy()
    winner = judgments["winner"].astype(str).to_numpy()
    systems = sorted(set(left) | set(right))
    if reference is None:
        reference = str(judgments["system_a"].iloc[0]) if len(judgments) else (systems[0] if systems else "")
    if len(systems) < 2:
        empty = pd.DataFrame(columns=["system", "strength", "ci_low", "ci_high", "p_beats_reference"])
        return BradleyTerryResult(
            empty,
            reference,
            len(judgments),
            n_boot,
            seed,
            "fewer than two systems judged",
            confidence=confidence,
        )
    index = {s: i for i, s in enumerate(systems)}
    S = len(systems)
    flat = _doubled_wins_per_item(judgments, left, right, winner, index)
    wins = flat.sum(axis=0).reshape(S, S) / 2
    if reference not in index:
        raise AnnotationError(
            f"bradley_terry: reference system {reference!r} was not judged; pick one of {', '.join(systems)}"
        )
    ref = index[reference]
    log_strength = _bt_fit(wins)
    log_strength = log_strength - log_strength[ref]
    ci_low = ci_high = [None] * S
    boot_frame = None
    if n_boot > 0:
        boot = _bt_fit(bootstrap_totals(flat, n_boot, seed).reshape(n_boot, S, S) / 2)
        boot = boot - boot[:, [ref]]
        boot_frame = pd.DataFrame(boot, columns=systems)
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
        reason = (
            "a system won all or none of its comparisons: its strength is unbounded (shown at the fit's "
            "limit)"
        )
    return BradleyTerryResult(
        table, reference, len(judgments), n_boot, seed, reason, confidence=confidence, boot=boot_frame
    )


def _doubled_wins_per_item(
    judgments: pd.DataFrame, left: np.ndarray, right: np.ndarray, winner: np.ndarray, index: dict[str, int]
) -> np.ndarray:
    """(items, S * S): twice how often system i beat system j on each item, as whole numbers (a tie or both
    bad gives each side one, half a win), so the item bootstrap resamples counts."""
    S = len(index)
    li, ri = np.array([index[s] for s in left]), np.array([index[s] for s in right])
    left_wins = np.where(winner == left, 2, np.where(winner == right, 0, 1))
    item_index, items = pd.factorize(judgments["item_id"])
    flat = np.zeros((len(items), S * S))
    np.add.at(flat, (item_index, li * S + ri), left_wins)
    np.add.at(flat, (item_index, ri * S + li), 2 - left_wins)
    return flat
