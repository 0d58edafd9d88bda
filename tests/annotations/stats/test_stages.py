"""The staged analysis (annotations.stats.stages) gives exactly what running every stage in turn gives, and its
headline is the verdict's win rate."""

import json

import pytest
from annotations.stats.stages import STAGES, AnalysisStages, FinishedStages
from helpers.synthetic import make_campaign

from annotations.errors import AnnotationError
from annotations.stats.analysis import AnalysisOptions, analyze


@pytest.fixture(scope="module")
def campaign():
    return make_campaign(n_items=160, n_annotators=5, seed=4)


def comparable(result) -> str:
    out = result.to_dict()
    out.pop("environment")
    return json.dumps(out, sort_keys=True, default=str)


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
    assert win == result.win and by_policy.equals(result.win_by_policy)
    assert set(by_policy["tie_policy"]) == {"drop", "half", "separate"}
    # the headline waits for no other stage: it was ready no later than any of them
    assert stages.seconds["headline"] <= min(stages.seconds[s] for s in STAGES)


def test_finished_stages_give_back_the_same_result(campaign):
    result = analyze(campaign.judgments, campaign.scores, campaign.metrics, AnalysisOptions(n_boot=100))
    finished = FinishedStages(result)
    assert finished.result() is result and finished.headline()[0] == result.win
    assert finished.agreement().table.equals(result.agreement) and finished.done() == list(STAGES)
    assert finished.used == result.used


def test_no_judgments_is_a_clear_error(campaign):
    with pytest.raises(AnnotationError, match="no judgments"):
        AnalysisStages(campaign.judgments.iloc[:0])
