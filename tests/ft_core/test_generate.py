"""ft_core.generate with tiny random models: order kept, batching equals one-by-one, resuming, both systems,
bad input.

Until ft_core.train lands in these tests, a "trained" adapter is made directly with peft: LoRA on the tiny
Llama with its B matrices perturbed, so that the fine-tuned system really differs from the base.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ft_core.config import TrainConfig, save_config
from ft_core.decoding import Decoding, expand
from ft_core.errors import ConfigError, ModelError, RunFolderError
from ft_core.generate import (
    GenerateConfig,
    build_prompts,
    generate,
    generate_texts,
    length_sorted_batches,
    load_for_generation,
    parse_output_name,
    resolve_job,
)

MAX_NEW = 6
# A random tiny model with tied embeddings echoes its last input token ("\n" after the chat template), which
# decodes to "". Forbidding repeated tokens makes it write varied text that shows differences between systems.
NO_REPEAT = 1


def make_adapter(model_dir: Path, adapter_dir: Path, scale: float = 0.5) -> Path:
    """A LoRA adapter on q/v projections whose B matrices are random, i.e. not a no-op."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    )
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, scale)
    model.save_pretrained(adapter_dir)
    return adapter_dir


def make_run(root: Path, model_dir: Path, test_file: Path, with_adapter: bool = True, **train) -> Path:
    """A run folder as ft_core.train leaves it: config.json (+ adapter/)."""
    run = root / "run"
    run.mkdir(parents=True)
    if with_adapter:
        make_adapter(model_dir, run / "adapter")
    cfg = TrainConfig(
        base_model=str(model_dir),
        run_dir=str(run),
        test_file=str(test_file),
        max_target_length=MAX_NEW,
        **train,
    )
    save_config(cfg, run / "config.json")
    return run


def write_eval_file(folder: Path, n: int = 7, with_target: bool = True) -> Path:
    """Items with sources of very different lengths, so length sorting reorders them."""
    rows = []
    for i in range(n):
        row = {"paper_id": f"p{i}", "source": ["We study graphs. " * (1 + (i * 5) % 7), f"Item {i}."]}
        if with_target:
            row["target"] = [f"Graphs, item {i}.", f"Item {i} on graphs."]
        rows.append(row)
    path = folder / ("eval.jsonl" if with_target else "eval_no_target.jsonl")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_causal_dir):
    root = tmp_path_factory.mktemp("gen")
    return make_run(root, tiny_causal_dir, write_eval_file(root), id_column="paper_id")


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_batched_generation_keeps_order_and_equals_one_by_one(tiny_causal_dir):
    model, tokenizer = load_for_generation(str(tiny_causal_dir), "causal", None, "fp32", "cpu", "sdpa")
    prompts = [("word " * (1 + (i * 7) % 11)) + f"end {i}" for i in range(9)]
    decoding = Decoding(max_new_tokens=MAX_NEW, no_repeat_ngram_size=NO_REPEAT)
    batched = generate_texts(model, tokenizer, prompts, decoding, batch_size=4)
    single = generate_texts(model, tokenizer, prompts, decoding, batch_size=1)
    # Left padding with an attention mask must not change greedy outputs, and results come back in input
    # order.
    assert [g.output for g in batched] == [g.output for g in single]
    assert [g.new_tokens for g in batched] == [g.new_tokens for g in single]
    assert all(g.new_tokens <= MAX_NEW for g in batched)
    assert all(g.hit_max_new_tokens == (g.new_tokens == MAX_NEW) for g in batched)
    batches = length_sorted_batches([3, 9, 1, 7, 5], 2)
    assert batches == [[1, 3], [4, 0], [2]]


def test_generate_writes_both_systems_in_input_order(run_dir):
    cfg = GenerateConfig(run_dir=str(run_dir), batch_size=3, no_repeat_ngram_size=NO_REPEAT)
    paths = generate(cfg)
    names = sorted(p.name for p in paths)
    assert names == ["base__greedy-nr1__seed0.jsonl", "finetuned__greedy-nr1__seed0.jsonl"]
    job = resolve_job(cfg)
    base, finetuned = (
        _read(run_dir / "outputs" / f"{s}__greedy-nr1__seed0.jsonl") for s in ("base", "finetuned")
    )
    ids = [f"p{i}" for i in range(7)]
    assert [r["item_id"] for r in base] == ids and [r["item_id"] for r in finetuned] == ids
    for record in base:
        assert set(record) >= {
            "item_id",
            "system",
            "decoding",
            "seed",
            "prompt",
            "source",
            "output",
            "references",
            "new_tokens",
            "hit_max_new_tokens",
            "time_s",
        }
        assert record["system"] == "base" and record["decoding"] == "greedy-nr1" and record["seed"] == 0
        assert record["references"] == [
            f"Graphs, item {record['item_id'][1:]}.",
            f"Item {record['item_id'][1:]} on graphs.",
        ]
        assert record["new_tokens"] <= job.decodings[0].max_new_tokens
    # The prompt is the training prompt (chat template around the template around the source).
    assert "We study graphs." in base[0]["prompt"] and base[0]["prompt"].startswith("<|im_start|>")
    # The adapter changes what the model writes; switched off, the model is the plain base model.
    assert [r["output"] for r in base] != [r["output"] for r in finetuned]
    from ft_core.models import load_model, load_tokenizer

    plain = load_model(job.base_model, "causal")
    tokenizer = load_tokenizer(job.base_model)
    prompts = [r["prompt"] for r in base]
    expected = generate_texts(plain, tokenizer, prompts, job.decodings[0], batch_size=1)
    assert [g.output for g in expected] == [r["output"] for r in base]
    assert all(r["output"] for r in base)
    assert parse_output_name(paths[0])[1:] == ("greedy-nr1", 0)


def test_the_printed_plan_gives_progress_over_both_systems(run_dir, capsys):
    """What generate prints is what jobs.progress reads for Home and the Jobs page: half when the base
    model's file is written, all only when the fine-tuned one is too."""
    from jobs.progress import generation_progress

    cfg = GenerateConfig(
        run_dir=str(run_dir), output_dir=str(run_dir / "plan"), batch_size=4, no_repeat_ngram_size=NO_REPEAT
    )
    capsys.readouterr()
    generate(cfg)
    out = capsys.readouterr().out
    assert out.startswith("plan: 2 outputs files of 7 items: base__greedy-nr1__seed0.jsonl, finetuned__")
    base_only = out[: out.index("merging the fine-tuned adapter")]
    assert generation_progress(base_only).fraction == 0.5
    assert generation_progress(out).fraction == 1.0
    assert generation_progress(out).text == "items written: base model 7/7, fine-tuned model 7/7"


def test_resume_keeps_finished_items_and_generates_the_rest(run_dir, capsys):
    cfg = GenerateConfig(
        run_dir=str(run_dir),
        systems=["base"],
        output_dir=str(run_dir / "resume"),
        batch_size=4,
        no_repeat_ngram_size=NO_REPEAT,
    )
    (path,) = generate(cfg)
    complete = _read(path)
    # Simulate a crash after 3 items: they sit in the .partial file (the last line cut), the final file is
    # absent.
    partial = path.with_name(f".{path.name}.partial")
    kept = [dict(r, output=f"KEPT {r['item_id']}") for r in complete[:3]]
    partial.write_text("".join(json.dumps(r) + "\n" for r in kept) + '{"item_id": "p3", "outp')
    path.unlink()
    capsys.readouterr()
    (again,) = generate(cfg)
    assert "resuming, 3/7 items done before" in capsys.readouterr().out
    resumed = _read(again)
    assert [r["item_id"] for r in resumed] == [r["item_id"] for r in complete]
    assert [r["output"] for r in resumed[:3]] == ["KEPT p0", "KEPT p1", "KEPT p2"]  # not recomputed
    assert [r["output"] for r in resumed[3:]] == [r["output"] for r in complete[3:]]
    assert not partial.exists()
    # A complete file is kept as it is.
    generate(cfg)
    assert "complete already, kept" in capsys.readouterr().out
    # A different prompt template does not silently mix with the finished items.
    path.unlink()
    partial.write_text("".join(json.dumps(r) + "\n" for r in kept))
    changed = GenerateConfig(**{**cfg.__dict__, "prompt_template": "TL;DR of: {source}"})
    with pytest.raises(RunFolderError, match="another prompt"):
        generate(changed)


def test_sampling_seeds_are_reproducible_and_differ(run_dir):
    out = str(run_dir / "sampling")
    cfg = GenerateConfig(
        run_dir=str(run_dir),
        systems=["finetuned"],
        decodings=["sample:temperature=1.5"],
        seeds=[0, 1],
        output_dir=out,
        batch_size=4,
        no_repeat_ngram_size=NO_REPEAT,
        limit=4,
    )
    paths = generate(cfg)
    assert [p.name for p in paths] == [
        "finetuned__sample-t1.5-p0.9-nr1__seed0.jsonl",
        "finetuned__sample-t1.5-p0.9-nr1__seed1.jsonl",
    ]
    first = [r["output"] for r in _read(paths[0])]
    assert first != [r["output"] for r in _read(paths[1])]
    generate(GenerateConfig(**{**cfg.__dict__, "overwrite": True, "seeds": [0]}))
    assert [r["output"] for r in _read(paths[0])] == first


def test_seq2seq_base_generation(tmp_path, tiny_seq2seq_dir):
    eval_file = write_eval_file(tmp_path, n=3)
    cfg = GenerateConfig(
        base_model=str(tiny_seq2seq_dir),
        task="seq2seq",
        systems=["base"],
        split=str(eval_file),
        output_dir=str(tmp_path),
        max_new_tokens=5,
        batch_size=2,
    )
    with pytest.warns(
        UserWarning, match="max_new_tokens=5 but the model was trained on targets cut at max_target_length=64"
    ):
        (path,) = generate(cfg)
    records = _read(path)
    assert [r["item_id"] for r in records] == ["0", "1", "2"]
    assert all(0 <= r["new_tokens"] <= 5 for r in records)
    assert not records[0]["prompt"].startswith("<|im_start|>")  # no chat template for seq2seq


def test_run_without_adapter_and_split_without_references(tmp_path, tiny_causal_dir, capsys):
    from ft_core.__main__ import main

    no_target = write_eval_file(tmp_path, n=3, with_target=False)
    run = make_run(tmp_path, tiny_causal_dir, no_target, with_adapter=False)
    with pytest.raises(RunFolderError, match="has no adapter .*systems=base"):
        generate(GenerateConfig(run_dir=str(run)))
    assert main(["generate", "--run-dir", str(run)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "has no adapter" in err and len(err.splitlines()) == 1
    # Base only works, and a split without references still generates (with a warning).
    with pytest.warns(UserWarning, match="has no references"):
        (path,) = generate(GenerateConfig(run_dir=str(run), systems=["base"], batch_size=3))
    assert [r["references"] for r in _read(path)] == [[], [], []]


def test_bad_configs_have_clear_messages(tmp_path):
    with pytest.raises(ConfigError, match="give run_dir"):
        GenerateConfig()
    with pytest.raises(ConfigError, match="without run_dir, set output_dir"):
        GenerateConfig(base_model="x")
    with pytest.raises(ConfigError, match="systems must be among base, finetuned"):
        GenerateConfig(base_model="x", output_dir="o", systems=["baseline"])
    with pytest.raises(RunFolderError, match="no config.json"):
        resolve_job(GenerateConfig(run_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="bad decoding option"):
        expand(["beam:beams=4"])
    with pytest.raises(ConfigError, match="strategy must be one of"):
        expand(["nucleus"])
    names = [d.name for d in expand(["greedy", "beam:num_beams=2|4,length_penalty=0.8", "greedy"])]
    assert names == ["greedy", "beam-n2-lp0.8", "beam-n4-lp0.8"]


def test_prompts_match_training_prompts(run_dir):
    from ft_core.data import build_prompt, load_examples, truncate_source
    from ft_core.models import load_tokenizer

    job = resolve_job(GenerateConfig(run_dir=str(run_dir), max_source_length=8))
    tokenizer = load_tokenizer(job.base_model)
    examples = load_examples(job.eval_file, job.data)
    prompts = build_prompts(tokenizer, job.data, examples, "causal")
    cut, _ = truncate_source(tokenizer, examples[1].source, 8)
    assert prompts[1] == build_prompt(tokenizer, job.data, cut, "causal")


def test_warns_when_the_run_is_not_finished(run_dir):
    status = run_dir / "status.json"
    status.write_text(json.dumps({"state": "running", "step": 3}))
    try:
        with pytest.warns(UserWarning, match="state is 'running'.*best adapter so far"):
            resolve_job(GenerateConfig(run_dir=str(run_dir)))
    finally:
        status.unlink()


# --- the fine-tuned pass: adapter merged, same outputs; the host reads each batch once
# ------------------------


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_merged_finetuned_pass_equals_the_unmerged_adapter(tmp_path, tiny_causal_dir, precision):
    import torch
    from peft.tuners.tuners_utils import BaseTunerLayer

    from ft_core.generate import check_adapter, merge_adapter

    adapter = make_adapter(tiny_causal_dir, tmp_path / "adapter")
    prompts = [("word " * (1 + (i * 7) % 11)) + f"end {i}" for i in range(6)]
    decoding = Decoding(max_new_tokens=MAX_NEW, no_repeat_ngram_size=NO_REPEAT)
    unmerged, tokenizer = load_for_generation(
        str(tiny_causal_dir), "causal", adapter, precision, "cpu", "sdpa"
    )
    ids = tokenizer(prompts[:1], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        unmerged_logits = unmerged(ids).logits.float()
    unmerged_out = generate_texts(unmerged, tokenizer, prompts, decoding, batch_size=3)

    plain, _ = load_for_generation(str(tiny_causal_dir), "causal", None, precision, "cpu", "sdpa")
    with torch.no_grad():
        base_logits = plain(ids).logits.float()
    weights = {k: v.clone() for k, v in plain.state_dict().items()}
    check_adapter(plain, adapter, "tiny")  # attached and taken off: the base is as it was
    assert not any(isinstance(m, BaseTunerLayer) for m in plain.modules())
    assert all(torch.equal(weights[k], v) for k, v in plain.state_dict().items())

    merged = merge_adapter(plain, adapter)
    assert not any(isinstance(m, BaseTunerLayer) for m in merged.modules())  # a plain model: no peft wrappers
    assert type(merged) is type(plain) and merged.dtype == unmerged.get_base_model().dtype
    with torch.no_grad():
        merged_logits = merged(ids).logits.float()
    merged_out = generate_texts(merged, tokenizer, prompts, decoding, batch_size=3)
    assert not torch.allclose(merged_logits, base_logits, atol=1e-3)  # the adapter is really in the weights
    if precision == "fp32":
        assert torch.allclose(merged_logits, unmerged_logits, atol=1e-4)
        assert [g.output for g in merged_out] == [g.output for g in unmerged_out]
    else:  # bf16 weights: W + dW rounds once, the fp32 side path does not; close, not equal
        scale = unmerged_logits.abs().max()
        assert (merged_logits - unmerged_logits).abs().max() < 0.05 * scale
        assert sum(a.output == b.output for a, b in zip(merged_out, unmerged_out)) >= len(prompts) - 1


def test_generate_writes_the_base_first_and_merges_the_adapter_once(monkeypatch, tmp_path, tiny_causal_dir):
    from peft.tuners.tuners_utils import BaseTuner  # a PeftModel passes these on to its LoRA tuner

    calls = []
    for name in ("merge_and_unload", "unload", "merge_adapter", "unmerge_adapter"):
        original = getattr(BaseTuner, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):  # observation only
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(BaseTuner, name, spy)
    root = tmp_path / "gen"
    root.mkdir()
    run = make_run(root, tiny_causal_dir, write_eval_file(root, n=3), id_column="paper_id")
    cfg = GenerateConfig(
        run_dir=str(run),
        batch_size=3,
        no_repeat_ngram_size=NO_REPEAT,
        decodings=["greedy", "beam:num_beams=2"],
    )
    paths = generate(cfg)
    assert [parse_output_name(p)[:2] for p in paths] == [
        ("base", "greedy-nr1"),
        ("finetuned", "greedy-nr1"),
        ("base", "beam-n2-nr1"),
        ("finetuned", "beam-n2-nr1"),
    ]  # returned in the config's order
    assert calls == ["unload", "merge_and_unload"]  # checked to fit, then merged once, after both base files
    times = {parse_output_name(p)[:2]: p.stat().st_mtime_ns for p in paths}
    assert max(t for (s, _), t in times.items() if s == "base") <= min(
        t for (s, _), t in times.items() if s == "finetuned"
    )


def test_an_adapter_that_does_not_fit_fails_before_any_output(tmp_path, tiny_causal_dir, tiny_seq2seq_dir):
    root = tmp_path / "gen"
    root.mkdir()
    run = make_run(root, tiny_causal_dir, write_eval_file(root, n=3), id_column="paper_id")
    cfg = GenerateConfig(run_dir=str(run), base_model=str(tiny_seq2seq_dir), task="seq2seq", batch_size=3)
    with pytest.raises(ModelError, match="does not fit"):
        generate(cfg)
    assert not any((run / "outputs").glob("*.jsonl"))


def test_generated_ids_reach_the_host_once_per_batch_fault_injection(monkeypatch, tiny_causal_dir):
    """Fault injection: every read of a tensor's values into Python made by ft_core.generate is counted (on
    a GPU each is a copy to the host and a wait)."""
    import sys

    import torch

    reads = []
    for name in ("item", "tolist", "__float__", "__int__", "__index__", "__bool__", "numpy", "cpu"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if sys._getframe(1).f_globals.get("__name__") == "ft_core.generate":
                reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    model, tokenizer = load_for_generation(str(tiny_causal_dir), "causal", None, "fp32", "cpu", "sdpa")
    prompts = [f"word {i} " * (1 + i) for i in range(7)]
    results = generate_texts(model, tokenizer, prompts, Decoding(max_new_tokens=3), batch_size=3)
    assert len(results) == 7
    assert reads == ["tolist"] * 3  # 3 batches (3 + 3 + 1 rows); it used to be one copy per row


def _aten_ops(model, tokenizer, prompts):
    """Observation (torch's profiler): the aten operators, with their input shapes, that one batched
    generation runs; and its outputs."""
    import collections

    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
        outputs = generate_texts(
            model, tokenizer, prompts, Decoding(max_new_tokens=3), batch_size=len(prompts)
        )
    ops = collections.Counter(
        (e.name, str(e.input_shapes)) for e in prof.events() if e.name.startswith("aten::")
    )
    return ops, [o.output for o in outputs]


def test_the_merged_finetuned_model_runs_the_same_operations_as_the_base(tmp_path, tiny_causal_dir):
    # peft leaves the merged model's weights frozen, the plain base's require grad. Without a contiguous
    # lm_head input, torch's matmul took another path for frozen weights at the first step: a batched product
    # over a copy of the whole vocab x hidden weight per prompt (bench/generate_throughput.py: fine-tuned
    # 15-40% slower).
    from ft_core.generate import merge_adapter

    adapter = make_adapter(tiny_causal_dir, tmp_path / "adapter")
    prompts = [("word " * (2 + 3 * i)) + f"end {i}" for i in range(5)]
    base, tokenizer = load_for_generation(str(tiny_causal_dir), "causal", None, "fp32", "cpu", "sdpa")
    finetuned, _ = load_for_generation(str(tiny_causal_dir), "causal", None, "fp32", "cpu", "sdpa")
    finetuned = merge_adapter(finetuned, adapter)
    assert {p.requires_grad for p in base.parameters()} == {True}
    assert {p.requires_grad for p in finetuned.parameters()} == {False}
    base_ops, base_out = _aten_ops(base, tokenizer, prompts)
    finetuned_ops, finetuned_out = _aten_ops(finetuned, tokenizer, prompts)
    assert finetuned_ops == base_ops
    vocab, hidden = base.get_output_embeddings().weight.shape
    # no batched product over per-prompt copies of the output embedding's weight
    assert not any(name == "aten::bmm" and str([hidden, vocab]) in shapes for name, shapes in finetuned_ops)
    # the hook changes no result: the frozen model gives what the same weights give with grads required
    for p in finetuned.parameters():
        p.requires_grad_(True)
    assert _aten_ops(finetuned, tokenizer, prompts)[1] == finetuned_out


def test_extra_systems_are_generated_like_finetuned_from_one_model_load(tmp_path, tiny_causal_dir, capsys):
    """An extra system with the run's own adapter writes exactly the fine-tuned outputs, even after another
    adapter was merged in between (the base weights are put back); each extra system gets per-item scores."""
    import pandas as pd

    from ft_core.config import ScoreConfig
    from ft_core.scoring import score

    root = tmp_path / "gen"
    root.mkdir()
    run = make_run(root, tiny_causal_dir, write_eval_file(root, n=5), id_column="paper_id")
    other = make_adapter(tiny_causal_dir, tmp_path / "other_adapter", scale=0.9)
    cfg = GenerateConfig(
        run_dir=str(run),
        batch_size=2,
        no_repeat_ngram_size=NO_REPEAT,
        extra_systems={"other": str(other), "same": str(run)},  # a run folder or an adapter folder
    )
    capsys.readouterr()
    paths = generate(cfg)
    out = capsys.readouterr().out
    assert out.count("loading the model") == 1
    assert [parse_output_name(p).system for p in paths] == ["base", "finetuned", "other", "same"]
    outputs = {parse_output_name(p).system: [r["output"] for r in _read(p)] for p in paths}
    assert outputs["same"] == outputs["finetuned"]
    assert outputs["other"] != outputs["finetuned"] and outputs["finetuned"] != outputs["base"]
    assert {r["system"] for r in _read(paths[2])} == {"other"}
    score(ScoreConfig(run_dir=str(run), metrics=["bleu"], n_boot=100))
    per_example = pd.read_parquet(run / "scores" / "per_example.parquet")
    assert per_example.groupby("system").item_id.nunique().to_dict() == {
        "base": 5,
        "finetuned": 5,
        "other": 5,
        "same": 5,
    }


def test_extra_systems_from_the_command_line_and_their_bad_inputs(tmp_path, tiny_causal_dir):
    from ft_core.config import config_to_args, parse_cli

    root = tmp_path / "gen"
    root.mkdir()
    run = make_run(root, tiny_causal_dir, write_eval_file(root, n=3), id_column="paper_id")
    argv = ["--run-dir", str(run), "--system", f"sft={run}", "--system", "dpo=runs/a,b"]
    cfg = parse_cli(GenerateConfig, argv, "generate")
    assert cfg.extra_system_folders() == {"sft": str(run), "dpo": "runs/a,b"}
    assert parse_cli(GenerateConfig, config_to_args(cfg), "generate") == cfg
    config_file = tmp_path / "generate.yaml"
    config_file.write_text(f"run_dir: {run}\nextra_systems:\n  sft: {run}\n  dpo: runs/dpo\n")
    from_file = parse_cli(GenerateConfig, ["--config", str(config_file)], "generate")
    assert from_file.extra_system_folders() == {"sft": str(run), "dpo": "runs/dpo"}
    for systems, message in [
        (["dpo"], "is not NAME=FOLDER"),
        (["d__po=x"], "must be letters"),
        (["finetuned=x"], "is a built-in system"),
        (["a=x", "a=y"], "given twice"),
    ]:
        with pytest.raises(ConfigError, match=message):
            GenerateConfig(run_dir=str(run), extra_systems=systems)
    # a folder without an adapter, or a run on another base model: one line, before any model loads
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RunFolderError, match="system dpo: .* neither a run folder with an adapter"):
        generate(GenerateConfig(run_dir=str(run), extra_systems=[f"dpo={empty}"], base_model="no/such-model"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    foreign = make_run(elsewhere, tiny_causal_dir, write_eval_file(elsewhere, n=3))
    cfg_json = json.loads((foreign / "config.json").read_text())
    cfg_json["base_model"] = "another/model"
    (foreign / "config.json").write_text(json.dumps(cfg_json))
    with pytest.raises(RunFolderError, match="trained on another/model"):
        resolve_job(GenerateConfig(run_dir=str(run), extra_systems=[f"dpo={foreign}"]))
    assert not (run / "outputs").exists()


def test_out_of_memory_in_generate_is_one_line_with_the_batch_settings_fault_injection(
    monkeypatch, tmp_path, tiny_causal_dir, capsys
):
    # Fault injection: the model's forward raises torch's out-of-memory error, as a GPU would.
    import torch
    from transformers.models.llama import modeling_llama

    from ft_core.__main__ import main

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    run = make_run(tmp_path, tiny_causal_dir, write_eval_file(tmp_path, n=3), with_adapter=False)
    monkeypatch.setattr(modeling_llama.LlamaModel, "forward", out_of_memory)
    args = [
        "generate",
        "--run-dir",
        str(run),
        "--systems",
        "base",
        "--batch-size",
        "3",
        "--max-new-tokens",
        "4",
    ]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: out of GPU memory at batch_size=3, max_new_tokens=4: lower batch_size")
    assert not any(line.startswith("Traceback") for line in err)
