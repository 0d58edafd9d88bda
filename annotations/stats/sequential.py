"""An anytime-valid verdict: a confidence sequence for the win rate, updated with every completed item, and
the decision it allows (fine-tune better, base better, equivalent within +-delta, or keep going), for the
results page and the campaign's overview.

The sequence is the hedged-capital betting confidence sequence with predictable plug-in bets of Waudby-Smith &
Ramdas (2024), "Estimating means of bounded random variables by betting", JRSS B 86(1), section 4 (eq. 26-27,
Theorem 3): for every candidate mean m, two gamblers bet that the mean is above m and below m; m leaves the
set once their hedged wealth reaches 1/alpha (Ville's inequality). With probability at least 1 - alpha the
true mean is inside the interval at every time at once, so it may be looked at after every item and the
campaign stopped whenever it is decided. What it does not cover: changing the question (the pair, the
criterion, delta) after looking at the data.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from annotations.stats.ppi import StatsInputError

# c of the paper: a bet never risks more than half the wealth (the default of the authors' `confseq`)
BET_LIMIT = 0.5
# candidate means; the interval is rounded outwards to this grid (so at most 2 / GRID_SIZE wider)
GRID_SIZE = 1000
_CELLS_PER_CHUNK = 4_000_000  # time x grid cells held in memory at once


@dataclass(frozen=True)
class ConfidenceSequence:
    """Lower and upper ends after each value (arrays of the length of the input), valid at all times at once.

    Unpacks as `lower, upper = confidence_sequence(values)`."""

    lower: np.ndarray
    upper: np.ndarray
    mean: np.ndarray  # the running mean after each value
    alpha: float

    def __iter__(self):
        return iter((self.lower, self.upper))

    def __len__(self) -> int:
        return 2


def _check_values(values, alpha: float) -> np.ndarray:
    if not 0 < alpha < 1:
        raise StatsInputError(f"alpha must be between 0 and 1, got {alpha}")
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise StatsInputError(f"values must be a flat list of numbers, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise StatsInputError(f"values have {int(np.sum(~np.isfinite(x)))} missing or infinite entries")
    if len(x) and (x.min() < 0 or x.max() > 1):
        raise StatsInputError(f"values must lie in [0, 1] (tie = 0.5), got values in [{x.min()}, {x.max()}]")
    return x


def plug_in_bets(x: np.ndarray, alpha: float) -> np.ndarray:
    """The predictable plug-in bet size before each value (Waudby-Smith & Ramdas 2024, eq. 26, with
    log(2/alpha) for the two-sided hedge, truncated at c = BET_LIMIT): it uses only the values before it,
    which is what makes the wealth a supermartingale under the true mean.

    The paper's hedged process truncates at c / m and c / (1 - m) instead, which is never tighter; truncating
    at c (a bet the paper's Theorem 3 equally allows, being predictable and in range) keeps the early, noisy
    bets from digging a hole near 1/2 and decides a 0.55 win rate in about two thirds of the items
    (bench/sequential_stop.py).
    """
    t = np.arange(1, len(x) + 1)
    mu_hat = (0.5 + np.cumsum(x)) / (t + 1)  # after value t, value t included (as in the paper)
    sigma2 = (0.25 + np.cumsum((x - mu_hat) ** 2)) / (t + 1)
    sigma2_before = np.concatenate([[0.25], sigma2[:-1]])
    return np.minimum(np.sqrt(2 * math.log(2 / alpha) / (sigma2_before * t * np.log1p(t))), BET_LIMIT)


def confidence_sequence(values, alpha: float = 0.05, grid_size: int = GRID_SIZE) -> ConfidenceSequence:
    """Betting confidence sequence for the mean of `values` in [0, 1] (in arrival order): `lower[t]`,
    `upper[t]` after value t, with P(the mean is inside at every t) >= 1 - alpha.

    Reference: Waudby-Smith & Ramdas (2024), "Estimating means of bounded random variables by betting", hedged
    capital process with predictable plug-in bets (Theorem 3), running intersection.
    """
    x = _check_values(values, alpha)
    n = len(x)
    if n == 0:
        return ConfidenceSequence(np.empty(0), np.empty(0), np.empty(0), alpha)
    lower, upper = _betting_bounds(x, plug_in_bets(x, alpha), alpha, grid_size)
    mean = np.cumsum(x) / np.arange(1, n + 1)
    return ConfidenceSequence(lower, upper, mean, alpha)


def _betting_bounds(
    x: np.ndarray,
    bets: np.ndarray,
    alpha: float,
    grid_size: int,
    shift_up: np.ndarray | None = None,
    shift_down: np.ndarray | None = None,
    reach_up: np.ndarray | None = None,
    reach_down: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The running intersection of the candidate means m in (0, 1) that neither gambler has ruled out: the
    one betting the mean is above m gains bets * (x - m - shift_up), the one betting below loses
    bets * (x - m - shift_down) (shifts default to 0; the prediction-powered sequence moves each gambler's
    break-even point by the most the proxy's mean can be off, and caps each gambler's bet at
    BET_LIMIT / (m + reach_up) and BET_LIMIT / (1 - m + reach_down), the most a value can fall below or rise
    above m beyond [0, 1], so no stake exceeds BET_LIMIT of the wealth)."""
    n = len(x)
    m = np.arange(1, grid_size) / grid_size  # interior candidates; 0 and 1 are never rejected
    threshold = math.log(1 / alpha) - math.log(0.5)  # hedged wealth max(K+, K-) / 2 >= 1 / alpha rejects m
    log_up = np.zeros(len(m))  # log wealth of the gambler who bets the mean is above m
    log_down = np.zeros(len(m))
    lower, upper = np.empty(n), np.empty(n)
    chunk = max(1, _CELLS_PER_CHUNK // len(m))
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        xs, bs = x[part, None], bets[part, None]
        if shift_up is None:
            # the bets are <= c <= c / m and c / (1 - m), so both gamblers stake the same
            stake = bs * (xs - m)
            down = np.cumsum(np.log1p(-stake), axis=0)
            up = np.cumsum(np.log1p(stake, out=stake), axis=0)
        else:
            bets_up = np.minimum(bs, BET_LIMIT / (m + reach_up[part, None]))
            bets_down = np.minimum(bs, BET_LIMIT / (1 - m + reach_down[part, None]))
            up = np.cumsum(np.log1p(bets_up * (xs - m - shift_up[part, None])), axis=0)
            down = np.cumsum(np.log1p(-bets_down * (xs - m - shift_down[part, None])), axis=0)
        up += log_up
        down += log_down
        log_up, log_down = up[-1].copy(), down[-1].copy()
        hedged = np.maximum(up, down, out=up)
        kept = hedged < threshold
        lower[start : start + len(xs)], upper[start : start + len(xs)] = _interval_on_grid(kept, hedged, m)
    return _running_intersection(lower, upper)


def _interval_on_grid(kept: np.ndarray, hedged: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hull of the kept candidates at each time, rounded outwards to the next rejected grid point (the
    set's true ends lie between a kept and a rejected candidate). A time where every candidate is rejected
    keeps the least rejected one and its two neighbours."""
    grid = np.concatenate([[0.0], m, [1.0]])  # grid[j + 1] is m[j]
    any_kept = kept.any(axis=1)
    first = np.where(any_kept, np.argmax(kept, axis=1), np.argmin(hedged, axis=1))
    last = np.where(any_kept, len(m) - 1 - np.argmax(kept[:, ::-1], axis=1), first)
    return grid[first], grid[last + 2]


def _running_intersection(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The intersection of the intervals so far (still valid at all times; Waudby-Smith & Ramdas 2024, sec.
    3). Should it ever become empty (the mean was missed, probability <= alpha), the last non-empty one is
    kept."""
    low, high = np.maximum.accumulate(lower), np.minimum.accumulate(upper)
    crossed = np.flatnonzero(low > high)
    if len(crossed):
        k = crossed[0]
        low[k:], high[k:] = (low[k - 1], high[k - 1]) if k else (lower[0], upper[0])
    return low, high


# share of alpha spent on bounding the proxy's mean over the unjudged items (the rest goes to the betting)
PROXY_MEAN_SHARE = 0.2
LAM_WARMUP = 10  # judged items before lam is estimated; until then lam = 0 (the human labels alone)


@dataclass(frozen=True)
class PPIConfidenceSequence:
    """The prediction-powered confidence sequence: lower and upper ends after each judged item, valid at all
    times at once, and what went into them. Unpacks as `lower, upper = ppi_confidence_sequence(...)`."""

    lower: np.ndarray
    upper: np.ndarray
    mean: np.ndarray  # the running prediction-powered estimate after each item
    lam: np.ndarray  # the weight of the proxy for each item, estimated from the items before it
    alpha: float
    proxy_mean: float  # mean of the proxy over the unjudged items
    proxy_mean_low: float  # its population mean lies in [low, high] with probability >= 1 - alpha share
    proxy_mean_high: float
    n_unlabelled: int

    def __iter__(self):
        return iter((self.lower, self.upper))

    def __len__(self) -> int:
        return 2


def proxy_mean_bounds(yhat_unlabelled: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """The mean of the proxy over the unjudged items and a (1 - alpha) interval for its population mean: the
    betting interval of Waudby-Smith & Ramdas (2024) read at its last step, with bets tuned to the pool's
    size N, sqrt(2 log(2 / alpha) / (N sigma2)) with sigma2 from the values before (any predictable bets keep
    it valid; these make it about as narrow as a CLT interval), truncated at BET_LIMIT. Each end is where that
    gambler's hedged wealth reaches 1 / alpha (it is monotone in m), found by root finding, not on a grid."""
    from scipy import optimize

    x = np.asarray(yhat_unlabelled, dtype=float)
    big_n = len(x)
    t = np.arange(1, big_n + 1)
    mu_hat = (0.5 + np.cumsum(x)) / (t + 1)
    sigma2 = (0.25 + np.cumsum((x - mu_hat) ** 2)) / (t + 1)
    sigma2_before = np.concatenate([[0.25], sigma2[:-1]])
    bets = np.minimum(np.sqrt(2 * math.log(2 / alpha) / (big_n * sigma2_before)), BET_LIMIT)
    threshold = math.log(1 / alpha) - math.log(0.5)

    def log_up(m: float) -> float:  # decreasing in m
        return float(np.sum(np.log1p(bets * (x - m)))) - threshold

    def log_down(m: float) -> float:  # increasing in m
        return float(np.sum(np.log1p(-bets * (x - m)))) - threshold

    low = optimize.brentq(log_up, 0.0, 1.0, xtol=1e-9) if log_up(0.0) > 0 > log_up(1.0) else 0.0
    high = optimize.brentq(log_down, 0.0, 1.0, xtol=1e-9) if log_down(0.0) < 0 < log_down(1.0) else 1.0
    return float(np.mean(x)), low, high


def predictable_lam(
    y: np.ndarray, yhat: np.ndarray, shift_width: float = 0.0, alpha: float = 0.05
) -> np.ndarray:
    """For each item, the weight of the proxy from the items before it only (predictable: item i's lam never
    sees item i), in steps of 0.05 on [0, 1]; 0 for the first LAM_WARMUP items.

    It minimises the sequence's rough width at this item, 2 * sqrt(2 log(2 / alpha) / t) * sd(y - lam * yhat)
    + lam * shift_width. The first term (about the human-only sequence's width at a few hundred items) alone
    gives PPI++'s variance-minimising weight, cov(y, yhat) / var(yhat); the second is what the unknown proxy
    mean costs (`ppi_confidence_sequence` moves the ends by lam times its error), so lam falls as the items
    grow and the noise the proxy removes falls below that cost."""
    t = np.arange(len(y), dtype=float)  # items before each one
    before = [np.concatenate([[0.0], np.cumsum(v)[:-1]]) for v in (y, yhat, y * y, y * yhat, yhat * yhat)]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_y, mean_f, mean_yy, mean_yf, mean_ff = (v / t for v in before)
        var_y, covariance = mean_yy - mean_y**2, mean_yf - mean_y * mean_f
        var_f = mean_ff - mean_f**2
    weights = np.linspace(0.0, 1.0, 21)
    variance = var_y[:, None] - 2 * weights * covariance[:, None] + weights**2 * var_f[:, None]
    scale = np.sqrt(2 * math.log(2 / alpha) / (t + 1))
    width = 2 * scale[:, None] * np.sqrt(np.maximum(variance, 1e-12)) + weights * shift_width
    lam = weights[np.argmin(np.nan_to_num(width, nan=np.inf), axis=1)]
    usable = (t >= LAM_WARMUP) & (var_f > 1e-12)
    return np.where(usable, lam, 0.0)


def ppi_confidence_sequence(
    y, yhat, yhat_unlabelled, alpha: float = 0.05, grid_size: int = GRID_SIZE
) -> PPIConfidenceSequence:
    """An anytime-valid prediction-powered confidence sequence for the human win rate: `y` the judged items'
    human labels in [0, 1] in the order they were completed, `yhat` the proxy (in [0, 1]) on those items,
    `yhat_unlabelled` the proxy on items nobody judged.

    The betting confidence sequence (Waudby-Smith & Ramdas 2024, Theorem 3, as `confidence_sequence`) run on
    the rectified values of PPI (Angelopoulos et al., Science 2023; PPI++, Angelopoulos, Duchi & Zrnic 2023)

        z_i = y_i - lam_i * (yhat_i - mean(yhat_unlabelled)),

    with lam_i from the items before i only (`predictable_lam`: PPI++'s weight, lowered as the proxy mean's
    price below outweighs the noise it removes) and the plug-in bets of z. Why it is valid:
    with items drawn independently of the unjudged pool, E[z_i | the past] = theta + lam_i * eps, eps = the
    pool's proxy mean minus the population's. With probability >= 1 - PROXY_MEAN_SHARE * alpha, eps lies in
    [eps_lo, eps_hi] (`proxy_mean_bounds`); on that event the gambler betting above m, paid
    bet * (z - m - lam * eps_hi), and the one betting below, paid -bet * (z - m - lam * eps_lo), each hold a
    nonnegative supermartingale when theta = m (z lies in [-lam, 1 + lam], and each bet is capped so no stake
    exceeds half the wealth), so Ville's inequality at the remaining alpha gives
    P(theta is outside at some time) <= alpha. Nothing is asymptotic; the price of the unknown proxy mean is
    a shift of lam * eps, small when many items are unjudged. Related: Kilian, Cortinovis & Caron (2025),
    "Anytime-valid, Bayes-assisted, prediction-powered inference" (asymptotic); Csillag, Struchiner & Goedert
    (ICML 2025), "Prediction-powered e-values" (Bernoulli-sampled labels).
    """
    x = _check_values(y, alpha)
    proxy = np.asarray(yhat, dtype=float)
    pool = np.asarray(yhat_unlabelled, dtype=float)
    for name, values in (("yhat", proxy), ("yhat_unlabelled", pool)):
        if values.ndim != 1 or not np.all(np.isfinite(values)):
            raise StatsInputError(f"{name} must be a flat list of finite numbers")
        if len(values) and (values.min() < 0 or values.max() > 1):
            raise StatsInputError(
                f"{name} must lie in [0, 1], got values in [{values.min()}, {values.max()}]"
            )
    if len(proxy) != len(x):
        raise StatsInputError(
            f"y has {len(x)} values but yhat has {len(proxy)}: one proxy value per judged item"
        )
    if len(pool) < 2:
        raise StatsInputError(f"at least 2 unjudged items with a proxy are needed, got {len(pool)}")
    proxy_alpha = PROXY_MEAN_SHARE * alpha
    pool_mean, pool_low, pool_high = proxy_mean_bounds(pool, proxy_alpha)
    eps_lo, eps_hi = pool_mean - pool_high, pool_mean - pool_low
    n = len(x)
    if n == 0:
        empty = np.empty(0)
        return PPIConfidenceSequence(
            empty, empty, empty, empty, alpha, pool_mean, pool_low, pool_high, len(pool)
        )
    lam = predictable_lam(x, proxy, eps_hi - eps_lo, alpha - proxy_alpha)
    z = x - lam * (proxy - pool_mean)
    betting_alpha = alpha - proxy_alpha
    # z - m - lam * eps_hi >= -(m + lam * (1 - pool_mean + eps_hi)), z - m - lam * eps_lo <= 1 - m + lam *
    # (pool_mean - eps_lo): the reaches that cap each gambler's bet
    reach_up, reach_down = lam * (1 - pool_mean + eps_hi), lam * (pool_mean - eps_lo)
    bets = plug_in_bets(z, betting_alpha)
    lower, upper = _betting_bounds(
        z, bets, betting_alpha, grid_size, lam * eps_hi, lam * eps_lo, reach_up, reach_down
    )
    mean = np.cumsum(z) / np.arange(1, n + 1)
    return PPIConfidenceSequence(lower, upper, mean, lam, alpha, pool_mean, pool_low, pool_high, len(pool))


VERDICTS = {
    "finetune_better": "The fine-tune is better — you may stop.",
    "base_better": "The base is better — you may stop.",
    "equivalent": "They are equivalent within ±{delta:g} — you may stop.",
    "keep_going": "Keep going",
}


@dataclass(frozen=True)
class Decision:
    """What the confidence sequence allows after `n` items."""

    verdict: str  # one of VERDICTS
    message: str
    lower: float
    upper: float
    n: int | None
    delta: float
    more_items: (
        int | None
    )  # rough items still needed at the current effect (keep_going only; None: no end seen)

    @property
    def may_stop(self) -> bool:
        return self.verdict != "keep_going"

    def to_dict(self) -> dict:
        return asdict(self)


def _last(values) -> float:
    array = np.atleast_1d(np.asarray(values, dtype=float))
    if len(array) == 0:
        raise StatsInputError("no values yet: the confidence sequence is empty")
    return float(array[-1])


def decide(lower, upper, delta: float, *, estimate: float | None = None, n: int | None = None) -> Decision:
    """The verdict from a confidence sequence's current ends (arrays: their last values; `n` defaults to their
    length): fine-tune better (lower > 1/2), base better (upper < 1/2), equivalent (inside 1/2 +- delta), or
    keep going with a rough count of further items at the current effect (`estimate`, default the midpoint).

    The count assumes the half-width shrinks like sqrt(log(1 + t) / t), the rate of the plug-in bets; it is a
    planning figure, not a guarantee."""
    if not 0 <= delta < 0.5:
        raise StatsInputError(f"delta must be in [0, 0.5), got {delta}")
    if n is None and np.ndim(lower) > 0:
        n = len(lower)
    low, high = _last(lower), _last(upper)
    if low > high:
        raise StatsInputError(f"lower end {low} is above upper end {high}")
    more = None
    if low > 0.5:
        verdict = "finetune_better"
    elif high < 0.5:
        verdict = "base_better"
    elif low >= 0.5 - delta and high <= 0.5 + delta:
        verdict = "equivalent"
    else:
        verdict = "keep_going"
        centre = (low + high) / 2 if estimate is None else estimate
        more = _more_items((high - low) / 2, abs(centre - 0.5), delta, n)
    message = VERDICTS[verdict].format(delta=delta)
    if verdict == "keep_going":
        if more:
            message += f" — about {more} more items at the current effect."
        elif n:  # the effect is too small for a verdict either way at any size we would plan for
            message += " — no end in sight at the current effect."
        else:
            message += "."
    return Decision(verdict, message, low, high, n, delta, more)


def _more_items(half_width: float, effect: float, delta: float, n: int | None) -> int | None:
    """Items beyond `n` until the half-width falls under the easier of: the effect (a winner), or delta
    minus the effect (equivalence)."""
    target = max(effect, delta - effect)
    if not n or target <= 0 or half_width <= 0:
        return None

    def width_at(t: float) -> float:
        return half_width * math.sqrt((math.log1p(t) / t) / (math.log1p(n) / n))

    total = n
    while width_at(total) > target:
        total *= 2
        if total > 1e9:
            return None
    low_total = total // 2
    while total - low_total > 1:  # bisection for the first total with width <= target
        middle = (low_total + total) // 2
        low_total, total = (low_total, middle) if width_at(middle) <= target else (middle, total)
    return max(1, total - n)
