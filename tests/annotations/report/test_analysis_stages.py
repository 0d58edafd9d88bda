"""The results page's threaded stages (annotations.report.analysis_stages) are a speed trick pinned to the
plain `annotations.stats.analyze`: the same numbers for the same seed, on a campaign read back from a real
store, and its headline is the verdict's win rate."""

import json

import pytest
from helpers import synthetic
from helpers.run_folders import write_run_folder
from helpers.synthetic import make_campaign

from annotations import store as db
from annotations.errors import AnnotationError
from annotations.report import load_campaign
from annotations.report.analysis_stages import STAGES, AnalysisStages, FinishedStages
from annotations.stats import AnalysisOptions, analyze


@pytest.fixture(scope="module")
def campaign():
    return make_campaign(n_items=160, n_annotators=5, seed=4)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A campaign judged through the real assignment/submit path and read back from its DuckDB store."""
    root = tmp_path_factory.mktemp("stages")
    run_dir = write_run_folder(root / "runs" / "run-1", n_items=20)
    con = db.connect(root / "app.duckdb")
    try:
        return load_campaign(con, synthetic.fill_store(con, run_dir, name="stages"))
    finally:
        con.close()


def comparable(result) -> str:
    out = result.to_dict()
    out.pop("environment")
    return json.dumps(out, sort_keys=True, default=str)


@pytest.mark.parametrize("options", [{"n_boot": 200, "seed": 3}, {"n_boot": 150, "exclude_flagged": True}])
def test_the_threaded_stages_give_the_plain_analysis_on_a_real_campaign(stored, options):
    options = AnalysisOptions(**options)
    plain = analyze(stored.judgments, stored.scores, stored.metrics, options, stored.campaign_id)
    stages = AnalysisStages(
        stored.judgments, lambda: stored.scores, lambda: stored.metrics, options, stored.campaign_id
    )
    threaded = stages.result()
    assert comparable(threaded) == comparable(plain)
    assert (
        threaded.statistics_table()
        .drop(columns="versions")
        .equals(plain.statistics_table().drop(columns="versions"))
    )
    assert (threaded.evidence.used_judgment_ids == plain.evidence.used_judgment_ids).all()
    assert threaded.versus_metrics.means.equals(plain.versus_metrics.means)
    assert plain.verdict.win.n_judgments == plain.evidence.judgments_used > 0
    # another seed moves the bootstrap intervals: the comparison above is not between two constants
    reseeded = analyze(
        stored.judgments,
        stored.scores,
        stored.metrics,
        AnalysisOptions(
            n_boot=options.n_boot, seed=options.seed + 1, exclude_flagged=options.exclude_flagged
        ),
    )
    assert comparable(reseeded) != comparable(plain)


def test_two_workers_give_the_values_of_one_after_another(campaign):
    options = AnalysisOptions(n_boot=200, exclude_flagged=True)
    one = AnalysisStages(campaign.judgments, campaign.scores, campaign.metrics, options, workers=1)
    two = AnalysisStages(campaign.judgments, campaign.scores, campaign.metrics, options, workers=2)
    assert comparable(one.result()) == comparable(two.result())
    assert comparable(analyze(campaign.judgments, campaign.scores, campaign.metrics, options)) == comparable(
        two.result()
    )
    assert sorted(two.done()) == sorted(STAGES)
    assert set(two.seconds) >= {"headline", "verdict", "agreement", "metrics versus humans", "annotators"}


def test_the_headline_is_the_verdicts_win_rate_and_comes_first(campaign):
    stages = AnalysisStages(
        campaign.judgments, campaign.scores, campaign.metrics, AnalysisOptions(n_boot=200)
    )
    win, by_policy = stages.headline()
    result = stages.result()
    assert win == result.verdict.win and by_policy.equals(result.verdict.win_by_policy)
    assert set(by_policy["tie_policy"]) == {"drop", "half", "separate"}
    # the headline waits for no other stage: it was ready no later than any of them
    assert stages.seconds["headline"] <= min(stages.seconds[s] for s in STAGES)


def test_finished_stages_give_back_the_same_result(campaign):
    result = analyze(campaign.judgments, campaign.scores, campaign.metrics, AnalysisOptions(n_boot=100))
    finished = FinishedStages(result)
    assert finished.result() is result and finished.headline()[0] == result.verdict.win
    assert finished.agreement().table.equals(result.agreement.table) and finished.done() == list(STAGES)
    assert finished.evidence is result.evidence


def test_no_judgments_is_a_clear_error(campaign):
    with pytest.raises(AnnotationError, match="no judgments"):
        AnalysisStages(campaign.judgments.iloc[:0])
    with pytest.raises(AnnotationError, match="no judgments"):
        analyze(campaign.judgments.iloc[:0])
