"""ft_core.resampling, the one bootstrap engine: both resampling paths give the item bootstrap's moments."""

import numpy as np
import pytest
from helpers.at_once import at_once, raised

from ft_core import resampling


def test_bootstrap_totals_paths_agree(monkeypatch):
    # many distinct per-item rows use explicit item weights; few use the multinomial over patterns
    rng = np.random.default_rng(12)
    values = np.column_stack([rng.normal(size=3000), np.ones(3000)])
    explicit = resampling.bootstrap_totals(values, 2000, seed=1)
    monkeypatch.setattr(resampling, "PATTERN_LIMIT", 10**6)
    patterns = resampling.bootstrap_totals(values, 2000, seed=1)
    assert (explicit[:, 1] == 3000).all() and (patterns[:, 1] == 3000).all()
    for totals in (explicit, patterns):
        # a resampled total has mean G * mean and SD sqrt(G) * SD (population SD of the rows)
        assert totals[:, 0].mean() == pytest.approx(
            values[:, 0].sum(), abs=3 * values[:, 0].std() * 3000**0.5 / 40
        )
        assert totals[:, 0].std() == pytest.approx(values[:, 0].std() * 3000**0.5, rel=0.08)


def columns_with_exact_ties(n_items: int, seed: int) -> np.ndarray:
    """Per-item columns as the statistics build them: counts, half counts, Likert scores, means of one to
    three ratings (halves and thirds), a 0/1 indicator, and continuous values; many resampled totals tie
    exactly."""
    rng = np.random.default_rng(seed)
    ratings = rng.integers(1, 6, (n_items, 3))
    n_ratings = rng.integers(1, 4, n_items)
    means = np.array([r[:k].mean() for r, k in zip(ratings, n_ratings)])
    return np.column_stack(
        [
            rng.integers(0, 4, n_items),
            rng.integers(0, 7, n_items) / 2,
            ratings[:, 0],
            means,
            rng.random(n_items) < 0.7,
            rng.normal(size=n_items),
            rng.normal(size=n_items) * rng.normal(size=n_items) * 1e3,
        ]
    ).astype(float)


def test_totals_are_exact_on_whole_and_rational_columns():
    """Counts, half counts, scores and means of a few ratings times whole resample counts: the totals are the
    exact sums (checked in integer arithmetic), so resampled means that tie in exact arithmetic tie here."""
    values = columns_with_exact_ties(400, seed=1)[:, :5]
    weights = resampling.item_weights(400, 300, 5)
    totals = resampling.weights_totals(values, 300, 5)
    scaled = np.round(values * resampling.RATIONAL_DENOMINATOR).astype(np.int64)
    exact = weights.astype(np.int64) @ scaled  # integer arithmetic: no rounding anywhere
    assert np.array_equal(totals, exact / resampling.RATIONAL_DENOMINATOR)
    means = totals[:, 3] / totals[:, 4]
    assert len(np.unique(means)) < len(means)  # exact ties do occur, and survive


@pytest.mark.parametrize("width", [1, 2, 7, 50])
def test_a_column_has_the_same_totals_alone_and_in_a_batch_of_any_width(width):
    """The cause of the correlation mismatch: a matrix product sums in an order that depends on the width of
    the whole batch (a BLAS detail), so a statistic's totals depended on the other statistics beside it. Now
    each column's totals are bit-identical alone and at any position of any batch."""
    columns = columns_with_exact_ties(500, seed=2)
    rng = np.random.default_rng(width)
    others = [columns[:, rng.integers(columns.shape[1])] * rng.integers(1, 4) for _ in range(width - 1)]
    for j in range(columns.shape[1]):
        alone = resampling.weights_totals(columns[:, j], 400, 9)[:, 0]
        for position in sorted({0, (width - 1) // 2, width - 1}):
            batch = np.column_stack(others[:position] + [columns[:, j]] + others[position:])
            assert np.array_equal(resampling.weights_totals(batch, 400, 9)[:, position], alone), (j, position)


def test_continuous_columns_keep_float64_accuracy():
    values = columns_with_exact_ties(3000, seed=3)[:, 5:]
    weights = resampling.item_weights(3000, 200, 4).astype(float)
    expected = weights @ values
    totals = resampling.weights_totals(values, 200, 4)
    scale = np.abs(values).max(axis=0) * 3000
    assert np.abs(totals - expected).max(axis=0) / scale == pytest.approx([0, 0], abs=1e-13)


def test_a_batch_gives_each_statistic_what_it_gets_alone():
    columns = columns_with_exact_ties(300, seed=4)
    batch = resampling.BootstrapBatch(300, 500, 2)
    ratio = batch.add(columns[:, [3, 4]], lambda t: t[:, 0] / t[:, 1])
    total = batch.add(columns[:, 5], lambda t: t[:, 0])
    same_again = batch.add(columns[:, [3, 4]], lambda t: t[:, 0] / t[:, 1])  # resampled once, read twice
    batch.run()
    alone = resampling.weights_totals(columns[:, [3, 4]], 500, 2)
    assert np.array_equal(ratio.samples, alone[:, 0] / alone[:, 1])
    assert np.array_equal(same_again.samples, ratio.samples)
    assert np.array_equal(total.samples, resampling.weights_totals(columns[:, 5], 500, 2)[:, 0])
    assert len(batch.columns) == 3
    idle = resampling.BootstrapBatch(300, 0, 2)
    job = idle.add(columns[:, 0], lambda t: t[:, 0])
    idle.run()
    assert job.samples is None


@pytest.mark.parametrize("kind", ["counts", "half counts", "signed floats", "wide counts"])
def test_distinct_rows_are_pandas_value_counts_in_sorted_order(kind):
    """Both encodings (one integer per row, or column by column) give pandas' sorted value counts, and
    `inverse` rebuilds the input (the pattern bootstrap's multinomial depends on this order)."""
    import pandas as pd

    rng = np.random.default_rng(7)
    values = {
        "counts": rng.integers(0, 4, (500, 3)).astype(float),
        "half counts": rng.integers(0, 7, (500, 2)) / 2,
        "signed floats": rng.choice([-1.5, 0.25, 2.0, 1 / 3], (500, 2)),
        "wide counts": rng.integers(0, 2**20, (500, 4)).astype(float),  # the integer key would overflow
    }[kind]
    distinct = resampling.distinct_rows(values)
    expected = pd.DataFrame(values).value_counts(sort=False).sort_index()
    assert np.array_equal(distinct.rows, np.array(expected.index.tolist()))
    assert np.array_equal(distinct.counts, expected.to_numpy())
    assert np.array_equal(distinct.rows[distinct.inverse], values)
    assert len(resampling.distinct_rows(values[:0]).rows) == 0


def test_bootstrap_each_gives_every_statistic_what_it_gets_alone():
    rng = np.random.default_rng(11)
    statistics = [
        rng.integers(0, 3, (3000, 2)).astype(float),  # few patterns: multinomial
        rng.normal(size=3000),  # many distinct rows: item weights ...
        rng.normal(size=(3000, 2)),  # ... in one pass with the previous one
        rng.normal(size=2500),  # other items: another pass
        np.zeros((0, 1)),
    ]
    together = resampling.bootstrap_each(statistics, 300, 4)
    for values, totals in zip(statistics, together):
        alone = resampling.bootstrap_totals(values, 300, 4)
        assert np.array_equal(totals, alone, equal_nan=True)


@pytest.mark.parametrize(
    "n_items, n_boot", [(1, 3), (2, 5), (7, 40), (400, 300), (20_000, 60), (30_303, 300)]
)
def test_item_weights_count_one_call_of_n_items_draws_per_resample(n_items, n_boot):
    """The definition the statistics were pinned with: row b counts the b-th `rng.integers(0, G, G)`. The
    weights are drawn a block of rows per call (fast, and few GIL hand-overs), which must give the same
    rows: odd and even G, one item, one block, and several blocks with a partial last one (30,303 items:
    138 rows per block)."""
    resampling.item_weights.cache_clear()
    rng = np.random.default_rng(11)
    expected = np.stack(
        [np.bincount(rng.integers(0, n_items, n_items), minlength=n_items) for _ in range(n_boot)]
    )
    weights = resampling.item_weights(n_items, n_boot, 11)
    assert weights.dtype == np.float64 and not weights.flags.writeable
    assert np.array_equal(weights, expected)


def test_item_weights_are_computed_once_when_stages_ask_at_the_same_time():
    """The analysis stages run on threads and each asks for the shared resamples: they must get one array, not
    one each (a plain lru_cache let concurrent callers each compute their own 200 MB)."""
    import threading

    resampling.item_weights.cache_clear()
    start = threading.Barrier(4)

    def ask(_) -> np.ndarray:
        start.wait()
        return resampling.item_weights(20_000, 200, 3)

    got = at_once(ask, range(4))
    assert raised(got) == [] and all(weights is got[0] for weights in got)


def test_paired_differences_batched_are_each_what_they_get_alone_and_a_mean_is_the_mean_difference():
    # several metrics on the same items share one pass over the weights (explicit weights: 2,500 distinct
    # differences) and one on fewer items a multinomial over its rows; each must be bit-identical alone
    rng = np.random.default_rng(6)
    item = rng.normal(0.4, 0.1, 2500)
    pairs = [(item + rng.normal(0, 0.05, 2500), item + d + rng.normal(0, 0.05, 2500)) for d in (0.0, 0.02)]
    pairs.append((np.round(item[:80], 1), np.round(item[:80] + 0.1, 1)))
    together = resampling.paired_differences(pairs, n_boot=300, confidence=0.9, seed=2)
    for (base, finetuned), got in zip(pairs, together):
        alone = resampling.paired_difference(base, finetuned, n_boot=300, confidence=0.9, seed=2)
        assert (got.delta, got.ci_low, got.ci_high) == (alone.delta, alone.ci_low, alone.ci_high)
        assert np.array_equal(got.deltas, alone.deltas)
        diff = finetuned - base
        assert got.delta == diff.mean() and got.n == len(diff)
        # the resamples are the item bootstrap of the per-item differences, through the one engine
        totals = resampling.bootstrap_totals(diff, 300, 2)[:, 0] / len(diff)
        assert (got.ci_low, got.ci_high) == resampling.percentile_interval(totals, 0.9)
    assert together[1].ci_low > 0 > together[0].ci_low  # the 0.02 difference is found, the null one is not


def test_paired_difference_refuses_what_does_not_pair_in_one_line():
    with pytest.raises(ValueError, match="pair the same items"):
        resampling.paired_difference(np.ones(5), np.ones(4))
    with pytest.raises(ValueError, match="confidence must be in"):
        resampling.paired_difference(np.ones(5), np.ones(5), confidence=95)
    one = resampling.paired_difference(np.array([0.2, np.nan]), np.array([0.5, 0.1]))
    assert one.n == 1 and one.delta == pytest.approx(0.3) and one.ci_low is None  # no interval from one item
