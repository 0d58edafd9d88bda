"""The on-disk cache of analyses (annotations/report/results_cache.py): keyed by campaign, data version and
options; a new data version replaces the old files; an unreadable file is a miss, not an error."""

from helpers.synthetic import make_campaign

from annotations.report import results_cache
from annotations.stats.analysis import AnalysisOptions, analyze


def test_kept_per_version_and_options_and_replaced_by_a_new_version(tmp_path):
    c = make_campaign(n_items=40, n_annotators=3, seed=2)
    options = AnalysisOptions(n_boot=50)
    analysis = analyze(c.judgments, c.scores, c.metrics, options, "camp-1")
    assert results_cache.load(tmp_path, "camp-1", "120:t1", options) is None
    path = results_cache.save(tmp_path, "camp-1", "120:t1", analysis)
    back = results_cache.load(tmp_path, "camp-1", "120:t1", options)
    assert back is not None and back.to_dict()["win"] == analysis.to_dict()["win"]
    assert results_cache.load(tmp_path, "camp-1", "121:t2", options) is None  # another data version
    assert (
        results_cache.load(tmp_path, "camp-1", "120:t1", AnalysisOptions(n_boot=50, tie_policy="half"))
        is None
    )
    assert results_cache.load(tmp_path, "camp-2", "120:t1", options) is None
    other = analyze(c.judgments, c.scores, c.metrics, AnalysisOptions(n_boot=50, tie_policy="half"), "camp-1")
    results_cache.save(tmp_path, "camp-1", "120:t1", other)  # same version, other options: both kept
    assert len(list(tmp_path.glob("*.pkl"))) == 2
    results_cache.save(tmp_path, "camp-1", "121:t2", analysis)  # a new version removes the old ones
    assert [p.name for p in tmp_path.glob("*.pkl")] == [
        results_cache.cache_path(tmp_path, "camp-1", "121:t2", options).name
    ]
    assert not path.exists()


def test_an_unreadable_file_is_a_miss_and_is_removed(tmp_path):
    options = AnalysisOptions(n_boot=50)
    path = results_cache.cache_path(tmp_path, "camp-1", "1:t", options)
    path.write_bytes(b"half-written")
    assert results_cache.load(tmp_path, "camp-1", "1:t", options) is None
    assert not path.exists()
