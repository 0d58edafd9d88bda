"""Who counts, as analysis options (issue 22, items 3 and 4): excluding the low-competence participants,
weighting each by competence and using adjudicated labels change the headline verdict of `analyze` (and of
its staged twin) exactly as `competence.weighted_win_rate` computes it on the same judgments, say so in the
evidence, and never change the judgments given."""

from __future__ import annotations

import pandas as pd
import pytest
from test_competence import _labels_frame

from annotations.errors import AnnotationError, OptionError
from annotations.report.analysis_stages import AnalysisStages
from annotations.stats import analysis_options, competence
from annotations.stats.analysis import AnalysisOptions, analyze

N_BOOT = 50


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """test_competence's 40 items by zed (always right), kim (80%) and amy (random), as a judgments frame."""
    labels = _labels_frame()
    return labels.assign(
        campaign_id="c-1",
        assignment_id=labels["judgment_id"],
        gold_winner=None,
        repeat_of=None,
    )


@pytest.fixture(scope="module")
def table(frame) -> pd.DataFrame:
    return competence.competence(frame)


def _threshold(table: pd.DataFrame, measure: str = "mace") -> float:
    """A threshold with the least competent participant (amy) alone below it."""
    values = table.set_index("annotator_id")[measure].sort_values()
    assert values.index[0] == "amy"
    return round(float(values.iloc[:2].mean()), 3)


def test_the_options_offer_what_competence_computes_and_refuse_the_rest():
    assert analysis_options.PARTICIPANT_USES == competence.USES
    assert analysis_options.COMPETENCE_MEASURES == competence.MEASURES
    with pytest.raises(OptionError, match="participants must be one of keep, weight, exclude"):
        AnalysisOptions(participants="drop")
    with pytest.raises(OptionError, match="competence_measure"):
        AnalysisOptions(competence_measure="kappa")
    with pytest.raises(OptionError, match="competence_threshold"):
        AnalysisOptions(competence_threshold=1.5)
    default = AnalysisOptions()
    assert (default.participants, default.use_adjudicated) == ("keep", False)


@pytest.mark.parametrize("measure", competence.MEASURES)
def test_excluding_low_competence_changes_the_verdict_as_the_block_computes_it(frame, table, measure):
    before = frame.copy()
    threshold = _threshold(table, measure)
    options = AnalysisOptions(
        n_boot=N_BOOT, participants="exclude", competence_measure=measure, competence_threshold=threshold
    )
    a = analyze(frame, options=options, competence_table=table)
    everyone = analyze(frame, options=AnalysisOptions(n_boot=N_BOOT))
    assert "amy" in a.evidence.excluded_annotators and "amy" not in everyone.evidence.excluded_annotators
    kept = frame[frame["annotator_id"] != "amy"]
    expected = competence.weighted_win_rate(kept, "finetuned", "base")
    w = a.verdict.win
    assert (w.item_share, w.item_low, w.item_high) == pytest.approx(
        (expected.win_rate, expected.low, expected.high)
    )
    assert w.item_share != pytest.approx(everyone.verdict.win.item_share)
    label = competence.MEASURE_LABELS[measure]
    assert a.evidence.who_counts == f"excluding 1 low-competence participant ({label} < {threshold:g})"
    # every figure drops them, the annotator table still shows them (marked)
    assert "amy" not in set(a.agreement.leave_one_out["annotator_id"])
    annotators = a.biases.annotators.set_index("annotator_id")
    assert bool(annotators.loc["amy", "excluded"]) and not bool(annotators.loc["zed", "excluded"])
    pd.testing.assert_frame_equal(frame, before)


def test_the_competence_is_computed_when_not_given(frame, table):
    options = AnalysisOptions(n_boot=0, participants="exclude", competence_threshold=_threshold(table))
    assert analyze(frame, options=options).evidence.excluded_annotators == ["amy"]


def test_weighting_by_competence_weights_the_win_rate_and_its_item_interval_only(frame, table):
    options = AnalysisOptions(n_boot=N_BOOT, participants="weight", competence_measure="dawid_skene")
    a = analyze(frame, options=options, competence_table=table)
    weights = competence.competence_weights(table, "dawid_skene")
    expected = competence.weighted_win_rate(frame, "finetuned", "base", weights)
    w = a.verdict.win
    assert (w.item_share, w.item_low, w.item_high) == pytest.approx(
        (expected.win_rate, expected.low, expected.high)
    )
    plain = analyze(frame, options=AnalysisOptions(n_boot=N_BOOT)).verdict.win
    assert w.item_share != pytest.approx(plain.item_share)
    assert w.win_rate != pytest.approx(plain.win_rate)
    # the intervals that take no weights are left out of a weighted headline, with a note, and said so
    assert w.boot_low is None and w.wilson_low is None and "weighted" in w.boot_note
    assert "weighted by Dawid–Skene" in a.evidence.who_counts and "unweighted" in a.evidence.who_counts
    assert a.evidence.excluded_annotators == []
    by_policy = a.verdict.win_by_policy.set_index("tie_policy")
    for policy in ("half", "separate"):
        r = competence.weighted_win_rate(frame, "finetuned", "base", weights, policy)
        assert by_policy.loc[policy, "item_share"] == pytest.approx(r.win_rate)


def test_adjudicated_labels_replace_the_items_judgments(frame, table):
    before = frame.copy()
    adjudications = pd.DataFrame({"item_id": ["item-00", "item-01", "item-02"], "winner": ["base"] * 3})
    options = AnalysisOptions(n_boot=N_BOOT, use_adjudicated=True)
    a = analyze(frame, options=options, adjudications=adjudications)
    expected = competence.weighted_win_rate(
        competence.with_adjudications(frame, adjudications), "finetuned", "base"
    )
    w = a.verdict.win
    assert (w.item_share, w.item_low, w.item_high) == pytest.approx(
        (expected.win_rate, expected.low, expected.high)
    )
    assert a.evidence.adjudicated_items == 3 and a.evidence.who_counts == "with 3 adjudicated items"
    assert a.evidence.judgments_used == len(frame) - 3 * 3 + 3
    assert a.evidence.annotators_used == 3  # the adjudicator is no participant
    pd.testing.assert_frame_equal(frame, before)
    with pytest.raises(AnnotationError, match="use_adjudicated needs the campaign's adjudications"):
        analyze(frame, options=options)


def test_both_choices_together_and_the_staged_page_path_agree(frame, table):
    adjudications = pd.DataFrame({"item_id": ["item-05"], "winner": ["tie"]})
    options = AnalysisOptions(
        n_boot=N_BOOT, participants="exclude", competence_threshold=_threshold(table), use_adjudicated=True
    )
    plain = analyze(frame, options=options, adjudications=adjudications, competence_table=table)
    stages = AnalysisStages(
        frame, options=options, adjudications=adjudications, competence_table=table
    ).result()
    assert plain.evidence.who_counts == (
        f"excluding 1 low-competence participant (MACE < {_threshold(table):g}); with 1 adjudicated item"
    )
    assert plain.to_dict()["win"] == stages.to_dict()["win"]
    assert plain.evidence == stages.evidence
    weighted = AnalysisOptions(n_boot=N_BOOT, participants="weight")
    one = analyze(frame, options=weighted, competence_table=table).verdict.win
    two = AnalysisStages(frame, options=weighted, competence_table=table).headline()[0]
    assert one.to_dict() == two.to_dict()
