"""The bootstrap engine: both resampling paths give the item bootstrap's moments."""

import numpy as np
import pytest

from annotations.stats import bootstrap


def test_bootstrap_totals_paths_agree(monkeypatch):
    # many distinct per-item rows use explicit item weights; few use the multinomial over patterns
    rng = np.random.default_rng(12)
    values = np.column_stack([rng.normal(size=3000), np.ones(3000)])
    explicit = bootstrap.bootstrap_totals(values, 2000, seed=1)
    monkeypatch.setattr(bootstrap, "PATTERN_LIMIT", 10**6)
    patterns = bootstrap.bootstrap_totals(values, 2000, seed=1)
    assert (explicit[:, 1] == 3000).all() and (patterns[:, 1] == 3000).all()
    for totals in (explicit, patterns):
        # a resampled total has mean G * mean and SD sqrt(G) * SD (population SD of the rows)
        assert totals[:, 0].mean() == pytest.approx(
            values[:, 0].sum(), abs=3 * values[:, 0].std() * 3000**0.5 / 40
        )
        assert totals[:, 0].std() == pytest.approx(values[:, 0].std() * 3000**0.5, rel=0.08)
