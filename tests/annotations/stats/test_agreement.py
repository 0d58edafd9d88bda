"""Agreement statistics against Krippendorff's published example, the `krippendorff` package, sklearn and
statsmodels."""

import itertools

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from annotations.errors import AnnotationError
from annotations.stats.agreement import (
    cohen_kappa_pairs,
    fleiss_kappa,
    gold_agreement,
    krippendorff_alpha,
    majority_agreement,
    self_consistency,
)

nan = np.nan
# K. Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units,
#    values 1-5 with missing data. Published: nominal .743, ordinal .815, interval .849, ratio .797.
PAPER_DATA = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
)
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


def to_long(matrix: np.ndarray) -> pd.DataFrame:
    rows = [
        (f"u{u}", f"a{a}", matrix[a, u])
        for a in range(matrix.shape[0])
        for u in range(matrix.shape[1])
        if not np.isnan(matrix[a, u])
    ]
    return pd.DataFrame(rows, columns=["item_id", "annotator_id", "value"])


@pytest.mark.parametrize("level", list(PUBLISHED))
def test_alpha_matches_published_example_and_package(level):
    result = krippendorff_alpha(to_long(PAPER_DATA), level, n_boot=200)
    assert round(result.alpha, 3) == PUBLISHED[level]
    assert result.alpha == pytest.approx(
        krippendorff.alpha(reliability_data=PAPER_DATA, level_of_measurement=level)
    )
    assert result.n_units == 11  # unit 12 has a single rating: not pairable
    assert result.n_annotators == 4
    assert result.ci_low <= result.alpha <= result.ci_high


def test_binary_example_of_the_paper():
    # Same paper, section A: two observers, ten units, binary data; published alpha = 0.095.
    matrix = np.array([[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]], dtype=float)
    assert round(krippendorff_alpha(to_long(matrix), "nominal", n_boot=0).alpha, 3) == 0.095


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_package_on_random_data_with_missing_values(level):
    rng = np.random.default_rng(7)
    truth = rng.integers(1, 6, 60)
    matrix = np.clip(truth + rng.integers(-1, 2, (5, 60)), 1, 5).astype(float)
    matrix[rng.random(matrix.shape) < 0.3] = nan
    result = krippendorff_alpha(to_long(matrix), level, n_boot=0)
    assert result.alpha == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    )


def _assert_leave_one_out_is_alpha_of_the_rest(matrix: np.ndarray) -> None:
    """Each annotator's leave-one-out interval alpha (rows of `matrix` are annotators a0, a1, ...) equals
    the `krippendorff` package's alpha of the other rows."""
    result = krippendorff_alpha(to_long(matrix), "interval", n_boot=0)
    for a in range(len(matrix)):
        rest = np.delete(matrix, a, axis=0)
        expected = krippendorff.alpha(reliability_data=rest, level_of_measurement="interval")
        assert result.leave_one_out[f"a{a}"] == pytest.approx(expected)


def test_leave_one_annotator_out_equals_alpha_without_that_annotator():
    _assert_leave_one_out_is_alpha_of_the_rest(PAPER_DATA)


def test_bootstrap_matches_naive_unit_resampling_and_is_reproducible():
    rng = np.random.default_rng(3)
    truth = rng.integers(1, 6, 80)
    matrix = np.clip(truth + rng.integers(-1, 2, (3, 80)), 1, 5).astype(float)
    df = to_long(matrix)
    fast = krippendorff_alpha(df, "ordinal", n_boot=1000, seed=5)
    assert krippendorff_alpha(df, "ordinal", n_boot=1000, seed=5) == fast
    # Naive item bootstrap with the independent package: resample columns (units) with replacement.
    naive = [
        krippendorff.alpha(
            reliability_data=matrix[:, rng.integers(0, 80, 80)], level_of_measurement="ordinal"
        )
        for _ in range(600)
    ]
    low, high = np.quantile(naive, [0.025, 0.975])
    assert fast.ci_low == pytest.approx(low, abs=0.04)
    assert fast.ci_high == pytest.approx(high, abs=0.04)


def test_alpha_without_variation_is_undefined_with_a_reason():
    df = pd.DataFrame({"item_id": [1, 1, 2, 2], "annotator_id": ["a", "b", "a", "b"], "value": ["x"] * 4})
    result = krippendorff_alpha(df, "nominal")
    assert result.alpha is None and result.ci_low is None
    assert "no variation" in result.reason


def test_alpha_without_pairable_values_is_undefined_with_a_reason():
    df = pd.DataFrame({"item_id": [1, 2, 3], "annotator_id": ["a", "b", "c"], "value": [1, 2, 3]})
    result = krippendorff_alpha(df, "interval")
    assert result.alpha is None and result.n_units == 0
    assert "two or more annotators" in result.reason
    assert krippendorff_alpha(df.iloc[:0], "interval").reason == "there are no ratings"


def test_alpha_rejects_bad_input_with_actionable_messages():
    df = pd.DataFrame({"item_id": [1, 1], "annotator_id": ["a", "a"], "value": [1, 2]})
    with pytest.raises(AnnotationError, match="duplicates"):
        krippendorff_alpha(df, "interval")
    with pytest.raises(AnnotationError, match="level must be"):
        krippendorff_alpha(df, "cardinal")
    with pytest.raises(AnnotationError, match="numeric"):
        krippendorff_alpha(df.assign(value=["x", "y"], annotator_id=["a", "b"]), "interval")
    with pytest.raises(AnnotationError, match="not found"):
        krippendorff_alpha(df, "nominal", value="score")


def test_cohen_kappa_per_pair_matches_sklearn():
    rng = np.random.default_rng(11)
    labels = np.array(["base", "finetuned", "tie"])
    matrix = labels[rng.integers(0, 3, (3, 50))].astype(object)
    matrix[0, :10] = None  # annotator a0 skipped ten items
    rows = [(u, f"a{a}", matrix[a, u]) for a in range(3) for u in range(50) if matrix[a, u] is not None]
    df = pd.DataFrame(rows, columns=["item_id", "annotator_id", "value"])
    table = cohen_kappa_pairs(df).set_index(["annotator_1", "annotator_2"])
    for a, b in itertools.combinations(range(3), 2):
        shared = [u for u in range(50) if matrix[a, u] is not None and matrix[b, u] is not None]
        expected = cohen_kappa_score(matrix[a, shared].astype(str), matrix[b, shared].astype(str))
        row = table.loc[(f"a{a}", f"a{b}")]
        assert row["n"] == len(shared)
        assert row["kappa"] == pytest.approx(expected)


def test_cohen_kappa_undefined_when_both_use_one_label():
    df = pd.DataFrame({"item_id": [1, 2, 1, 2], "annotator_id": ["a", "a", "b", "b"], "value": ["x"] * 4})
    row = cohen_kappa_pairs(df).iloc[0]
    assert row["kappa"] is None and "one and the same label" in row["reason"]


def test_fleiss_kappa_matches_statsmodels():
    rng = np.random.default_rng(2)
    rows = [(u, f"a{a}", rng.choice(["l", "r", "t"], p=[0.5, 0.3, 0.2])) for u in range(40) for a in range(4)]
    rows += [(100, "a0", "l"), (100, "a1", "r")]  # an item with two ratings only: left out
    df = pd.DataFrame(rows, columns=["item_id", "annotator_id", "value"])
    result = fleiss_kappa(df)
    table = pd.crosstab(df["item_id"], df["value"]).drop(index=100).to_numpy()
    assert result.kappa == pytest.approx(sm_fleiss_kappa(table, method="fleiss"))
    assert (result.n_items, result.raters_per_item, result.n_items_left_out) == (40, 4, 1)


def test_majority_agreement_counts_only_items_with_a_clear_majority_of_others():
    df = pd.DataFrame(
        {
            "item_id": [1, 1, 1, 2, 2, 2, 3, 3],
            "annotator_id": ["a", "b", "c", "a", "b", "c", "a", "b"],
            "value": ["x", "x", "y", "x", "y", "y", "x", "y"],
        }
    )
    out = majority_agreement(df).set_index("annotator_id")
    # a: item1 others {x,y} tie -> skip; item2 others y,y -> disagree; item3 other y -> disagree
    assert out.loc["a", "n"] == 2 and out.loc["a", "agreement"] == 0.0
    # c: item1 others x,x -> disagree (c said y); item2 others x,y tie -> skip
    assert out.loc["c", "n"] == 1 and out.loc["c", "agreement"] == 0.0
    # b: item1 others x,y tie; item2 others x,y tie; item3 other x -> disagree
    assert out.loc["b", "n"] == 1


def test_gold_agreement_and_self_consistency():
    j = pd.DataFrame(
        {
            "annotator_id": ["a", "a", "a", "b", "b"],
            "assignment_id": ["s1", "s2", "s3", "s4", "s5"],
            "winner": ["finetuned", "base", "finetuned", "tie", "base"],
            "is_gold": [True, True, False, True, False],
            "gold_winner": ["finetuned", "finetuned", None, "finetuned", None],
            "is_repeat": [False, False, True, False, True],
            "repeat_of": [None, None, "s1", None, "s4"],
        }
    )
    gold = gold_agreement(j).set_index("annotator_id")
    assert gold.loc["a", "gold_n"] == 2 and gold.loc["a", "gold_accuracy"] == 0.5
    assert gold.loc["b", "gold_accuracy"] == 0.0
    consistency = self_consistency(j).set_index("annotator_id")
    assert consistency.loc["a", "self_consistency"] == 1.0  # s3 repeats s1: finetuned both times
    assert consistency.loc["b", "self_consistency"] == 0.0  # s5 says base, s4 said tie


def test_leave_one_annotator_out_on_a_wide_scale_equals_direct_recompute():
    # 0-100 interval scale: the rows' integer key would overflow int64 (base ** (V + 1) > 2 ** 62).
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 101, 40)
    matrix = np.clip(truth + rng.integers(-15, 16, (5, 40)), 0, 100).astype(float)
    _assert_leave_one_out_is_alpha_of_the_rest(matrix)


def test_cohen_kappa_rejects_duplicate_ratings_like_alpha():
    df = pd.DataFrame(
        {
            "item_id": [1, 1, 1, 2, 2],
            "annotator_id": ["a", "a", "b", "a", "b"],
            "value": ["x", "y", "x", "y", "y"],
        }
    )
    with pytest.raises(AnnotationError, match="one rating per") as kappa_error:
        cohen_kappa_pairs(df)
    with pytest.raises(AnnotationError, match="one rating per") as alpha_error:
        krippendorff_alpha(df, "nominal")
    assert "1 duplicates" in str(kappa_error.value) and "1 duplicates" in str(alpha_error.value)
