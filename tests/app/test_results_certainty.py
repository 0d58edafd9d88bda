"""The Results page's Certainty block (pages/results_certainty.py) with AppTest on a real judged store: off
until asked; then the stopping state, and the prediction-powered interval beside the human-only one."""

from __future__ import annotations

import pytest
from helpers import synthetic
from helpers.login_as import login_as


@pytest.fixture
def judged(app_env, tmp_path, run_writer):
    run_dir = run_writer(tmp_path / "runs" / "run-2", n_items=24)
    return synthetic.fill_store(
        app_env, run_dir, n_annotators=4, name="judged campaign", equivalence_margin=0.12
    )


def test_certainty_block_shows_the_stop_state_and_both_intervals(open_page, researcher, judged):
    at = open_page("results")
    login_as(at, researcher)
    at.run()
    assert not at.exception, at.exception
    assert any("reads every judgment" in c.value for c in at.caption)
    at.toggle(key=f"certainty:{judged}").set_value(True).run()
    assert not at.exception, at.exception
    states = [m.value for m in list(at.success) + list(at.info)]
    assert any("you may stop" in s or "Keep going" in s for s in states)
    sequence = next(c.value for c in at.caption if "confidence sequence of the win rate after" in c.value)
    # the margin is the campaign's setting, shown and not offered as a slider (no changing the question here)
    assert "±δ = 0.12, the campaign's own setting" in sequence and "not here" in sequence
    assert not [n for n in at.number_input if "δ" in n.label]
    proxies = at.selectbox(key="certainty_proxy").options
    assert "rougeL" in proxies and proxies[-1] == "(none: humans only)"  # the run folder's per-item scores
    labels = [m.label for m in at.metric]
    assert "Human-only 95% interval" in labels and "λ (weight of the proxy)" in labels
    assert any("human-judged items with the proxy" in c.value for c in at.caption)
    at.selectbox(key="certainty_proxy").set_value("(none: humans only)").run()
    assert not at.exception and "λ (weight of the proxy)" not in [m.label for m in at.metric]
    assert any("only the human judgments count" in c.value for c in at.caption)
