"""Results page with AppTest on a real store judged through the real assignment/submit path."""

from __future__ import annotations

import pytest
from helpers import synthetic
from helpers.login_as import login_as

from pages.plain_text import escape_markdown


@pytest.fixture
def as_user(open_page):
    def run(user, name="results"):
        at = open_page(name)
        login_as(at, user)
        return at.run()

    return run


@pytest.fixture
def judged(app_env, tmp_path, run_writer):
    run_dir = run_writer(tmp_path / "runs" / "run-2", n_items=24)
    return synthetic.fill_store(app_env, run_dir, n_annotators=4, name="judged campaign")


def test_annotators_cannot_see_results(as_user, annotator):
    at = as_user(annotator)
    assert "do not have access" in at.error[0].value


def test_no_campaign_says_what_to_do(as_user, researcher):
    at = as_user(researcher)
    assert not at.exception and "No campaign yet" in at.info[0].value


def test_results_page_shows_the_verdict_and_reacts_to_options(as_user, researcher, judged):
    at = as_user(researcher)
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert "finetuned win rate (drop)" in labels and "p (items)" in labels
    assert any("judgments on" in c.value for c in at.caption)
    assert [t.label for t in at.tabs] == [
        "Verdict",
        "Agreement",
        "Metrics vs humans",
        "Annotators",
        "Training",
        "Examples",
        "Export",
    ]
    assert any("Humans preferred" in m.value or "No clear winner" in m.value for m in at.markdown)
    at.radio(key="tie_policy").set_value("half").run()
    assert "finetuned win rate (half)" in [m.label for m in at.metric]
    at.multiselect(key=f"annotators:{judged}").unselect("ann-left").run()
    assert not at.exception
    assert any(f"({escape_markdown('ann-left')})" in c.value for c in at.caption)
    at.selectbox(key="criterion").set_value("fluency").run()
    assert not at.exception
    # the annotator table flags the left-biased annotator
    table = next(df.value for df in at.dataframe if "flags" in df.value.columns)
    assert "position bias" in table.set_index("annotator_id").loc["ann-left", "flags"]


def test_example_browser_reveals_both_systems(as_user, researcher, judged, app_env):
    at = as_user(researcher)
    item = at.selectbox(key="example_item").options[0]
    at.selectbox(key="example_item").set_value(item).run()
    assert not at.exception
    names = [m.value for m in at.markdown]
    assert "**base**" in names and "**finetuned**" in names
    judgments_table = next(df.value for df in at.dataframe if "winner" in df.value.columns)
    assert len(judgments_table) >= 3 and {"shown_left", "choice", "comment"} <= set(judgments_table.columns)
    # another item: its own source and both outputs (read one item at a time)
    from annotations.campaigns import items_frame, outputs_frame

    second = at.selectbox(key="example_item").options[1]
    at.selectbox(key="example_item").set_value(second).run()
    assert not at.exception
    texts = {t.value for t in at.text}
    outputs = outputs_frame(app_env, judged)
    items = items_frame(app_env, judged)
    assert set(outputs[outputs.item_id == second].output) <= texts
    assert items.set_index("item_id").loc[second, "source"] in texts


def test_new_judgments_are_included_on_request(as_user, researcher, judged, app_env):
    from annotations.judging import judgments

    at = as_user(researcher)
    shown = next(df.value for df in at.dataframe if "flags" in df.value.columns)
    comments_before = [m.value for m in at.markdown]
    # an annotator edits a judgment: a new version, so the data changed
    first = judgments.judgments_frame(app_env, judged).iloc[0]
    judgments.edit(
        app_env, first["assignment_id"], first["annotator_id"], 1, "tie", comment="changed my mind"
    )
    at.run()
    assert "arrived since" in at.info[0].value
    assert [m.value for m in at.markdown] == comments_before  # still the results first shown
    at.button(key="refresh").click().run()
    assert not at.exception and not any("arrived since" in i.value for i in at.info)
    item = at.selectbox(key="example_item")
    item.set_value(first["item_id"]).run()
    table = next(df.value for df in at.dataframe if "comment" in df.value.columns)
    assert "changed my mind" in set(table["comment"].dropna())
    assert len(shown) == len(next(df.value for df in at.dataframe if "flags" in df.value.columns))


@pytest.mark.parametrize(("confidence", "label"), [(0.9, "90% CI"), (0.975, "97.5% CI")])
def test_interval_labels_follow_the_coverage_chosen(as_user, researcher, judged, confidence, label):
    at = as_user(researcher)
    assert "95% CI (items, Wilson)" in [m.label for m in at.metric]
    at.selectbox(key="confidence").set_value(confidence).run()
    assert not at.exception, at.exception
    assert f"{label} (items, Wilson)" in [m.label for m in at.metric]
    assert any(f"Intervals: {label.removesuffix(' CI')}," in c.value for c in at.caption)
    verdict = [m.value for m in at.markdown if "Humans preferred" in m.value or "No clear winner" in m.value]
    assert verdict and escape_markdown(label) in verdict[0] and "95% CI" not in verdict[0]


def fresh_app_process():
    """What an app restart forgets: Streamlit's in-memory caches (data and resources). The disk stays."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def test_one_annotator_agreement_tab_says_what_is_needed(as_user, researcher, app_env, tmp_path, run_writer):
    run_dir = run_writer(tmp_path / "runs" / "run-solo", n_items=12)
    synthetic.fill_store(app_env, run_dir, n_annotators=1, left_biased=(), name="solo campaign")
    at = as_user(researcher)
    assert not at.exception, at.exception
    assert any("by 1 annotator;" in c.value for c in at.caption)
    assert any("a second annotator on the same items" in i.value for i in at.info)
    assert any(
        "1 annotator judged 12 items, none of them judged by two different annotators" in i.value
        for i in at.info
    )
    plan = next(df.value for df in at.dataframe if "second judgments still needed" in df.value.columns)
    assert list(plan["interval"]) == ["alpha ± 0.05", "alpha ± 0.10", "alpha ± 0.15", "alpha ± 0.20"]
    needed = list(plan["second judgments still needed"])
    assert needed == sorted(needed, reverse=True) and needed[-1] > 0
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not any("Fleiss" in t or "Leave one annotator out" in t or "Cohen's kappa per" in t for t in texts)


def test_several_annotators_still_get_alpha_and_kappas(as_user, researcher, judged):
    at = as_user(researcher)
    assert not any("a second annotator on the same items" in i.value for i in at.info)
    markdown = [m.value for m in at.markdown]
    assert "**Leave one annotator out** (alpha without each annotator)" in markdown
    assert any("Fleiss' kappa (preference)" in c.value for c in at.caption)


def test_results_survive_a_restart_on_disk_until_the_data_change(
    as_user, researcher, judged, app_env, tmp_path
):
    import pickle

    from annotations.judging import judgments

    at = as_user(researcher)
    assert not at.exception
    files = list((tmp_path / "analysis_cache").glob("*.pkl"))
    assert len(files) == 1
    # mark the kept analysis, so the next page can only show the mark by reading this very file
    analysis = pickle.loads(files[0].read_bytes())
    analysis.verdict.win.win_rate = 0.123456
    files[0].write_bytes(pickle.dumps(analysis))
    fresh_app_process()
    at = as_user(researcher)
    assert not at.exception
    rate = next(m for m in at.metric if m.label == "finetuned win rate (drop)")
    assert rate.value == "12.3%"
    # a new judgment version: another data version, so the statistics are computed again and the old file goes
    first = judgments.judgments_frame(app_env, judged).iloc[0]
    judgments.edit(app_env, first["assignment_id"], first["annotator_id"], 1, "tie", comment="again")
    fresh_app_process()
    at = as_user(researcher)
    assert not at.exception
    rate = next(m for m in at.metric if m.label == "finetuned win rate (drop)")
    assert rate.value != "12.3%"
    after = list((tmp_path / "analysis_cache").glob("*.pkl"))
    assert len(after) == 1 and after[0] != files[0]


def test_the_verdict_is_drawn_before_the_other_statistics_finish(as_user, researcher, judged):
    """The Verdict tab opens with the headline win-rate metrics (drawn from the first stage)."""
    at = as_user(researcher)
    verdict_tab = at.tabs[0]
    assert [m.label for m in verdict_tab.metric][:4] == [
        "finetuned win rate (drop)",
        "95% CI (items, Wilson)",
        "p (items)",
        "Wins / losses / ties",
    ]


def test_example_browser_lists_a_few_items_and_opens_any_typed_id(
    as_user, researcher, judged, app_env, monkeypatch
):
    """A large campaign sends the browser a short list (30,000 options cost it 50 MB and a third of a
    second per visit); any other judged item opens when its id is typed beside it, an unknown id is named."""
    from annotations.campaigns import items_frame
    from pages import shared

    monkeypatch.setattr(shared, "LISTED_ITEMS", 3)
    at = as_user(researcher)
    box = at.selectbox(key="example_item")
    assert len(box.options) == 3
    assert any("Listing the first 3 of 24 judged items" in c.value for c in at.caption)
    sources = items_frame(app_env, judged).set_index("item_id")["source"]
    unlisted = next(i for i in sources.index if i not in box.options)
    at.text_input(key="example_item_typed").input(f" {unlisted} ").run()
    assert not at.exception, at.exception
    assert sources[unlisted] in {t.value for t in at.text}
    at.text_input(key="example_item_typed").input("no-such-item").run()
    assert not at.exception
    assert any(f"no judged item “{escape_markdown('no-such-item')}”" in w.value for w in at.warning)


def test_example_browser_lists_every_item_of_a_small_campaign(as_user, researcher, judged):
    at = as_user(researcher)
    assert len(at.selectbox(key="example_item").options) == 24
    assert not any("Listing the first" in c.value for c in at.caption) and not at.text_input


def test_interval_charts_are_vega_lite_specs_with_their_rows(as_user, researcher, judged):
    """The four interval charts (verdict, criteria, agreement, metric accuracy) go to the browser as Vega-Lite
    specs written by hand (no Altair on the page's path): bars, points and the dashed reference rule, over the
    rows of the statistic shown."""
    import json

    import pyarrow as pa

    at = as_user(researcher)
    charts = [c for c in at.get("vega_lite_chart") if len(json.loads(c.proto.spec).get("layer", [])) == 3]
    specs = [json.loads(c.proto.spec) for c in charts]
    assert [s["layer"][2]["data"]["values"][0]["r"] for s in specs] == [0.5, 0.0, 0.667, 0.5]
    for spec in specs:
        assert [layer["mark"]["type"] for layer in spec["layer"]] == ["rule", "point", "rule"]
        assert spec["layer"][2]["mark"]["strokeDash"] == [4, 4]
    verdict = pa.ipc.open_stream(charts[0].proto.data.data).read_all().to_pandas()
    assert {"drop: items, Wilson", "drop: item bootstrap", "drop: judgments, Wilson"} <= set(
        verdict["interval"]
    )
    assert (verdict["low"] <= verdict["win_rate"]).all() and (verdict["win_rate"] <= verdict["high"]).all()
    assert specs[0]["layer"][0]["encoding"]["x"]["title"] == "win rate of finetuned"
