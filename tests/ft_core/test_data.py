"""Data loading, prompt formatting, target-only label masking and truncation statistics."""

import json

import pandas as pd
import pytest

from ft_core.config import DataConfig
from ft_core.data import IGNORE_INDEX, Example, build_prompt, encode_example, load_examples, truncation_report
from ft_core.errors import DataError

ROWS = [
    {"doc": ["First sentence.", "Second sentence."], "summary": ["Ref one.", "Ref two."], "key": "a"},
    {"doc": "A plain string source.", "summary": "Only ref.", "key": "b"},
]


def _cfg(**kw):
    return DataConfig(source_column="doc", target_column="summary", **kw)


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_local_formats_and_column_mapping(tmp_path, suffix):
    path = tmp_path / f"d.{suffix}"
    if suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
        expected_refs = [["Ref one.", "Ref two."], ["Only ref."]]
    else:
        flat = [
            {
                "doc": " ".join(r["doc"]) if isinstance(r["doc"], list) else r["doc"],
                "summary": r["summary"] if isinstance(r["summary"], str) else r["summary"][0],
                "key": r["key"],
            }
            for r in ROWS
        ]
        (
            pd.DataFrame(flat).to_csv(path, index=False)
            if suffix == "csv"
            else pd.DataFrame(flat).to_parquet(path)
        )
        expected_refs = [["Ref one."], ["Only ref."]]
    examples = load_examples(str(path), _cfg(id_column="key"))
    assert [e.item_id for e in examples] == ["a", "b"]
    assert examples[0].source == "First sentence. Second sentence."
    assert examples[0].target == "Ref one."
    assert [e.references for e in examples] == expected_refs


def test_scitldr_default_loads(shared_data):
    examples = load_examples(str(shared_data / "scitldr-a" / "test.jsonl"), DataConfig(), limit=5)
    assert len(examples) == 5
    assert all(len(e.references) >= 2 for e in examples)  # the test split has 2-4 TL;DRs per paper


def test_wrong_column_lists_the_real_ones(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n")
    with pytest.raises(
        DataError, match="column 'source' not found in d.jsonl; columns are: doc, summary, key"
    ):
        load_examples(str(path), DataConfig())


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="data file not found"):
        load_examples(str(tmp_path / "none.jsonl"), DataConfig())
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="holds no examples"):
        load_examples(str(empty), DataConfig())
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(DataError, match="could not be parsed"):
        load_examples(str(broken), DataConfig())


def test_prompt_uses_chat_template_for_instruct_models(real_tokenizer):
    cfg = DataConfig(prompt_template="Summarize: {source}")
    prompt = build_prompt(real_tokenizer, cfg, "Cats sleep.")
    assert prompt.startswith("<|im_start|>") and "Summarize: Cats sleep." in prompt
    assert prompt.rstrip().endswith("<|im_start|>assistant")
    plain = build_prompt(
        real_tokenizer,
        DataConfig(prompt_template="Summarize: {source}", use_chat_template=False),
        "Cats sleep.",
    )
    assert plain == "Summarize: Cats sleep."


def test_loss_only_on_target_tokens(real_tokenizer):
    cfg = DataConfig(prompt_template="Summarize: {source}")
    example = Example("0", "Cats sleep a lot during the day.", "Cats nap.", ["Cats nap."])
    enc = encode_example(real_tokenizer, cfg, example)
    target_ids = real_tokenizer("Cats nap.", add_special_tokens=False)["input_ids"] + [
        real_tokenizer.eos_token_id
    ]
    n_prompt = len(enc["input_ids"]) - len(target_ids)
    assert enc["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert enc["labels"][n_prompt:] == target_ids
    assert enc["input_ids"][n_prompt:] == target_ids
    prompt_ids = real_tokenizer(build_prompt(real_tokenizer, cfg, example.source), add_special_tokens=False)[
        "input_ids"
    ]
    assert enc["input_ids"][:n_prompt] == prompt_ids


def test_seq2seq_encoding_keeps_labels_separate(real_tokenizer):
    enc = encode_example(
        real_tokenizer, DataConfig(), Example("0", "Some source.", "A target.", []), task="seq2seq"
    )
    assert IGNORE_INDEX not in enc["labels"]
    assert enc["labels"][-1] == real_tokenizer.eos_token_id
    assert "<|im_start|>" not in real_tokenizer.decode(enc["input_ids"])


def test_truncation_statistics_count_exactly(real_tokenizer):
    cfg = DataConfig(max_source_length=5, max_target_length=3, prompt_template="{source}")
    long_source = "one two three four five six seven eight nine ten"
    examples = [Example("0", long_source, "a b c d e f", []), Example("1", "short", "ok", [])]
    encoded = [encode_example(real_tokenizer, cfg, e) for e in examples]
    n_source = len(real_tokenizer(long_source, add_special_tokens=False)["input_ids"])
    n_target = len(real_tokenizer("a b c d e f", add_special_tokens=False)["input_ids"])
    report = truncation_report(encoded)
    assert report["sources_truncated"] == 1 and report["targets_truncated"] == 1
    assert report["source_tokens_lost_max"] == n_source - 5
    assert report["target_tokens_lost_max"] == n_target - 3
    assert report["sources_truncated_share"] == 0.5
    # the kept target is exactly max_target_length tokens plus end-of-sequence
    assert sum(label != IGNORE_INDEX for label in encoded[0]["labels"]) == 3 + 1
