"""The training loop's GPU habits, pinned on the CPU: how often it reads the device, the DataLoader it builds,
the batch order (largest first), how batches are shared among processes, torch.compile kept to training steps,
and a resume that continues exactly where an uninterrupted run would have gone (random state, loss scale).

Several tests inject a fault or observe torch from outside (a counting `torch.Tensor.item`, a pass-through
`torch.compile`, a CPU GradScaler standing in for fp16's): each says so in its name or docstring."""

from __future__ import annotations

import collections
import functools
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers.tiny_runs import tiny_settings

from ft_core import runfolder
from ft_core.batching import collate, length_grouped_batches, share_batches, train_loader
from ft_core.checkpoints import resume_state, save_checkpoint
from ft_core.config import TrainConfig
from ft_core.errors import ConfigError, FtCoreError
from ft_core.train import INJECT_OOM, prepare_run, train


def _cfg(tiny_causal_dir, tiny_jsonl, run_dir, **kw):
    values = dict(
        validation_file=None,
        max_steps=6,
        batch_size=4,
        log_every_steps=3,
        lr_scheduler="linear",
        warmup_ratio=0.0,
    )
    return TrainConfig(**tiny_settings(tiny_causal_dir, tiny_jsonl, run_dir, **{**values, **kw}))


def _train_rows(run_dir):
    rows = [json.loads(line) for line in (Path(run_dir) / "train_log.jsonl").read_text().splitlines()]
    return [r for r in rows if "loss" in r]


# --- waits on the device
# --------------------------------------------------------------------------------------

READS = ("item", "tolist", "__float__", "__int__", "__bool__", "__index__", "numpy", "cpu")


@pytest.fixture
def host_reads(monkeypatch):
    """Fault injection: every way a tensor's value reaches Python (on a GPU, each one makes the CPU wait
    for the GPU to catch up) is counted when ft_core.train itself calls it, keyed by the calling function."""
    counts: collections.Counter = collections.Counter()
    for name in READS:
        original = getattr(torch.Tensor, name)

        @functools.wraps(original)
        def counted(self, *args, _original=original, _name=name, **kwargs):
            caller = sys._getframe(1)
            if caller.f_globals.get("__name__") == "ft_core.train":
                counts[f"{caller.f_code.co_name}:{_name}"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return counts


def test_the_loop_reads_the_device_once_per_logged_row_fault_injection(
    host_reads, tmp_path, tiny_causal_dir, tiny_jsonl
):
    # 6 steps, a row every 3, clipping on, no validation: two reads in all, one per row. The loop used to read
    # the loss, two token counts and the gradient norm at every micro-batch (24 reads here).
    run_dir = train(
        _cfg(tiny_causal_dir, tiny_jsonl, tmp_path / "run", max_grad_norm=1.0, gradient_accumulation_steps=1),
        progress=False,
    )
    rows = _train_rows(run_dir)
    assert [r["step"] for r in rows] == [3, 6]
    assert dict(host_reads) == {"row:tolist": 2}
    assert all(r["grad_norm"] > 0 and r["loss"] > 0 for r in rows)
    assert all(r["tokens"] > r["target_tokens"] > 0 for r in rows)


def test_token_counts_are_those_of_the_batches(tmp_path, tiny_causal_dir, tiny_jsonl):
    # One epoch, one row at its end: the counts from the examples' lengths are the padded batches' real
    # tokens.
    run_dir = train(
        _cfg(tiny_causal_dir, tiny_jsonl, tmp_path / "run", max_steps=0, epochs=1.0, log_every_steps=100),
        progress=False,
    )
    from ft_core.models import load_tokenizer
    from ft_core.train import load_inputs

    inputs = load_inputs(
        _cfg(tiny_causal_dir, tiny_jsonl, tmp_path / "other", max_steps=0, epochs=1.0, log_every_steps=100)
    )
    batch = collate(inputs.data.train, load_tokenizer(str(tiny_causal_dir)).pad_token_id, "causal")
    (row,) = _train_rows(run_dir)
    assert row["tokens"] == sum(len(e["input_ids"]) for e in inputs.data.train)
    assert row["target_tokens"] == int((batch["labels"] != -100).sum())


# --- the DataLoader
# ---------------------------------------------------------------------------------------------


def _examples(n=10):
    return [{"input_ids": list(range(1, 3 + i)), "labels": [-100] * (1 + i) + [7]} for i in range(n)]


def test_the_data_loader_pins_memory_on_a_gpu_and_uses_the_configured_workers():
    batches = [[0, 3], [5, 1, 2], [9]]
    on_gpu = train_loader(_examples(), batches, 0, "causal", num_workers=2, device_type="cuda", seed=0)
    assert (on_gpu.pin_memory, on_gpu.num_workers) == (True, 2)
    on_cpu = train_loader(_examples(), batches, 0, "causal", num_workers=0, device_type="cpu", seed=0)
    assert on_cpu.pin_memory is False
    # it yields the padded batches of `collate`, in the order given
    for indices, got in zip(batches, on_cpu, strict=True):
        expected = collate([_examples()[i] for i in indices], 0, "causal")
        assert all(torch.equal(got[k], expected[k]) for k in expected)


# --- the attention mask
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_a_right_padded_causal_batch_gets_the_same_loss_without_its_attention_mask(
    tiny_causal_dir, attn_implementation
):
    # collate drops the mask of causal batches (a GPU sync per forward, no flash kernel); the loss must not
    # change. With the mask and the position ids of the real tokens (counted from 0 by the mask) as the
    # reference, the loss and the logits of every real token are the same without either.
    from transformers import AutoModelForCausalLM

    from ft_core.models import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_causal_dir))
    texts = ["A short one.", "A longer example, with a few more words in it.", "Mid length text here."]
    ids = [tokenizer(t)["input_ids"] for t in texts]
    examples = [{"input_ids": i, "labels": [-100] * 2 + i[2:]} for i in ids]
    lengths = [len(i) for i in ids]
    assert len(set(lengths)) == 3  # padding happens
    batch = collate(examples, tokenizer.pad_token_id, "causal")
    assert "attention_mask" not in batch
    mask = torch.tensor([[1] * n + [0] * (max(lengths) - n) for n in lengths])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    model = AutoModelForCausalLM.from_pretrained(tiny_causal_dir, attn_implementation=attn_implementation)
    model.eval()
    with torch.no_grad():
        plain = model(**batch)
        masked = model(**batch, attention_mask=mask, position_ids=positions)
    assert torch.allclose(plain.loss, masked.loss, atol=1e-6)
    real = mask.bool()
    assert torch.allclose(plain.logits[real], masked.logits[real], atol=1e-5)


def test_a_seq2seq_batch_keeps_its_attention_mask():
    # the encoder is bidirectional: without the mask its real tokens would attend to the pads
    batch = collate(_examples(3), 0, "seq2seq")
    assert batch["attention_mask"].tolist() == [[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]


def test_the_data_loader_draws_nothing_from_the_global_random_state():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    list(train_loader(_examples(), [[0, 1]], 0, "causal", num_workers=0, device_type="cpu", seed=3))
    assert torch.equal(torch.get_rng_state(), before)


def test_training_uses_the_configured_workers_and_gets_the_same_losses(
    monkeypatch, tmp_path, tiny_causal_dir, tiny_jsonl
):
    made = []
    original = torch.utils.data.DataLoader

    class Observed(original):  # observation only: records how the loop builds its loader
        def __init__(self, *args, **kwargs):
            made.append((kwargs.get("num_workers"), kwargs.get("pin_memory")))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(torch.utils.data, "DataLoader", Observed)
    losses = {}
    for workers in (0, 2):
        run_dir = train(
            _cfg(
                tiny_causal_dir, tiny_jsonl, tmp_path / f"w{workers}", num_workers=workers, log_every_steps=1
            ),
            progress=False,
        )
        losses[workers] = [r["loss"] for r in _train_rows(run_dir)]
    assert {w for w, _ in made} == {0, 2} and {p for _, p in made} == {False}
    assert losses[0] == losses[2] and len(losses[0]) == 6


# --- batch order and sharing
# --------------------------------------------------------------------------------------


def test_the_largest_batch_runs_first_and_the_rest_keep_their_random_order():
    lengths = [5, 100, 7, 98, 6, 99, 8, 97, 50, 51, 52, 3] * 6
    plain = length_grouped_batches(lengths, 4, seed=1, group_by_length=True, largest_first=0)
    ordered = length_grouped_batches(lengths, 4, seed=1, group_by_length=True)

    def padded(b):
        return max(lengths[i] for i in b) * len(b)

    assert padded(ordered[0]) == max(padded(b) for b in plain)
    assert padded(plain[0]) < padded(
        ordered[0]
    )  # with this seed the shuffle alone would not have put it first
    assert ordered[1:] == [b for b in plain if b != ordered[0]]  # the others: same batches, same order
    # several processes: each gets one of the largest batches first
    three = length_grouped_batches(lengths, 4, seed=1, group_by_length=True, largest_first=3)
    assert sorted(padded(b) for b in three[:3]) == sorted(padded(b) for b in plain)[-3:]
    # still random across epochs (seeds), and still every example once
    assert length_grouped_batches(lengths, 4, seed=2, group_by_length=True)[1:] != ordered[1:]
    assert sorted(i for b in ordered for i in b) == list(range(len(lengths)))
    # without length grouping too (the largest: the partial batch cannot be it here)
    ungrouped = length_grouped_batches(lengths, 4, seed=1, group_by_length=False)
    assert padded(ungrouped[0]) == max(padded(b) for b in ungrouped)


def test_every_process_gets_the_same_number_of_batches():
    batches = [[i, i + 100] for i in range(7)]
    shares = share_batches(batches, 3)
    assert [len(s) for s in shares] == [2, 2, 2]  # the 7th sits this epoch out
    assert shares[0] == [batches[0], batches[3]]
    assert share_batches(batches, 1) == [batches]


def test_fewer_batches_than_processes_deal_every_example_to_some_process():
    # sanity_overfit's 4 batches of 8 on 5 GPUs: 5 batches of 6-7, every example exactly once
    batches = [list(range(k * 8, k * 8 + 8)) for k in range(4)]
    shares = share_batches(batches, 5)
    assert [len(s) for s in shares] == [1] * 5
    sizes = sorted(len(s[0]) for s in shares)
    assert sizes == [6, 6, 6, 7, 7]
    assert sorted(i for s in shares for i in s[0]) == list(range(32))


def test_fewer_examples_than_processes_is_refused_with_the_numbers():
    with pytest.raises(ConfigError, match="3 training examples for 5 processes"):
        share_batches([[0, 1], [2]], 5)


# --- torch.compile
# ----------------------------------------------------------------------------------------------


def test_the_compiled_forward_serves_training_steps_only(monkeypatch, tmp_path, tiny_causal_dir, tiny_jsonl):
    """Observation: torch.compile is replaced by a pass-through that records the grad mode of each call (the
    real one needs a C compiler). Validation loss and generation must run the plain forward."""
    calls: collections.Counter = collections.Counter()

    def pass_through(fn, **kwargs):
        @functools.wraps(fn)
        def compiled(*args, **kw):
            mode = (
                "inference"
                if torch.is_inference_mode_enabled()
                else "train"
                if torch.is_grad_enabled()
                else "no_grad"
            )
            calls[mode] += 1
            return fn(*args, **kw)

        return compiled

    monkeypatch.setattr(torch, "compile", pass_through)
    run_dir = train(
        _cfg(
            tiny_causal_dir,
            tiny_jsonl,
            tmp_path / "run",
            torch_compile=True,
            max_steps=2,
            validation_file=str(tiny_jsonl / "dev.jsonl"),
            eval_every_steps=1,
            eval_generation_samples=2,
            max_target_length=4,
        ),
        progress=False,
    )
    evals = [r for r in (json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines())]
    assert sum("eval_loss" in r for r in evals) == 2 and sum("eval_rouge1" in r for r in evals) == 2
    assert dict(calls) == {"train": 2}  # two micro-batches, nothing else


# --- resume
# -------------------------------------------------------------------------------------------------------


def test_resume_after_a_failure_continues_exactly_as_an_uninterrupted_run_fault_injection(
    monkeypatch, tmp_path, tiny_causal_dir, tiny_jsonl
):
    # LoRA dropout draws from the random state at every step: only a restored random state (and a data loader
    # that draws nothing from it) gives the next steps the same masks, hence the same losses, as no
    # interruption.
    common = dict(max_steps=6, save_every_steps=3, lora_dropout=0.3, log_every_steps=1)
    whole = train(_cfg(tiny_causal_dir, tiny_jsonl, tmp_path / "whole", **common), progress=False)

    cut = tmp_path / "cut"
    monkeypatch.setenv(
        INJECT_OOM, "0:4"
    )  # the process fails as it starts step 4, after the step-3 checkpoint
    with pytest.raises(FtCoreError, match="out of GPU memory"):
        train(_cfg(tiny_causal_dir, tiny_jsonl, cut, **common), progress=False)
    status = runfolder.read_status(cut)
    assert status.state == "failed" and "gradient_checkpointing=true" in status.error
    assert [e["kind"] for e in runfolder.process_errors(cut)] == ["oom"]
    monkeypatch.delenv(INJECT_OOM)

    train(_cfg(tiny_causal_dir, tiny_jsonl, cut, resume=True, **common), progress=False)
    assert runfolder.read_status(cut).state == "finished"
    assert runfolder.process_errors(cut) == []  # the resumed run starts clean
    expected = [(r["step"], r["loss"], r["grad_norm"]) for r in _train_rows(whole)]
    got = [(r["step"], r["loss"], r["grad_norm"]) for r in _train_rows(cut)]
    assert got == expected


def test_the_fp16_loss_scale_survives_a_resume(tmp_path, tiny_causal_dir, tiny_jsonl):
    """Fault injection: fp16 (and its GradScaler) exists only on a GPU, so a CPU GradScaler stands in for
    it."""
    cfg = _cfg(tiny_causal_dir, tiny_jsonl, tmp_path / "run")
    run = prepare_run(cfg, progress=False)
    run.accelerator.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    save_checkpoint(run, runfolder.TrainState(step=3, epoch=0, batch_in_epoch=3))
    checkpoint = runfolder.checkpoint_dir(cfg.run_dir)
    assert (checkpoint / runfolder.SCALER).is_file() and (checkpoint / "rng_state_0.pt").is_file()

    resumed = prepare_run(replace(cfg, resume=True), progress=False)
    resumed.accelerator.scaler = torch.amp.GradScaler("cpu", init_scale=65536.0)
    state = resume_state(resumed)
    assert state.step == 3 and resumed.accelerator.scaler.get_scale() == 1024.0


def test_a_checkpoint_saved_on_a_gpu_resumes_on_this_process_device_fault_injection(
    monkeypatch, tmp_path, tiny_causal_dir, tiny_jsonl
):
    """Fault injection: every tensor the checkpoint saves is tagged as living on cuda:0, as a GPU process's
    optimizer state does. Loaded without `map_location`, torch would put each rank's state on cuda:0 (here:
    fail, no GPU); the resume must read everything onto this process's own device."""
    import torch.serialization

    cfg = _cfg(
        tiny_causal_dir, tiny_jsonl, tmp_path / "run", max_steps=4, save_every_steps=2, log_every_steps=1
    )
    run = prepare_run(cfg, progress=False)
    run.model.train()
    batches = train_loader(
        run.data.train, [[0, 1], [2, 3]], run.tokenizer.pad_token_id, "causal", 0, "cpu", 0
    )
    for batch in batches:  # two real steps: the optimizer has state (exp_avg, exp_avg_sq) to save
        run.model(**batch).loss.backward()
        run.optimizer.step()
        run.optimizer.zero_grad()
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    save_checkpoint(run, runfolder.TrainState(step=2, epoch=0, batch_in_epoch=2))
    monkeypatch.undo()
    checkpoint = runfolder.checkpoint_dir(cfg.run_dir)
    with pytest.raises(RuntimeError, match="CUDA"):  # the injected fault is real: a plain load needs a GPU
        torch.load(checkpoint / runfolder.OPTIMIZER, weights_only=True)

    resumed = prepare_run(replace(cfg, resume=True), progress=False)
    assert resume_state(resumed).step == 2
    moments = [t for s in resumed.optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
    assert moments and {t.device.type for t in moments} == {"cpu"}
    saved = run.optimizer.state_dict()["state"]
    got = resumed.optimizer.state_dict()["state"]
    assert all(torch.equal(saved[k]["exp_avg"], got[k]["exp_avg"]) for k in saved)


# --- a status that stays true
# --------------------------------------------------------------------------------------


def test_a_run_beats_its_heartbeat_while_it_trains_and_stops_after(tmp_path, tiny_causal_dir, tiny_jsonl):
    import threading

    run_dir = train(_cfg(tiny_causal_dir, tiny_jsonl, tmp_path / "run", max_steps=2), progress=False)
    beat = runfolder.last_heartbeat(run_dir)
    status = runfolder.read_status(run_dir)
    assert beat is not None and status.started_at <= beat <= status.finished_at
    assert not any(t.name == "ft_core-heartbeat" for t in threading.enumerate())


def test_a_failing_process_other_than_0_marks_the_run_failed_itself_fault_injection(tmp_path):
    # Fault injection: process 1 of a 2-process run dies of an out-of-memory error (a stand-in Run carries
    # what record_failure reads). Process 0 may be blocked in a collective until SIGKILL and never write:
    # status.json must say failed, with the hint, already.
    from types import SimpleNamespace

    from ft_core.train import record_failure

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    runfolder.write_status(run_dir, state="running", step=3)
    process_1 = SimpleNamespace(run_dir=run_dir, rank=1, main=False, cfg=TrainConfig(batch_size=2))
    record_failure(process_1, torch.OutOfMemoryError("CUDA out of memory"))
    status = runfolder.read_status(run_dir)
    assert status.state == "failed" and status.step == 3
    assert status.error.startswith("process 1: out of GPU memory at batch_size=2")
