"""The bootstrap engine of the statistics under its old name: it lives in `ft_core.resampling` (numpy only),
the one resampling engine of the repository, so that the run's comparison and the results page draw the same
resamples."""

from ft_core.resampling import (  # noqa: F401
    DRAWS_PER_CALL,
    PATTERN_LIMIT,
    RATIONAL_DENOMINATOR,
    BatchJob,
    BootstrapBatch,
    DistinctRows,
    bootstrap_each,
    bootstrap_totals,
    distinct_rows,
    item_weights,
    pattern_totals,
    resample_totals,
    weights_totals,
)
