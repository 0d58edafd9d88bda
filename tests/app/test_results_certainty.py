"""The Results page's Certainty block (pages/results_certainty.py) with AppTest on a real judged store: on at
the first visit for a small campaign (off above `ON_UP_TO` judgments, saying why); the stopping state, and
the prediction-powered interval beside the human-only one, with an imported judge as the default proxy."""

from __future__ import annotations

import pytest
from helpers import synthetic
from helpers.judge_verdicts import write_judge
from helpers.login_as import login_as

from annotations.campaigns import CampaignConfig, campaign_config, create_campaign, import_judge
from annotations.judging import assignment, judgments
from annotations.report import load_campaign
from annotations.stats.certainty import certainty, proxy_metrics

N_ITEMS = 24


@pytest.fixture
def judged(app_env, tmp_path, run_writer):
    run_dir = run_writer(tmp_path / "runs" / "run-2", n_items=N_ITEMS)
    return synthetic.fill_store(
        app_env, run_dir, n_annotators=4, name="judged campaign", equivalence_margin=0.12
    )


@pytest.fixture
def with_judge(app_env, judged, tmp_path):
    """The same campaign with an LLM judge's verdicts imported (its probability varies over the items)."""
    write_judge(tmp_path / "runs" / "run-2", "judge-1", N_ITEMS, p_finetuned=lambda i: 0.9 if i % 3 else 0.3)
    import_judge(app_env, judged, "judge-1")
    return judged


def _default_certainty(con, campaign_id):
    """What the block computes at the first visit: the campaign's frames, its first proxy, its δ, 95%."""
    data = load_campaign(con, campaign_id)
    proxy = proxy_metrics(data.metrics)[0]
    return certainty(
        data.judgments, data.metrics, proxy, campaign_config(con, campaign_id).equivalence_margin
    )


def _results(open_page, researcher):
    at = open_page("results")
    login_as(at, researcher)
    at.run()
    assert not at.exception, at.exception
    return at


def _shows_both_intervals_and_the_sequential_state(at):
    labels = [m.label for m in at.metric]
    assert "Prediction-powered 95% interval" in labels and "Human-only 95% interval" in labels, labels
    assert "λ (weight of the proxy)" in labels
    states = [m.value for m in list(at.success) + list(at.info)]
    assert any("you may stop" in s or "Keep going" in s for s in states), states
    assert any("confidence sequence of the win rate after" in c.value for c in at.caption)


def test_certainty_block_shows_the_stop_state_and_both_intervals(open_page, researcher, judged):
    at = _results(open_page, researcher)
    # a small campaign: the block is computed at the first visit, without a click
    assert at.toggle(key=f"certainty:{judged}").value is True
    assert not any("says whether the campaign may stop" in c.value for c in at.caption)  # the off caption
    _shows_both_intervals_and_the_sequential_state(at)
    states = [m.value for m in list(at.success) + list(at.info)]
    assert any("you may stop" in s or "Keep going" in s for s in states)
    sequence = next(c.value for c in at.caption if "confidence sequence of the win rate after" in c.value)
    # the margin is the campaign's setting, shown and not offered as a slider (no changing the question here)
    assert "±δ = 0.12, the campaign's own setting" in sequence and "not here" in sequence
    assert not [n for n in at.number_input if "δ" in n.label]
    proxies = at.selectbox(key="certainty_proxy").options
    assert "rougeL" in proxies and proxies[-1] == "(none: humans only)"  # the run folder's per-item scores
    assert not [p for p in proxies if p.startswith("judge")]  # no judge imported: a metric is the default
    assert at.selectbox(key="certainty_proxy").value == proxies[0] != "(none: humans only)"
    labels = [m.label for m in at.metric]
    assert "Human-only 95% interval" in labels and "λ (weight of the proxy)" in labels
    assert any("human-judged items with the proxy" in c.value for c in at.caption)
    at.selectbox(key="certainty_proxy").set_value("(none: humans only)").run()
    assert not at.exception and "λ (weight of the proxy)" not in [m.label for m in at.metric]
    assert any("only the human judgments count" in c.value for c in at.caption)


def test_an_imported_judge_is_the_default_proxy_without_a_click(open_page, researcher, with_judge):
    at = _results(open_page, researcher)
    assert at.toggle(key=f"certainty:{with_judge}").value is True
    proxy = at.selectbox(key="certainty_proxy")
    assert proxy.value == "judge 'judge-1'" and proxy.options[0] == "judge 'judge-1'"
    assert "rougeL" in proxy.options  # the automatic scores stay choices, after the judge
    assert any("fixed before any result is seen" in c.value for c in at.caption)
    _shows_both_intervals_and_the_sequential_state(at)
    said = [e.value.replace("\\", "") for e in list(at.caption) + list(at.warning)]  # Markdown escapes out
    assert any("probability of judge 'judge-1'" in s for s in said), said  # the sentence names its proxy
    proxy.set_value("rougeL").run()
    assert not at.exception and at.selectbox(key="certainty_proxy").value == "rougeL"
    assert any(
        "rougeL difference" in s for s in [c.value for c in at.caption] + [w.value for w in at.warning]
    )


def test_a_large_campaign_starts_with_the_block_off_and_says_why(open_page, researcher, judged, monkeypatch):
    monkeypatch.setattr("pages.results_certainty.ON_UP_TO", 10)  # the fixture has more judgments than 10
    at = _results(open_page, researcher)
    assert at.toggle(key=f"certainty:{judged}").value is False
    assert any("Off at first for campaigns of more than 10 judgments" in c.value for c in at.caption)
    assert not [m for m in at.metric if m.label.startswith("Prediction-powered")]
    at.toggle(key=f"certainty:{judged}").set_value(True).run()
    assert not at.exception, at.exception
    _shows_both_intervals_and_the_sequential_state(at)


@pytest.fixture
def half_judged(app_env, tmp_path, run_writer):
    """A campaign whose 24 items are half judged (k = 1, one annotator, 12 pairs through the real path)."""
    run_dir = run_writer(tmp_path / "runs" / "run-half", n_items=N_ITEMS)
    cid = create_campaign(app_env, CampaignConfig(name="half judged", run_dir=str(run_dir), k=1))
    for i in range(N_ITEMS // 2):
        pair = assignment.next_item(app_env, cid, "ann-1")
        judgments.submit(app_env, pair.token, "ann-1", ("A", "B", "A", "tie")[i % 4])
    return cid


def test_a_half_judged_campaign_shows_the_anytime_valid_prediction_powered_sequence(
    open_page, researcher, half_judged, app_env
):
    at = _results(open_page, researcher)
    q = _default_certainty(app_env, half_judged).ppi_sequence  # unjudged items exist: it is computed
    shown = next(c.value for c in at.caption if c.value.startswith("Anytime-valid with the proxy"))
    assert f"after {len(q.lower)} items is {q.lower[-1]:.1%} – {q.upper[-1]:.1%}" in shown
    at.selectbox(key="certainty_proxy").set_value("(none: humans only)").run()
    assert not any(c.value.startswith("Anytime-valid with the proxy") for c in at.caption)
