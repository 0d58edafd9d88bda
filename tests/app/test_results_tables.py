"""The Results page's tables as a researcher reads them (issue 18, item 6): usernames, not annotator ids;
headers in words, not column names; "—" with a line saying why, not None; and on "Metrics vs humans" one
sentence and one table, the sentence saying when the items are too few to tell. The frames keep their
columns and ids."""

from __future__ import annotations

import json
import re

import pytest
from helpers.login_as import login_as

from annotations.accounts import users
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging import assignment, judgments

PASSWORD = "velvet-harbor-pines-29"
NAMES = ("maria", "joao", "ana")
RAW_NAME = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")  # e.g. median_s, ci_low: a frame's column, not a header


@pytest.fixture
def three_items(app_env, tmp_path, run_writer, researcher):
    """Three accounts judge the same three items (k = 3) through the real assignment and submit path."""
    run = run_writer(tmp_path / "runs" / "three", n_items=3)
    campaign_id = create_campaign(app_env, CampaignConfig(name="three items", run_dir=str(run), k=3))
    people = [
        users.create_user(app_env, n, PASSWORD, "annotator", created_by=researcher.user_id) for n in NAMES
    ]
    for number, person in enumerate(people):
        for i in range(3):
            pair = assignment.next_item(app_env, campaign_id, person.user_id)
            choice = ("A", "B", "tie")[(number + i) % 3]
            scores = {"fluency": {"A": 1 + (number + i) % 5, "B": 5 - i}}
            judgments.submit(app_env, pair.token, person.user_id, choice, scores, comment="ok" if i else None)
    return {p.user_id: p.username for p in people}


def _headers(table) -> dict[str, str]:
    """column -> the header the browser draws (its column_config label), for the columns shown."""
    config = json.loads(table.proto.columns or "{}")
    return {c: config.get(c, {}).get("label", c) for c in table.value.columns}


def _tables_outside_expanders(block) -> list:
    found = []
    for child in block.children.values():
        if child.type == "dataframe":
            found.append(child)
        elif child.type != "expander" and hasattr(child, "children"):
            found += _tables_outside_expanders(child)
    return found


def _page(open_page, researcher):
    at = login_as(open_page("results"), researcher).run()
    assert not at.exception, at.exception
    item = at.selectbox(key="example_item").options[0]
    return at.selectbox(key="example_item").set_value(item).run()  # the Examples tab's judgments too


def test_tables_show_usernames_headers_in_words_and_a_dash_with_its_reason(
    open_page, researcher, three_items
):
    at = _page(open_page, researcher)
    ids, names = set(three_items), set(three_items.values())
    tables = list(at.dataframe)
    assert len(tables) >= 8
    shown_people = set()
    for table in tables:
        headers = _headers(table)
        raw = [h for h in headers.values() if RAW_NAME.match(h)]
        assert not raw, f"column names as headers: {raw} in {list(headers)}"
        frame = table.value
        cells = {str(v) for column in frame.columns for v in frame[column].dropna()}
        assert not cells & ids, f"annotator ids shown: {cells & ids}"
        shown_people |= cells & names
        if frame.isna().to_numpy().any():
            assert table.proto.placeholder == "—", list(frame.columns)
    assert shown_people == names  # the annotator table, the kappas, the examples' judgments name them
    annotators = next(t for t in tables if "flags" in t.value.columns)
    headers = _headers(annotators)
    assert headers["annotator_id"] == "Annotator" and headers["median_s"] == "Median time per pair (s)"
    assert headers["left_p"] == "Left chosen (p)"
    assert set(annotators.value["annotator_id"]) == names  # the frame's own column, its values the usernames
    agreement = next(t for t in tables if "n_units" in t.value.columns)
    assert _headers(agreement)["ci_low"] == "95% CI low" and _headers(agreement)["ci_high"] == "95% CI high"
    # an empty cell is explained: the annotator table's gold accuracy (no gold item was judged) ...
    assert annotators.value["gold_accuracy"].isna().all()
    captions = [c.value for c in at.caption]
    assert "— where an annotator judged no gold item or no repeat: nothing to measure." in captions
    # ... and the sentences above the verdict name the flagged annotators by username too
    sentences = " ".join(m.value for m in at.markdown)
    assert not any(i in sentences for i in ids)
    assert not any(i in c for c in captions for i in ids)


def test_metrics_vs_humans_is_one_sentence_and_one_table(open_page, researcher, three_items):
    at = _page(open_page, researcher)
    tab = next(t for t in at.tabs if t.label == "Metrics vs humans")
    sentences = [m.value for m in tab.markdown]
    # three items: no correlation can be told from chance, whatever its value (2/3! = 0.33)
    assert any(
        s.startswith("3 items are too few to tell whether any metric tracks the human preference")
        for s in sentences
    ), sentences
    outside = _tables_outside_expanders(tab)
    assert len(outside) == 1, [list(t.value.columns) for t in outside]
    reading = outside[0]
    assert list(reading.value.columns) == [
        "metric",
        "coefficient",
        "ci_low",
        "ci_high",
        "n",
        "method",
        "reason",
    ]
    assert reading.value["metric"].is_unique and set(reading.value["method"]) == {"Kendall's tau-b"}
    assert (reading.value["n"] == 3).all()
    headers = _headers(reading)
    assert [headers[c] for c in ("coefficient", "ci_low", "ci_high", "n")] == [
        "Coefficient",
        "95% CI low",
        "95% CI high",
        "Items",
    ]
    # Spearman and Pearson are a click away
    assert any("Spearman and Pearson" in e.label for e in tab.expander)
