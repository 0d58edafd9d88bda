"""The Campaigns page with uploads (AppTest's file_uploader): every malformed file gives one error line
naming the file as uploaded, no traceback and nothing left in data/uploads/; a 100,000-row file makes a
campaign; too-long texts are refused or cut as the form says, and a refused file is removed."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers.login_as import login_as

from annotations import store
from annotations.campaigns import get_campaign, list_campaigns, outputs_frame
from pages.plain_text import escape_markdown

GOOD_CSV = "item_id,system,output\n1,base,hello\n1,finetuned,hi\n2,base,a\n2,finetuned,b\n"
MALFORMED = [
    ("random bytes.csv", bytes(range(256)) * 8, "binary"),
    ("empty.csv", b"", "empty"),
    ("header-only.csv", b"item_id,system,output\n", "is empty: it has no rows (only a header"),
    ("wrong columns.csv", b"a,b\n1,2\n", "lacks columns item_id, system, output"),
    ("latin1.csv", "item_id,system,output\n1,base,caf\xe9\n".encode("latin-1"), "not UTF-8"),
    ("utf16.csv", GOOD_CSV.encode("utf-16"), "UTF-16"),
    ("array.jsonl", json.dumps([{"item_id": 1, "system": "base", "output": "x"}]).encode(), "JSON array"),
    ("broken.jsonl", b'{"item_id": 1, "system": "base", "output": "x"}\n{"item_id": \n', "line 2"),
]


def _campaigns_page(open_page, researcher):
    at = open_page("campaigns")
    login_as(at, researcher)
    at.run()
    return at.radio(key="origin").set_value("A CSV/JSONL file").run()


def _uploads() -> list[str]:
    folder = store.default_path().parent / "uploads"
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize(("name", "data", "words"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_upload_is_one_line_naming_the_file(
    open_page, app_env, researcher, tmp_path, name, data, words
):
    at = _campaigns_page(open_page, researcher)
    at.file_uploader[0].upload(name, data, "text/csv").run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert (
        message.startswith(escape_markdown(name))
        and escape_markdown(words) in message
        and "\n" not in message
    )
    assert str(tmp_path) not in message and "uploads" not in message
    assert _uploads() == [] and list_campaigns(app_env).empty
    assert "create" not in [b.key for b in at.button]  # the form stops at the error


def test_a_good_upload_makes_a_campaign_and_keeps_the_file_under_its_own_name(open_page, app_env, researcher):
    at = _campaigns_page(open_page, researcher)
    at.file_uploader[0].upload("my outputs.csv", GOOD_CSV.encode(), "text/csv").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="system_a").value == "base" and at.selectbox(key="system_b").value == "finetuned"
    assert _uploads() == []  # checked from its bytes; written only when a campaign is made of it
    at.button(key="create").click().run()
    assert not at.exception and "created" in at.success[0].value
    assert not any("No campaign yet" in i.value for i in at.info)  # the list above shows the new campaign
    assert at.dataframe[0].value.name.tolist() == ["Campaign " + at.text_input(key="name").value[9:]]
    assert _uploads() == ["my outputs.csv"]
    assert list_campaigns(app_env).source_file.iloc[0].endswith("/my outputs.csv")


def test_long_texts_are_refused_then_cut_when_the_form_says_so(open_page, app_env, researcher):
    rows = [
        {"item_id": i, "system": s, "output": "x" * (20_001 if i == 1 else 9)}
        for i in range(3)
        for s in ("base", "finetuned")
    ]
    data = pd.DataFrame(rows).to_csv(index=False).encode()
    at = _campaigns_page(open_page, researcher)
    at.file_uploader[0].upload("long.csv", data, "text/csv").run()
    at.button(key="create").click().run()
    assert not at.exception and list_campaigns(app_env).empty
    assert at.error[0].value.startswith(
        escape_markdown("2 texts are longer than the limit of 20,000 characters")
    )
    assert _uploads() == []  # the refused file is removed
    at.checkbox(key="truncate_long_texts").check().run()
    at.button(key="create").click().run()
    assert (
        not at.exception
        and escape_markdown("2 texts longer than 20,000 characters were cut") in at.success[0].value
    )
    campaign = list_campaigns(app_env).iloc[0]
    assert campaign.texts_truncated == 2 and campaign.max_text_chars == 20_000
    assert outputs_frame(app_env, campaign.campaign_id).output.str.len().max() == 20_000
    assert get_campaign(app_env, campaign.campaign_id).config.max_comment_chars == 2_000
    assert _uploads() == ["long.csv"]


@pytest.mark.slow
def test_a_100k_row_upload_makes_a_campaign(open_page, app_env, researcher):
    n = 50_000
    table = pd.DataFrame(
        {
            "item_id": [f"doc-{i}" for i in range(n) for _ in (0, 1)],
            "system": ["base", "finetuned"] * n,
            "output": [f"an output of a few words, number {j}" for j in range(2 * n)],
        }
    )
    at = _campaigns_page(open_page, researcher)
    at.file_uploader[0].upload("big.csv", table.to_csv(index=False).encode(), "text/csv").run(timeout=300)
    assert not at.exception and not at.error
    at.button(key="create").click().run(timeout=300)
    assert not at.exception and "created" in at.success[0].value
    assert list_campaigns(app_env).n_items.iloc[0] == n
