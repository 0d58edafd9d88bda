"""Preference data (TRL's prompt/chosen/rejected and KTO formats) from a campaign's judgments: the majority
rule, ties and low margins counted, the evaluation-split rule, the chat format, the too-few error, and no
blind id or system name in any row. Stores are real DuckDB files filled through the real assignment/submit
path."""

import io
import json
from collections import Counter

import pandas as pd
import pytest
from helpers import synthetic
from helpers.run_folders import write_run_folder

from annotations import campaigns, store
from annotations.__main__ import main as cli
from annotations.errors import AnnotationError
from annotations.judging import judgments
from annotations.report.preferences import (
    PreferenceOptions,
    build_preferences,
    campaign_preferences,
    kto_rows,
    user_messages,
)
from ft_core import runfolder
from ft_core.config import GenerateConfig, TrainConfig
from ft_core.data import build_prompt, truncate_source

TEMPLATE = "Summarize: {source}"
N_ITEMS = 24
GOLD = {"item-001": "finetuned", "item-005": "base"}  # known answers: attention checks, never exported


def make_store(root, tokenizer=None, split="test", item_split=None, source_text=None):
    """A judged campaign over a run folder whose config.json and generate_config.json say how prompts were
    built; with `tokenizer`, the outputs' prompts are the chat-formatted ones ft_core.data.build_prompt
    writes."""
    run_dir = write_run_folder(
        root / "runs" / "run-1",
        n_items=N_ITEMS,
        output_text=lambda system, i: (
            f"{'A concise' if system == 'finetuned' else 'A long'} summary number {i}."
        ),
    )
    cfg = TrainConfig(prompt_template=TEMPLATE, use_chat_template=tokenizer is not None, max_source_length=6)
    runfolder.write_config(runfolder.config_path(run_dir), cfg)
    runfolder.write_config(
        runfolder.outputs_dir(run_dir) / runfolder.GENERATE_CONFIG,
        GenerateConfig(run_dir=str(run_dir), split=split),
    )
    for path in runfolder.outputs_dir(run_dir).glob("*.jsonl"):
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for i, r in enumerate(records):
            if source_text:
                r["source"] = source_text(i)
            if tokenizer is not None:
                source, _ = truncate_source(tokenizer, r["source"], cfg.max_source_length)
                r["prompt"] = build_prompt(tokenizer, cfg, source)
            else:
                r["prompt"] = TEMPLATE.replace("{source}", r["source"])
            if item_split:
                r["split"] = item_split(i)
        runfolder.write_jsonl_atomic(path, records)
    path = root / "app.duckdb"
    con = store.connect(path)
    cid = synthetic.fill_store(
        con, run_dir, n_annotators=4, left_biased=(), name="prefs", k=3, gold_rate=0.1, gold_items=GOLD
    )
    con.close()
    return path, cid


@pytest.fixture(scope="module")
def plain_store(tmp_path_factory):
    split = lambda i: "train" if i % 4 else "test"  # noqa: E731
    return make_store(tmp_path_factory.mktemp("plain"), item_split=split)


def independent_majority(frame: pd.DataFrame) -> dict[str, str | None]:
    """item -> majority system (None on a tie), counted with a Counter over the raters' de-randomized
    winners."""
    result = {}
    for item, rows in frame[~frame.is_gold & ~frame.is_repeat].groupby("item_id"):
        votes = Counter(w for w in rows.winner if w in ("base", "finetuned"))
        if not votes:
            continue
        result[item] = None if votes["base"] == votes["finetuned"] else votes.most_common(1)[0][0]
    return result


def test_handmade_votes_majority_ties_margin_and_disagreement():
    def vote(item, annotator, winner):
        return {
            "item_id": item,
            "annotator_id": annotator,
            "winner": winner,
            "is_gold": False,
            "is_repeat": False,
        }

    rows = [vote("i1", "a", "x"), vote("i1", "b", "x"), vote("i1", "c", "y")]  # x wins 2-1: margin 1/3
    rows += [vote("i2", "a", "x"), vote("i2", "b", "y"), vote("i2", "c", "tie")]  # a tie
    rows += [vote("i3", "a", "tie"), vote("i3", "b", "both_bad")]  # no vote for either
    rows += [vote("i4", "a", "y"), vote("i4", "b", "y")]  # y wins 2-0: margin 1
    rows += [vote("i5", "a", "x"), {**vote("i5", "a", "y"), "is_repeat": True}]  # a repeat never counts
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(1, 6)], "is_gold": False})
    outputs = pd.DataFrame(
        [{"item_id": f"i{i}", "system": s, "output": f"{s}-text-{i}"} for i in range(1, 6) for s in "xy"]
    )
    prompts = {f"i{i}": f"prompt {i}" for i in range(1, 6)}
    splits = dict.fromkeys(prompts, "train")
    args = (pd.DataFrame(rows), items, outputs, prompts, splits, "x", "y")
    data = build_preferences("c1", *args, PreferenceOptions(min_pairs=1))
    got = {r.item_id: (r.chosen, r.rejected) for r in data.pairs.itertuples()}
    assert got == {
        "i1": ("x-text-1", "y-text-1"),
        "i4": ("y-text-4", "x-text-4"),
        "i5": ("x-text-5", "y-text-5"),
    }
    s = data.summary
    assert (s.written, s.ties, s.undecided, s.low_margin) == (3, 1, 1, 0)
    assert s.disagreement_rate == pytest.approx(1 / 5) and s.disagreement_pairs == 2  # i1: 1 of 3, i4: 0 of 2
    strict = build_preferences("c1", *args, PreferenceOptions(min_pairs=1, min_margin=0.5))
    assert set(strict.pairs.item_id) == {"i4", "i5"} and strict.summary.low_margin == 1
    with pytest.raises(AnnotationError, match="fewer than --min-pairs 4.*nothing written"):
        build_preferences("c1", *args, PreferenceOptions(min_pairs=4))


def test_kto_labels_from_scaled_mean_scores():
    def score(item, annotator, criterion, system, value, **flags):
        return {
            "item_id": item,
            "annotator_id": annotator,
            "criterion": criterion,
            "system": system,
            "score": value,
            "is_gold": flags.get("gold", False),
            "is_repeat": flags.get("repeat", False),
        }

    criteria = {"fluency": (1, 5), "faithful": (0, 10)}
    rows = [score("i1", "a", "fluency", "x", 5), score("i1", "a", "faithful", "x", 6)]  # (1 + 0.6) / 2 = 0.8
    rows += [score("i1", "a", "fluency", "y", 2), score("i1", "b", "fluency", "y", 3)]  # (0.25 + 0.5) / 2
    rows += [score("i2", "a", "fluency", "x", 3)]  # exactly 0.5: no label
    rows += [score("i2", "a", "fluency", "y", 1), score("i2", "a", "fluency", "y", 5, repeat=True)]  # 0
    rows += [
        score("i3", "a", "fluency", "x", 5, gold=True),
        score("i3", "a", "style", "y", 5),
    ]  # never counted
    texts = {(i, s): f"{s}-{i}" for i in ("i1", "i2", "i3") for s in "xy"}
    kto, neutral = kto_rows(pd.DataFrame(rows), criteria, texts)
    assert dict(zip(kto.completion, kto.label)) == {"x-i1": True, "y-i1": False, "y-i2": False}
    assert neutral == 1


def test_cli_writes_majority_pairs_of_training_items_only(plain_store, tmp_path):
    path, cid = plain_store
    out = tmp_path / "prefs"
    assert (
        cli(["preferences", "--db", str(path), "--campaign", cid, "--out", str(out), "--min-pairs", "3"]) == 0
    )
    pairs = pd.read_json(out / "preferences.jsonl", lines=True)
    assert pairs.equals(pd.read_parquet(out / "preferences.parquet"))
    con = store.connect(path, read_only=True)
    frame = judgments.judgments_frame(con, cid)
    texts = campaigns.outputs_frame(con, cid).set_index(["item_id", "system"])["output"]
    items = campaigns.items_frame(con, cid).set_index("item_id")
    con.close()
    majority = independent_majority(frame)
    train = {i for i, m in items.metadata.items() if m["split"] == "train" and not items.is_gold[i]}
    expected = {i for i, w in majority.items() if w is not None and i in train}
    assert set(pairs.item_id) == expected and len(expected) >= 3
    for row in pairs.itertuples():
        winner = majority[row.item_id]
        loser = "base" if winner == "finetuned" else "finetuned"
        assert (row.chosen, row.rejected) == (texts[(row.item_id, winner)], texts[(row.item_id, loser)])
        assert row.prompt == items.prompt[row.item_id] and row.split == "train"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["written"] == len(pairs)
    assert summary["ties"] == sum(1 for i, w in majority.items() if w is None and not items.is_gold[i])
    assert summary["eval_split_left_out"] == sum(
        1 for i, w in majority.items() if w is not None and i not in train and not items.is_gold[i]
    )
    assert 0 <= summary["disagreement_rate"] <= 0.5


def test_eval_split_written_only_when_asked_and_labelled(plain_store):
    path, cid = plain_store
    con = store.connect(path, read_only=True)
    try:
        kept = campaign_preferences(con, cid, PreferenceOptions(min_pairs=1))
        everything = campaign_preferences(con, cid, PreferenceOptions(min_pairs=1, include_eval_split=True))
    finally:
        con.close()
    assert set(kept.pairs.split) == {"train"}
    assert set(everything.pairs.split) == {"train", "test"}
    assert len(everything.pairs) == len(kept.pairs) + kept.summary.eval_split_left_out
    assert everything.summary.eval_split_left_out == 0


def test_no_blind_ids_system_names_or_gold_items_in_rows(plain_store, tmp_path):
    path, cid = plain_store
    out = tmp_path / "prefs"
    argv = ["preferences", "--db", str(path), "--campaign", cid, "--out", str(out), "--min-pairs", "1"]
    assert cli([*argv, "--kto", "--include-eval-split"]) == 0
    con = store.connect(path, read_only=True)
    tokens = [r[0] for r in con.execute("SELECT assignment_id FROM assignments").fetchall()]
    judgment_ids = [r[0] for r in con.execute("SELECT judgment_id FROM judgments").fetchall()]
    gold = {r[0] for r in con.execute("SELECT item_id FROM items WHERE is_gold").fetchall()}
    con.close()
    assert gold, "the campaign should have gold items to leave out"
    kto_text = (out / "kto.jsonl").read_text()
    for name in ("preferences.jsonl", "kto.jsonl"):
        text = (out / name).read_text()
        rows = [json.loads(line) for line in text.splitlines()]
        assert rows and not gold & {r["item_id"] for r in rows}
        for secret in [*tokens, *judgment_ids, "finetuned", "base", "ann-0"]:
            assert secret not in text, f"{secret} leaked into {name}"
    assert cli(argv) == 0  # without --kto again: the earlier KTO files go
    assert not (out / "kto.jsonl").exists() and not (out / "kto.parquet").exists()
    kto = pd.read_json(io.StringIO(kto_text), lines=True)
    assert list(kto.columns[:3]) == ["prompt", "completion", "label"] and kto["label"].dtype == bool


def test_chat_template_runs_give_conversational_rows(tmp_path, real_tokenizer):
    long_source = lambda i: f"source text {i}" + " with more words than the prompt keeps" * (i % 3)  # noqa: E731
    path, cid = make_store(
        tmp_path, tokenizer=real_tokenizer, item_split=lambda i: "train", source_text=long_source
    )
    out = tmp_path / "prefs"
    assert (
        cli(["preferences", "--db", str(path), "--campaign", cid, "--out", str(out), "--min-pairs", "3"]) == 0
    )
    rows = [json.loads(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    con = store.connect(path, read_only=True)
    prompts = campaigns.items_frame(con, cid).set_index("item_id")["prompt"]
    con.close()
    for row in rows:
        (message,) = row["prompt"]
        assert message["role"] == "user" and message["content"].startswith("Summarize: source text")
        # the run's chat template around this message is exactly the prompt generation used (source cut
        # included)
        again = real_tokenizer.apply_chat_template([message], tokenize=False, add_generation_prompt=True)
        assert again == prompts[row["item_id"]]
        assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"
        assert row["chosen"][0]["content"] != row["rejected"][0]["content"]
    assert json.loads((out / "summary.json").read_text())["conversational"] is True
    parquet = pd.read_parquet(out / "preferences.parquet")
    assert list(parquet.prompt[0][0].keys()) == ["role", "content"]


def test_plain_prompts_stay_strings_and_unrecoverable_ones_are_refused():
    items = pd.DataFrame(
        {
            "item_id": ["a", "b"],
            "source": ["cats", "dogs and cats"],
            "prompt": ["Summarize: cats", "Summarize: dogs"],
        }
    )
    assert user_messages(items, TEMPLATE) is None  # a cut source: still the plain template
    items["prompt"] = ["<s>Tell me: cats</s>", "<s>Tell me: dogs</s>"]
    with pytest.raises(AnnotationError, match="prompt format cannot be recovered"):
        user_messages(items, TEMPLATE)


def test_unrecoverable_prompt_format_and_too_few_pairs_are_one_line_errors(plain_store, tmp_path, capsys):
    path, cid = plain_store
    out = tmp_path / "prefs"
    assert (
        cli(["preferences", "--db", str(path), "--campaign", cid, "--out", str(out), "--min-pairs", "500"])
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fewer than --min-pairs 500" in err and "nothing written" in err
    assert not out.exists() or not any(out.iterdir())
    # a campaign whose run folder lost its config.json: the prompt format cannot be recovered
    con = store.connect(path, read_only=True)
    run_dir = campaigns.get_campaign(con, cid).config.run_dir
    con.close()
    config = runfolder.config_path(run_dir)
    saved = config.read_text()
    config.unlink()
    try:
        assert cli(["preferences", "--db", str(path), "--campaign", cid, "--out", str(out)]) == 1
    finally:
        config.write_text(saved)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "prompt format cannot be recovered" in err
    assert not out.exists() or not any(out.iterdir())
