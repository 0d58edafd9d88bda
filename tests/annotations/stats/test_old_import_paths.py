"""The statistics moved into `annotations.stats`; the import paths that pages, the export, the bench and
outside checks use keep working and name the very same objects (DESIGN.md: public interfaces survive a
move)."""

import importlib

import pytest

OLD_TO_NEW = [
    ("annotations.agreement", "krippendorff_alpha", "annotations.stats.agreement"),
    ("annotations.agreement", "AlphaResult", "annotations.stats.agreement"),
    ("annotations.correlation", "metric_human_correlation", "annotations.stats.correlation"),
    ("annotations.correlation", "correlation_table", "annotations.stats.correlation"),
    ("annotations.correlation", "points_from_means", "annotations.stats.correlation"),
    ("annotations.power", "more_judgments", "annotations.stats.power"),
    ("annotations.analysis", "analyze", "annotations.stats.analysis"),
    ("annotations.analysis", "AnalysisOptions", "annotations.stats.analysis"),
    ("annotations.analysis", "CampaignAnalysis", "annotations.stats.campaign_analysis"),
    ("annotations.stats", "analyze", "annotations.stats.analysis"),
    ("annotations.stats", "AnalysisOptions", "annotations.stats.analysis_options"),
    ("annotations.stats", "win_rate", "annotations.stats.preference"),
    ("annotations.stats", "bradley_terry", "annotations.stats.preference"),
    ("annotations.stats", "TIE_POLICIES", "annotations.stats.preference"),
    ("annotations.stats", "TIE_POLICY_HELP", "annotations.stats.preference"),
    ("annotations.stats", "criterion_differences", "annotations.stats.criteria"),
    ("annotations.stats", "metric_differences", "annotations.stats.paired_metrics"),
    ("annotations.stats", "metric_pairs", "annotations.stats.paired_metrics"),
    ("annotations.stats", "too_fast", "annotations.stats.quality"),
    ("annotations.stats", "QualityThresholds", "annotations.stats.quality"),
    ("annotations.stats", "position_bias", "annotations.stats.quality"),
    ("annotations.stats", "item_weights", "annotations.stats.bootstrap"),
    ("annotations.stats", "bootstrap_totals", "annotations.stats.bootstrap"),
    ("annotations.stats", "wilson_interval", "annotations.stats.intervals"),
    ("annotations.stats", "percentile_interval", "annotations.stats.intervals"),
]


@pytest.mark.parametrize("old,name,new", OLD_TO_NEW)
def test_old_import_path_names_the_same_object(old, name, new):
    assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)
