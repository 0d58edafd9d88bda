"""Campaigns: import from run folders and CSV/JSONL, item selection, validation, the frames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers.run_folders import write_run_folder

from annotations.campaigns import (
    CampaignConfig,
    Criterion,
    create_campaign,
    get_campaign,
    items_frame,
    list_campaigns,
    metric_disagreement,
    metrics_frame,
    outputs_frame,
    read_frame,
    run_folder_options,
    set_status,
)
from annotations.errors import CampaignError


def test_run_folder_import_fills_the_frames(con, run_folder):
    cid = create_campaign(con, CampaignConfig(name="all items", run_dir=str(run_folder), k=2))
    items = items_frame(con, cid)
    assert list(items.item_id) == [f"item-{i:03d}" for i in range(12)]
    assert items.references.iloc[3] == ["reference 3", "second reference 3"]
    assert items.source.iloc[3] == "source text 3"
    assert not items.is_gold.any()
    outputs = outputs_frame(con, cid)
    assert len(outputs) == 24
    row = outputs[(outputs.item_id == "item-005") & (outputs.system == "finetuned")].iloc[0]
    assert row.output == "finetuned greedy 0 output for item 5"
    metrics = metrics_frame(con, cid)
    parquet = pd.read_parquet(run_folder / "scores" / "per_example.parquet")
    expected = parquet[(parquet.item_id == "item-005") & (parquet.system == "base")].rougeL.iloc[0]
    got = metrics[
        (metrics.item_id == "item-005") & (metrics.system == "base") & (metrics.metric == "rougeL")
    ].value.iloc[0]
    assert got == pytest.approx(expected)
    listed = list_campaigns(con)
    assert {"campaign_id", "name", "system_a", "system_b", "created_at", "k", "n_items", "run_dir"} <= set(
        listed.columns
    )
    assert listed.iloc[0].n_items == 12 and listed.iloc[0].k == 2 and listed.iloc[0].system_b == "finetuned"


def test_decoding_and_seed_pick_the_right_file(con, tmp_path):
    run = write_run_folder(tmp_path / "multi", n_items=4, decodings=("greedy", "sample"), seeds=(1, 2))
    options = run_folder_options(run)
    assert len(options) == 8
    cid = create_campaign(con, CampaignConfig(name="s", run_dir=str(run), decoding="sample", seed=2))
    outputs = outputs_frame(con, cid)
    assert set(outputs.output.str.split().str[1]) == {"sample"}
    assert set(outputs.seed) == {2}
    with pytest.raises(CampaignError, match="available: base/greedy/seed1"):
        create_campaign(con, CampaignConfig(name="s", run_dir=str(run), decoding="beam"))


def test_random_sample_is_reproducible(con, run_folder):
    a = create_campaign(
        con, CampaignConfig(name="r", run_dir=str(run_folder), selection="random", n_items=5, sample_seed=7)
    )
    b = create_campaign(
        con, CampaignConfig(name="r", run_dir=str(run_folder), selection="random", n_items=5, sample_seed=7)
    )
    assert len(items_frame(con, a)) == 5
    assert list(items_frame(con, a).item_id) == list(items_frame(con, b).item_id)


def test_critical_items_are_the_largest_disagreements(con, run_folder):
    cid = create_campaign(
        con, CampaignConfig(name="c", run_dir=str(run_folder), selection="critical", n_items=4)
    )
    # Independent computation: standardized deltas per metric, spread max - min, top 4.
    scores = pd.read_parquet(run_folder / "scores" / "per_example.parquet").set_index(["item_id", "system"])
    deltas = np.stack(
        [
            (scores.xs("finetuned", level="system")[m] - scores.xs("base", level="system")[m]).to_numpy()
            for m in ("rougeL", "sentence_bleu", "bertscore_f1")
        ],
        axis=1,
    )
    z = deltas / deltas.std(axis=0)
    spread = z.max(axis=1) - z.min(axis=1)
    ids = scores.xs("base", level="system").index.to_numpy()
    expected = list(ids[np.argsort(-spread, kind="stable")[:4]])
    assert list(items_frame(con, cid).item_id) == expected


def test_metric_disagreement_single_metric_is_absolute_standardized_delta():
    deltas = pd.DataFrame({"rougeL": [0.1, -0.3, 0.2]})
    expected = (deltas.rougeL / deltas.rougeL.std(ddof=0)).abs()
    pd.testing.assert_series_equal(metric_disagreement(deltas), expected, check_names=False)


def test_csv_and_jsonl_outputs_made_elsewhere(con, tmp_path):
    rows = []
    for i in range(3):
        for system, text in (("gpt", f"gpt says {i}"), ("mine", f"mine says {i}")):
            rows.append(
                {
                    "item_id": i,
                    "system": system,
                    "output": text,
                    "source": f"doc {i}",
                    "references": json.dumps([f"ref {i}"]),
                    "chrf": i / 10,
                    "gold_winner": "mine" if i == 2 else "",
                }
            )
    csv = tmp_path / "outs.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    cid = create_campaign(
        con, CampaignConfig(name="csv", source_file=str(csv), system_a="gpt", system_b="mine")
    )
    items = items_frame(con, cid).set_index("item_id")
    assert items.loc["1", "references"] == ["ref 1"]
    assert items.loc["2", "is_gold"] and items.loc["2", "gold_winner"] == "mine"
    assert not items.loc["0", "is_gold"]
    # a per-item chrf is a sentence score: stored under its own name, `chrf` being the corpus figure's
    assert set(metrics_frame(con, cid).metric) == {"sentence_chrf"}

    jsonl = tmp_path / "outs.jsonl"
    jsonl.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "gold_winner"}) + "\n" for r in rows)
    )
    cid2 = create_campaign(
        con, CampaignConfig(name="jsonl", source_file=str(jsonl), system_a="gpt", system_b="mine")
    )
    assert len(outputs_frame(con, cid2)) == 6


def test_helpful_errors(con, tmp_path, run_folder):
    with pytest.raises(CampaignError, match="outputs/ .*generate"):
        create_campaign(con, CampaignConfig(name="x", run_dir=str(tmp_path / "empty")))
    bad = tmp_path / "bad.csv"
    bad.write_text("item,text\n1,a\n")
    with pytest.raises(CampaignError, match="lacks column"):
        create_campaign(con, CampaignConfig(name="x", source_file=str(bad)))
    with pytest.raises(CampaignError, match="both 'base'"):
        create_campaign(con, CampaignConfig(name="x", run_dir=str(run_folder), system_b="base"))
    with pytest.raises(CampaignError, match="winner 'left'"):
        create_campaign(
            con, CampaignConfig(name="x", run_dir=str(run_folder), gold_items={"item-001": "left"})
        )
    with pytest.raises(CampaignError, match="criterion names"):
        create_campaign(con, CampaignConfig(name="x", run_dir=str(run_folder), criteria=[Criterion("a b")]))
    assert list_campaigns(con).empty


def test_gold_items_config_roundtrip_and_status(con, run_folder):
    criteria = [Criterion("clarity", "clear?", 1, 7)]
    cid = create_campaign(
        con,
        CampaignConfig(
            name="g",
            run_dir=str(run_folder),
            gold_items={"item-011": "tie"},
            gold_rate=0.2,
            criteria=criteria,
        ),
    )
    campaign = get_campaign(con, cid)
    assert campaign.config.criteria == criteria and campaign.config.gold_items == {"item-011": "tie"}
    items = items_frame(con, cid).set_index("item_id")
    assert items.loc["item-011", "is_gold"] and items.is_gold.sum() == 1
    assert list_campaigns(con).iloc[0].n_items == 11  # gold items are not part of the k-judged pool
    set_status(con, cid, "closed")
    assert get_campaign(con, cid).status == "closed"


def test_read_frame_gives_what_df_gives(con):
    """The Arrow fetch behind the analysis frames keeps `.df()`'s dtypes: nullable ints and booleans where a
    column holds nulls, object for text that is all null, and for every text column of an empty result."""
    con.execute(
        "CREATE TABLE t (s VARCHAR, n VARCHAR, i INTEGER, b BOOLEAN, ts TIMESTAMP, d DOUBLE PRECISION, "
        "p VARCHAR, bi BIGINT)"
    )
    con.execute(
        "INSERT INTO t VALUES ('a', NULL, NULL, NULL, NULL, NULL, 'x', NULL), "
        "('b', NULL, 2, true, '2020-01-01', 1.5, NULL, 3)"
    )
    for sql in ("SELECT * FROM t", "SELECT * FROM t WHERE s = ?", "SELECT * FROM t WHERE s = 'b' AND ? = ?"):
        params = [] if "?" not in sql else (["a"] if sql.count("?") == 1 else [1, 2])
        pd.testing.assert_frame_equal(read_frame(con, sql, params), con.cursor().execute(sql, params).df())
    assert str(read_frame(con, "SELECT * FROM t", [])["i"].dtype) == "Int32"


def test_items_and_outputs_of_chosen_items_only(con, run_folder):
    """The example browser's one-item read gives exactly the rows of the full frames for those items."""
    cid = create_campaign(con, CampaignConfig(name="some items", run_dir=str(run_folder), k=2))
    chosen = ["item-009", "item-002"]
    items, outputs = items_frame(con, cid), outputs_frame(con, cid)
    some_items = items_frame(con, cid, item_ids=chosen)
    some_outputs = outputs_frame(con, cid, item_ids=chosen)
    pd.testing.assert_frame_equal(some_items, items[items.item_id.isin(chosen)].reset_index(drop=True))
    pd.testing.assert_frame_equal(some_outputs, outputs[outputs.item_id.isin(chosen)].reset_index(drop=True))
    assert list(some_items.item_id) == ["item-002", "item-009"] and len(some_outputs) == 4
    assert items_frame(con, cid, item_ids=["no-such-item"]).empty


def _long_csv(tmp_path, lengths: dict[tuple[str, str], int], reference_length: int = 5):
    """A CSV of 4 items; `lengths[(item_id, system)]` sets that output's length in characters."""
    rows = []
    for i in range(4):
        for system in ("base", "finetuned"):
            n = lengths.get((f"i{i}", system), 10)
            rows.append(
                {
                    "item_id": f"i{i}",
                    "system": system,
                    "output": ("w " * n)[:n],
                    "source": "s" * (25_000 if (i, system) == (2, "base") else 10),
                    "reference": "r" * reference_length,
                }
            )
    path = tmp_path / "long.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_texts_over_the_limit_are_refused_naming_the_first_ones(con, tmp_path):
    path = _long_csv(
        tmp_path, {("i1", "finetuned"): 1_000_000, ("i3", "base"): 20_001, ("i0", "base"): 20_000}
    )
    with pytest.raises(CampaignError) as raised:
        create_campaign(con, CampaignConfig(name="long", source_file=str(path)))
    message = str(raised.value)
    assert message.startswith(
        "3 texts are longer than the limit of 20,000 characters (item 'i1' output of system 'finetuned': "
        "1,000,000; item 'i2' source: 25,000; item 'i3' output of system 'base': 20,001)"
    ), message
    assert "truncate_long_texts" in message and "\n" not in message and len(message) < 400
    assert list_campaigns(con).empty
    # Exactly at the limit is fine; the limit is the campaign's to choose.
    ok = _long_csv(tmp_path, {("i0", "base"): 20_000})
    create_campaign(con, CampaignConfig(name="at limit", source_file=str(ok), max_text_chars=25_000))
    with pytest.raises(CampaignError, match=r"^12 texts are longer than the limit of 9 characters"):
        create_campaign(
            con, CampaignConfig(name="tight", source_file=str(_long_csv(tmp_path, {}, 5)), max_text_chars=9)
        )


def test_truncation_cuts_at_the_limit_and_the_record_says_so(con, tmp_path):
    path = _long_csv(
        tmp_path, {("i1", "finetuned"): 1_000_000, ("i3", "base"): 20_001}, reference_length=30_000
    )
    cid = create_campaign(con, CampaignConfig(name="cut", source_file=str(path), truncate_long_texts=True))
    outputs = outputs_frame(con, cid).set_index(["item_id", "system"])
    assert outputs.loc[("i1", "finetuned"), "output"] == ("w " * 10_000)[:20_000]
    assert len(outputs.loc[("i3", "base"), "output"]) == 20_000
    assert outputs.loc[("i0", "base"), "output"] == "w w w w w "  # short texts untouched
    assert outputs.loc[("i1", "finetuned"), "n_words"] == 10_000  # counted on the stored text
    items = items_frame(con, cid).set_index("item_id")
    assert len(items.loc["i2", "source"]) == 20_000 and items.loc["i1", "source"] == "s" * 10
    assert [len(r) for refs in items.references for r in refs] == [20_000] * 4
    # 2 outputs + 1 source + 4 references were cut: the campaign record holds how many and at which limit.
    row = list_campaigns(con).iloc[0]
    assert row.texts_truncated == 7 and row.max_text_chars == 20_000
    assert get_campaign(con, cid).texts_truncated == 7
    assert get_campaign(con, cid).config.truncate_long_texts
    plain = create_campaign(
        con, CampaignConfig(name="plain", source_file=str(_long_csv(tmp_path, {})), max_text_chars=30_000)
    )
    assert get_campaign(con, plain).texts_truncated == 0


def test_run_folder_outputs_obey_the_limit(con, tmp_path):
    run = write_run_folder(
        tmp_path / "runs" / "long", n_items=3, output_text=lambda s, i: "x" * (30_000 if i == 1 else 5)
    )
    with pytest.raises(CampaignError, match=r"item 'item-001' output of system 'base': 30,000"):
        create_campaign(con, CampaignConfig(name="r", run_dir=str(run)))
    cid = create_campaign(con, CampaignConfig(name="r", run_dir=str(run), truncate_long_texts=True))
    assert get_campaign(con, cid).texts_truncated == 2
    assert outputs_frame(con, cid).output.str.len().max() == 20_000


def test_limits_must_be_positive(con, run_folder):
    for bad in ({"max_text_chars": 0}, {"max_comment_chars": 0}):
        with pytest.raises(CampaignError, match="must be at least 1, got 0"):
            create_campaign(con, CampaignConfig(name="x", run_dir=str(run_folder), **bad))


def test_a_campaign_config_checks_itself_when_made(run_folder):
    """CampaignConfig validates in __post_init__ (no separate validate()), coerces form/YAML text to the field
    types with ft_core.config's one helper, and carries labels and help for the form."""
    from ft_core.config import field_specs

    with pytest.raises(CampaignError, match="k must be at least 1, got 0"):
        CampaignConfig(name="x", run_dir=str(run_folder), k=0)
    with pytest.raises(CampaignError, match="selection must be one of all, random, critical; got 'best'"):
        CampaignConfig(name="x", run_dir=str(run_folder), selection="best")
    with pytest.raises(CampaignError, match="exactly one of run_dir"):
        CampaignConfig(name="x")
    with pytest.raises(CampaignError, match="k must be of type int"):
        CampaignConfig(name="x", run_dir=str(run_folder), k="three")
    config = CampaignConfig(name="x", run_dir=str(run_folder), k="2", gold_rate="0.1")
    assert config.k == 2 and config.gold_rate == 0.1
    assert CampaignConfig.from_json(config.to_json()) == config
    specs = {spec.name: spec for spec in field_specs(CampaignConfig)}
    assert specs["selection"].choices == ("all", "random", "critical")
    assert all(spec.label and spec.help for spec in specs.values())
