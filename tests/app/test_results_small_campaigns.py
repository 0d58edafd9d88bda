"""The Results page on small and unanimous campaigns (issue 18, items 2 and 4): no interval reads 100%–100%
or "3.00 to 3.00", the sample-size guidance never says "already within ±0", and the Agreement tab says why
alpha is undefined (every judgment the same, not a missing second annotator) with the raw agreement share."""

from __future__ import annotations

import pytest
from helpers.login_as import login_as
from helpers.small_campaigns import fill_decided
from statsmodels.stats.proportion import proportion_confint


@pytest.fixture
def as_researcher(open_page, researcher):
    def run():
        at = open_page("results")
        login_as(at, researcher)
        return at.run()

    return run


def texts(at) -> list[str]:
    """Every sentence on the page, Markdown escapes removed."""
    shown = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    return [t.replace("\\", "") for t in shown]


def test_a_unanimous_campaign_reads_an_honest_interval(as_researcher, app_env, tmp_path, run_writer):
    fill_decided(
        app_env, run_writer(tmp_path / "runs" / "run-u", n_items=10), n_annotators=2, name="unanimous"
    )
    at = as_researcher()
    assert not at.exception, at.exception
    metric = {m.label: m.value for m in at.metric}
    low, high = proportion_confint(10, 10, alpha=0.05, method="wilson")  # 10 items, each won by the fine-tune
    assert metric["finetuned win rate (drop)"] == "100.0%"
    assert metric["95% CI (items, Wilson)"] == f"{low:.1%} – {high:.1%}"
    everything = " ".join(texts(at))
    assert "100%–100%" not in everything and "100.0% – 100.0%" not in everything
    assert "3.00 to 3.00" not in everything and "within ±0" not in everything
    # the criteria moved by +3 on every item: said in words, with no interval
    assert any("no interval: all 10 items give the same difference (+3.00)" in t for t in texts(at))
    assert any(
        "all 10 items agree (each gives 100%)" in c.value for c in at.caption
    )  # the collapsed bootstrap
    now = next(m.value for m in at.metric if m.label == "Win-rate interval now")
    assert now == f"±{(high - low) / 2:.1%}"
    # agreement: two annotators judged every item; alpha is undefined because nothing varies, and raw
    # agreement shows
    assert metric["Raw agreement on the preference"] == "100%"
    info = " ".join(i.value for i in at.info).replace("\\", "")
    assert "second annotator" not in info
    assert "raw agreement 100% on 10 items" in info and "Krippendorff's alpha is undefined" in info


def test_one_annotator_gets_no_raw_agreement_but_the_plan(as_researcher, app_env, tmp_path, run_writer):
    fill_decided(
        app_env,
        run_writer(tmp_path / "runs" / "run-1a", n_items=6),
        n_annotators=1,
        name="alone",
        decide=lambda item, annotator: "finetuned" if item < "item-004" else "base",
    )
    at = as_researcher()
    assert not at.exception, at.exception
    assert "Raw agreement on the preference" not in [m.label for m in at.metric]
    assert any("Agreement needs a second annotator on the same items" in t for t in texts(at))


def test_ties_only_say_there_is_no_verdict(as_researcher, app_env, tmp_path, run_writer):
    fill_decided(
        app_env,
        run_writer(tmp_path / "runs" / "run-t", n_items=4),
        n_annotators=2,
        name="ties",
        decide=lambda item, annotator: "tie",
    )
    at = as_researcher()
    assert not at.exception, at.exception
    assert any("No verdict yet: every judgment is a tie" in t for t in texts(at))
    at.radio(key="tie_policy").set_value("half").run()
    assert not at.exception, at.exception
    metric = {m.label: m.value for m in at.metric}
    assert metric["finetuned win rate (half)"] == "50.0%"
    low, high = proportion_confint(2, 4, alpha=0.05, method="wilson")  # 4 items, each half
    assert metric["95% CI (items, Wilson)"] == f"{low:.1%} – {high:.1%}"


def test_raw_agreement_is_shown_beside_a_defined_alpha(as_researcher, app_env, tmp_path, run_writer):
    # ann-1 disagrees with ann-0 on every third item: alpha is defined, and the plain share is 2 of 3 pairs
    # agreeing
    def decide(item, annotator):
        i = int(item.split("-")[1])
        first = "finetuned" if i % 2 else "base"
        return first if annotator == "ann-0" or i % 3 else ("base" if first == "finetuned" else "finetuned")

    fill_decided(
        app_env,
        run_writer(tmp_path / "runs" / "run-s", n_items=12),
        n_annotators=2,
        decide=decide,
        name="split",
    )
    at = as_researcher()
    assert not at.exception, at.exception
    metric = {m.label: m.value for m in at.metric}
    assert metric["Raw agreement on the preference"] == f"{8 / 12:.0%}"
    assert not any("alpha is undefined" in t or "second annotator" in t for t in texts(at))
    alpha = next(
        df.value for df in at.dataframe if "alpha" in df.value.columns and "target" in df.value.columns
    )
    assert alpha["alpha"].notna().iloc[0]
