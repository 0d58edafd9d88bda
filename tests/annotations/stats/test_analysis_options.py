"""AnalysisOptions and QualityThresholds check themselves when made: a value out of range is a ValueError
(and an AnnotationError, which the CLI and the pages show) naming the field and the allowed range, on one
line."""

import dataclasses

import pytest

from annotations.errors import AnnotationError
from annotations.fields import field_range
from annotations.stats import AnalysisOptions, QualityThresholds

BAD_THRESHOLDS = [
    ("position_p", 0.0, r"position_p must be in \(0, 1\], got 0.0"),
    ("position_share", 0.4, r"position_share must be in \[0.5, 1\], got 0.4"),
    ("fast_share", 1.5, r"fast_share must be in \[0, 1\], got 1.5"),
    ("gold_accuracy", -0.1, r"gold_accuracy must be in \[0, 1\], got -0.1"),
    ("min_gold", 0, "min_gold must be at least 1, got 0"),
    ("self_consistency", 2, r"self_consistency must be in \[0, 1\], got 2"),
    ("min_repeats", 0, "min_repeats must be at least 1, got 0"),
    ("min_seconds", -1, "min_seconds must be >= 0, got -1"),
    ("max_words_per_second", 0, "max_words_per_second must be positive, got 0"),
]


@pytest.mark.parametrize("name,value,message", BAD_THRESHOLDS)
def test_quality_thresholds_refuse_a_value_out_of_range(name, value, message):
    with pytest.raises(ValueError, match=message) as caught:
        QualityThresholds(**{name: value})
    assert isinstance(caught.value, AnnotationError) and "\n" not in str(caught.value)


def test_every_threshold_has_a_range_and_the_defaults_pass():
    for f in dataclasses.fields(QualityThresholds):
        assert field_range(f.metadata) is not None, f.name
    assert QualityThresholds() == QualityThresholds(**dataclasses.asdict(QualityThresholds()))


@pytest.mark.parametrize(
    "values,message",
    [
        ({"confidence": 0.0}, r"confidence must be in \(0, 1\), got 0.0"),
        ({"confidence": 95}, r"confidence must be in \(0, 1\), got 95"),
        ({"n_boot": -1}, "n_boot must be >= 0, got -1"),
        ({"seed": "x"}, "seed must be of type int"),
        ({"tie_policy": "coin"}, "tie_policy must be one of drop, half, separate"),
        ({"target_half_width": 0.0}, r"target_half_width must be in \(0, 0.5\], got 0.0"),
        ({"detect_difference": 0.7}, r"detect_difference must be in \(0, 0.5\], got 0.7"),
        ({"correlation_methods": ("kendall", "cosine")}, "correlation_methods must be among .*; got cosine"),
        ({"thresholds": {"min_gold": 0}}, "min_gold must be at least 1, got 0"),
    ],
)
def test_analysis_options_refuse_a_bad_value_naming_the_field(values, message):
    with pytest.raises(ValueError, match=message) as caught:
        AnalysisOptions(**values)
    assert isinstance(caught.value, AnnotationError) and "\n" not in str(caught.value)


def test_analysis_options_read_lists_from_words_and_keep_their_order_of_record():
    options = AnalysisOptions(exclude_annotators="b, a,b", correlation_levels="pooled,summary")
    assert options.exclude_annotators == ("a", "b") and options.correlation_levels == ("pooled", "summary")
    assert AnalysisOptions(thresholds={"min_gold": 5}).thresholds == QualityThresholds(min_gold=5)
