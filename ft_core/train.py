"""LoRA fine-tuning, top to bottom in one file.

`python -m ft_core train --config FILE.yaml [--set key=value ...]` validates everything first (config, data
columns, model, target modules, run folder) so bad input fails before a run folder exists; then it trains with
`accelerate` (one process here, DDP under `accelerate launch` / `torchrun` with no code change), validates every
N steps, stops early, keeps the best adapter, checkpoints for resuming, and logs to the run folder:

    runs/<run>/config.json  train_log.jsonl  status.json  adapter/  checkpoint/

Loss is on target tokens only (prompt tokens are labelled -100). Batches are length-grouped and padded to their
longest example, not to max length: the same examples, far less padding.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import sys
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from ft_core.config import TrainConfig, load_config, save_config
from ft_core.data import (
    IGNORE_INDEX,
    encode_example,
    format_truncation_report,
    load_examples,
    truncation_report,
)
from ft_core.errors import ConfigError, FtCoreError, RunFolderError

SANITY_EXAMPLES = 32


# ---------------------------------------------------------------- run folder


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def write_status(run_dir: Path, **fields: Any) -> None:
    path = run_dir / "status.json"
    status = json.loads(path.read_text()) if path.is_file() else {}
    status.update(fields, updated_at=time.time(), pid=os.getpid())
    write_json_atomic(path, status)


def read_status(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "status.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def check_run_dir(cfg: TrainConfig) -> Path:
    run_dir = Path(cfg.run_dir)
    if cfg.resume:
        if not (run_dir / "checkpoint" / "trainer_state.json").is_file():
            raise RunFolderError(
                f"cannot resume: {run_dir} has no checkpoint/ (was it started with this config?)"
            )
    elif run_dir.exists() and any(run_dir.iterdir()):
        raise RunFolderError(
            f"run folder {run_dir} exists already; choose another run_dir or set resume=true"
        )
    return run_dir


# ---------------------------------------------------------------- data


def prepare_data(cfg: TrainConfig, tokenizer: Any) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """Encode train and validation examples; returns them and the truncation report of the training set."""
    limit = SANITY_EXAMPLES if cfg.sanity_overfit else cfg.max_train_examples
    train_examples = load_examples(cfg.train_file, cfg, limit=limit)
    train = [encode_example(tokenizer, cfg, e, cfg.task) for e in train_examples]
    if cfg.sanity_overfit:
        validation = train  # overfitting is the point: validate on what we train on
    elif cfg.validation_file:
        val_examples = load_examples(cfg.validation_file, cfg, limit=cfg.max_eval_examples)
        validation = [encode_example(tokenizer, cfg, e, cfg.task) for e in val_examples]
    else:
        validation = []
    return train, validation, truncation_report(train)


def length_grouped_batches(
    lengths: list[int], batch_size: int, seed: int, group_by_length: bool
) -> list[list[int]]:
    """Shuffle, then sort by length inside mega-batches of 50 batches, so each batch holds similar lengths;
    batch order is shuffled again so long and short batches alternate. Deterministic for a seed."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        mega = batch_size * 50
        order = [
            i
            for start in range(0, len(order), mega)
            for i in sorted(order[start : start + mega], key=lambda j: -lengths[j])
        ]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def collate(examples: list[dict], pad_id: int, task: str) -> dict[str, Any]:
    """Pad to the longest example of the batch (right padding); labels padded with -100."""
    import torch

    def pad(seqs: list[list[int]], value: int) -> torch.Tensor:
        width = max(len(s) for s in seqs)
        return torch.tensor([s + [value] * (width - len(s)) for s in seqs], dtype=torch.long)

    input_ids = [e["input_ids"] for e in examples]
    batch = {
        "input_ids": pad(input_ids, pad_id),
        "attention_mask": pad([[1] * len(s) for s in input_ids], 0),
        "labels": pad([e["labels"] for e in examples], IGNORE_INDEX),
    }
    return batch


# ---------------------------------------------------------------- model


def resolve_precision(cfg: TrainConfig) -> str:
    """accelerate's mixed_precision value: bf16 where the GPU has it, fp16 on older GPUs, fp32 on CPU."""
    import torch

    if cfg.precision == "auto":
        if torch.cuda.is_available():
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "no"
    if cfg.precision == "fp16" and not torch.cuda.is_available():
        raise ConfigError("precision=fp16 needs a GPU; use precision=auto or fp32 on CPU")
    return {"fp32": "no"}.get(cfg.precision, cfg.precision)


def build_model(cfg: TrainConfig, model_path: str) -> Any:
    """Base model with LoRA adapters on the target modules; fails early on a module name the model lacks."""
    from peft import LoraConfig, TaskType, get_peft_model

    from ft_core.models import check_target_modules, load_model

    model = load_model(model_path, cfg.task, attn_implementation=cfg.attn_implementation)
    check_target_modules(model, cfg.target_modules)
    targets: Any = "all-linear" if cfg.target_modules == ["all-linear"] else cfg.target_modules
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        task_type=TaskType.CAUSAL_LM if cfg.task == "causal" else TaskType.SEQ_2_SEQ_LM,
    )
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.config.use_cache = False
    model = get_peft_model(model, lora)
    if cfg.torch_compile:
        import torch

        # compile the transformer's forward only: the peft wrapper and generate() stay plain Python
        inner = model.get_base_model()
        inner.forward = torch.compile(inner.forward, dynamic=True)
    return model


# ---------------------------------------------------------------- the loop


def evaluate_loss(model: Any, batches: list[dict], accelerator: Any) -> float:
    """Mean cross-entropy per target token over the validation set (not a mean of batch means)."""
    import torch

    # The unwrapped model: processes may hold different numbers of validation batches, and a DDP-wrapped forward
    # could wait on the others; the totals are combined once, below.
    plain = accelerator.unwrap_model(model)
    plain.eval()
    encoder_decoder = plain.config.is_encoder_decoder
    total = torch.zeros(2, device=accelerator.device, dtype=torch.float64)
    with torch.no_grad(), accelerator.autocast():
        for batch in batches:
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            out = plain(**batch)
            # causal models shift labels by one inside the loss; seq2seq models do not
            labels = batch["labels"] if encoder_decoder else batch["labels"][:, 1:]
            n = (labels != IGNORE_INDEX).sum()
            total += torch.stack([out.loss.double() * n, n.double()])
    total = accelerator.reduce(total, reduction="sum")
    plain.train()
    return float(total[0] / total[1]) if total[1] > 0 else float("nan")


def generation_metrics(
    model: Any, tokenizer: Any, cfg: TrainConfig, examples: list, accelerator: Any
) -> dict[str, float]:
    """Greedy outputs on a small validation sample, scored with BLEU and ROUGE (main process only): loss can fall
    while outputs stay poor, as in the report that started this project."""
    from ft_core.decoding import Decoding
    from ft_core.generate import build_prompts, generate_texts
    from ft_core.metrics import corpus

    unwrapped = accelerator.unwrap_model(model)
    unwrapped.eval()
    use_cache = unwrapped.config.use_cache
    unwrapped.config.use_cache = True
    try:
        prompts = build_prompts(tokenizer, cfg, examples, cfg.task)
        outputs = generate_texts(
            unwrapped,
            tokenizer,
            prompts,
            Decoding(max_new_tokens=cfg.max_target_length),
            task=cfg.task,
            batch_size=cfg.batch_size,
        )
    finally:
        unwrapped.config.use_cache = use_cache
        unwrapped.train()
    table = corpus([o.output for o in outputs], [e.references for e in examples], metrics=("bleu", "rouge"))
    keep = ("bleu", "rouge1", "rouge2", "rougeL", "rougeLsum", "output_words")
    return {f"eval_{m}": float(table.loc[m, "value"]) for m in keep if m in table.index}


def save_checkpoint(
    run_dir: Path, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any], accelerator: Any
) -> None:
    """Everything a resume needs, written to a staging folder and swapped in, so a crash never leaves half."""
    import torch

    if not accelerator.is_main_process:
        return
    staging = run_dir / "checkpoint.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    accelerator.unwrap_model(model).save_pretrained(staging / "adapter")
    torch.save(optimizer.state_dict(), staging / "optimizer.pt")
    torch.save(scheduler.state_dict(), staging / "scheduler.pt")
    write_json_atomic(staging / "trainer_state.json", state)
    final = run_dir / "checkpoint"
    old = run_dir / "checkpoint.old"
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def save_best_adapter(run_dir: Path, model: Any, accelerator: Any) -> None:
    if not accelerator.is_main_process:
        return
    staging = run_dir / "adapter.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    accelerator.unwrap_model(model).save_pretrained(staging)
    shutil.rmtree(run_dir / "adapter", ignore_errors=True)
    staging.rename(run_dir / "adapter")


def effective_config(cfg: TrainConfig) -> TrainConfig:
    """Sanity-overfit mode: a few examples, many epochs, no dropout, a high learning rate unless set."""
    if not cfg.sanity_overfit:
        return cfg
    return replace(
        cfg,
        lora_dropout=0.0,
        epochs=max(cfg.epochs, 30.0) if cfg.max_steps == 0 else cfg.epochs,
        early_stopping_patience=0,
        warmup_ratio=0.0,
        lr_scheduler="constant",
    )


def train(cfg: TrainConfig, progress: bool = True) -> Path:
    """Fine-tune `cfg.base_model` with LoRA into `cfg.run_dir`; returns the run folder."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import get_scheduler

    from ft_core.models import load_tokenizer, resolve_model_path

    cfg.validate()
    cfg = effective_config(cfg)
    run_dir = check_run_dir(cfg)
    model_path = resolve_model_path(cfg.base_model)
    tokenizer = load_tokenizer(model_path, cfg.task)
    train_set, validation_set, trunc = prepare_data(cfg, tokenizer)
    mixed_precision = resolve_precision(cfg)
    # cpu=True on a machine without a GPU lets `torchrun`/`accelerate launch` run DDP over gloo there too
    accelerator = Accelerator(
        mixed_precision=mixed_precision,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        cpu=not torch.cuda.is_available(),
    )
    set_seed(cfg.seed)
    model = build_model(cfg, model_path)  # raises on a bad target module before the run folder exists
    log = print if accelerator.is_main_process and progress else (lambda *a, **k: None)
    log(format_truncation_report(trunc, cfg), flush=True)

    # From here on a run folder exists; its status says whether it is finished.
    if accelerator.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.json")
        write_json_atomic(run_dir / "truncation.json", trunc)
    accelerator.wait_for_everyone()

    # Each process takes the same whole number of batches per epoch (see the loop), then accumulates them.
    n_batches = math.ceil(len(train_set) / cfg.batch_size)
    processes = accelerator.num_processes
    per_process = n_batches // processes if n_batches >= processes else 1
    steps_per_epoch = max(1, per_process // cfg.gradient_accumulation_steps)
    total_steps = (
        cfg.max_steps
        if cfg.max_steps > 0
        else max(1, math.ceil(per_process * cfg.epochs / cfg.gradient_accumulation_steps))
    )
    use_fused = cfg.fused_optimizer and torch.cuda.is_available()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        trainable, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, fused=use_fused or None
    )
    scheduler = get_scheduler(
        cfg.lr_scheduler,
        optimizer,
        num_warmup_steps=int(cfg.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    # The scheduler stays outside prepare(): accelerate would step it once per process, while total_steps already
    # counts optimizer steps across processes.
    model, optimizer = accelerator.prepare(model, optimizer)

    state: dict[str, Any] = {
        "step": 0,
        "epoch": 0,
        "batch_in_epoch": 0,
        "best_eval_loss": None,
        "best_step": None,
        "bad_evals": 0,
        "epoch_float": 0.0,
    }
    if cfg.resume:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        checkpoint = run_dir / "checkpoint"
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        set_peft_model_state_dict(
            accelerator.unwrap_model(model), load_file(checkpoint / "adapter" / "adapter_model.safetensors")
        )
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=False))
        scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", weights_only=False))
        log(
            f"resuming from step {state['step']} (epoch {state['epoch']}, batch {state['batch_in_epoch']})",
            flush=True,
        )

    pad_id = tokenizer.pad_token_id
    generation_sample = []
    if cfg.eval_generation_samples and (cfg.validation_file or cfg.sanity_overfit):
        source = cfg.train_file if cfg.sanity_overfit else cfg.validation_file
        generation_sample = load_examples(source, cfg, limit=cfg.eval_generation_samples)
    val_batches = [
        collate([validation_set[i] for i in b], pad_id, cfg.task)
        for b in length_grouped_batches(
            [len(e["input_ids"]) for e in validation_set], cfg.batch_size, 0, True
        )
    ][accelerator.process_index :: accelerator.num_processes]

    if accelerator.is_main_process:
        write_status(
            run_dir,
            state="running",
            step=state["step"],
            total_steps=total_steps,
            epoch=state["epoch"],
            best_eval_loss=state["best_eval_loss"],
            started_at=time.time(),
            error=None,
            device=str(accelerator.device),
            num_processes=accelerator.num_processes,
            mixed_precision=mixed_precision,
        )
    log_file = open(run_dir / "train_log.jsonl", "a") if accelerator.is_main_process else None  # noqa: SIM115
    bar = tqdm(
        total=total_steps,
        initial=state["step"],
        desc="train",
        disable=not (accelerator.is_main_process and progress),
        dynamic_ncols=True,
    )
    eval_every = cfg.eval_every_steps if cfg.eval_every_steps > 0 else steps_per_epoch
    save_every = cfg.save_every_steps if cfg.save_every_steps > 0 else eval_every
    window = {"loss": 0.0, "micro": 0, "tokens": 0, "target_tokens": 0, "t0": time.perf_counter()}
    grad_norm = float("nan")
    stop = False
    model.train()

    def log_row(row: dict[str, Any]) -> None:
        if log_file is not None:
            log_file.write(json.dumps({**row, "time": time.time()}) + "\n")
            log_file.flush()

    def validate_and_save() -> bool:
        """Eval loss, best adapter, early stopping; returns True when training should stop."""
        if not val_batches and not validation_set:
            save_best_adapter(run_dir, model, accelerator)
            return False
        eval_loss = evaluate_loss(model, val_batches, accelerator)
        best = state["best_eval_loss"]
        improved = best is None or eval_loss < best - cfg.early_stopping_min_delta
        if improved:
            state.update(best_eval_loss=eval_loss, best_step=state["step"], bad_evals=0)
            save_best_adapter(run_dir, model, accelerator)
        else:
            state["bad_evals"] += 1
        row = {
            "step": state["step"],
            "epoch": round(state["epoch_float"], 4),
            "eval_loss": eval_loss,
            "best_eval_loss": state["best_eval_loss"],
        }
        if generation_sample and accelerator.is_main_process:
            row.update(generation_metrics(model, tokenizer, cfg, generation_sample, accelerator))
        accelerator.wait_for_everyone()
        log_row(row)
        log(
            f"step {state['step']}: eval_loss {eval_loss:.4f} (best {state['best_eval_loss']:.4f} at step {state['best_step']})",
            flush=True,
        )
        return bool(cfg.early_stopping_patience and state["bad_evals"] >= cfg.early_stopping_patience)

    # `kill` (SIGTERM, what the app's Cancel sends first) ends the run like Ctrl-C: status "cancelled", not "failed"
    previous_sigterm = (
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    try:
        while not stop and state["step"] < total_steps:
            epoch = state["epoch"]
            batches = length_grouped_batches(
                [len(e["input_ids"]) for e in train_set],
                cfg.batch_size,
                cfg.seed + epoch,
                cfg.group_by_length,
            )
            # every process takes the same number of batches, or DDP's gradient all-reduce would wait forever
            usable = (
                len(batches) - len(batches) % accelerator.num_processes
                if len(batches) >= accelerator.num_processes
                else len(batches)
            )
            batches = batches[:usable][accelerator.process_index :: accelerator.num_processes]
            for b_index in range(state["batch_in_epoch"], len(batches)):
                batch = collate([train_set[i] for i in batches[b_index]], pad_id, cfg.task)
                batch = {k: v.to(accelerator.device) for k, v in batch.items()}
                with accelerator.accumulate(model):
                    out = model(**batch)
                    accelerator.backward(out.loss)
                    if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                        grad_norm = float(accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm))
                    optimizer.step()
                    scheduler.step() if accelerator.sync_gradients else None
                    optimizer.zero_grad(set_to_none=True)
                window["loss"] += float(out.loss.detach())
                window["micro"] += 1
                window["tokens"] += int(batch["attention_mask"].sum())
                window["target_tokens"] += int((batch["labels"] != IGNORE_INDEX).sum())
                state["batch_in_epoch"] = b_index + 1
                if not accelerator.sync_gradients:
                    continue
                state["step"] += 1
                state["epoch_float"] = epoch + (b_index + 1) / len(batches)
                bar.update(1)
                if state["step"] % cfg.log_every_steps == 0 or state["step"] == total_steps:
                    elapsed = max(time.perf_counter() - window["t0"], 1e-9)
                    scale = accelerator.num_processes
                    row = {
                        "step": state["step"],
                        "epoch": round(state["epoch_float"], 4),
                        "loss": window["loss"] / window["micro"],
                        "lr": scheduler.get_last_lr()[0],
                        "grad_norm": grad_norm,
                        "tokens_per_s": window["tokens"] * scale / elapsed,
                        "target_tokens_per_s": window["target_tokens"] * scale / elapsed,
                    }
                    if torch.cuda.is_available():
                        row["gpu_mem_gb"] = torch.cuda.max_memory_allocated() / 2**30
                    log_row(row)
                    bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{row['lr']:.2e}")
                    window.update(loss=0.0, micro=0, tokens=0, target_tokens=0, t0=time.perf_counter())
                    if accelerator.is_main_process:
                        write_status(
                            run_dir, step=state["step"], epoch=state["epoch_float"], loss=row["loss"]
                        )
                if state["step"] % eval_every == 0 or state["step"] == total_steps:
                    stop = validate_and_save()
                    if accelerator.is_main_process:
                        write_status(
                            run_dir, best_eval_loss=state["best_eval_loss"], best_step=state["best_step"]
                        )
                if state["step"] % save_every == 0 and state["step"] < total_steps:
                    save_checkpoint(run_dir, model, optimizer, scheduler, state, accelerator)
                if stop or state["step"] >= total_steps:
                    break
            else:
                state.update(epoch=epoch + 1, batch_in_epoch=0)
        bar.close()
        if stop:
            log(
                f"early stopping: no improvement in {cfg.early_stopping_patience} validations; best step {state['best_step']}",
                flush=True,
            )
        final_loss = _last_train_loss(run_dir)
        result = {
            "state": "finished",
            "step": state["step"],
            "stopped_early": stop,
            "best_eval_loss": state["best_eval_loss"],
            "best_step": state["best_step"],
            "final_train_loss": final_loss,
            "finished_at": time.time(),
        }
        if cfg.sanity_overfit:
            result["sanity_overfit_passed"] = final_loss is not None and final_loss < 0.1
            log(
                f"sanity overfit: final train loss {final_loss:.4f} -> {'passed' if result['sanity_overfit_passed'] else 'FAILED (loss not near zero: check the label masking and the learning rate)'}",
                flush=True,
            )
        if accelerator.is_main_process:
            save_checkpoint(run_dir, model, optimizer, scheduler, state, accelerator)
            write_status(run_dir, **result)
    except BaseException as e:
        if accelerator.is_main_process:
            reason = "cancelled" if isinstance(e, KeyboardInterrupt) else "failed"
            message = _explain_failure(e, cfg)
            write_status(
                run_dir,
                state=reason,
                error=message,
                traceback=traceback.format_exc()[-4000:],
                finished_at=time.time(),
            )
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        if "out of memory" in str(e).lower():
            raise FtCoreError(_explain_failure(e, cfg)) from None
        raise
    finally:
        if log_file is not None:
            log_file.close()
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
    return run_dir


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _last_train_loss(run_dir: Path) -> float | None:
    path = run_dir / "train_log.jsonl"
    if not path.is_file():
        return None
    losses = [json.loads(line).get("loss") for line in path.read_text().splitlines() if line.strip()]
    losses = [x for x in losses if x is not None]
    return losses[-1] if losses else None


def _explain_failure(e: BaseException, cfg: TrainConfig) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "out of memory" in text.lower():
        return (
            f"out of GPU memory at batch_size={cfg.batch_size}, max_source_length={cfg.max_source_length}: lower batch_size "
            f"(raise gradient_accumulation_steps to keep the effective batch), set gradient_checkpointing=true, or "
            f"lower max_source_length"
        )
    return f"{type(e).__name__}: {text}"


def check(cfg: TrainConfig) -> dict[str, Any]:
    """Everything `train` checks before it starts, without training: config, run folder, data, tokenizer.
    Returns the truncation report and data sizes (the training page's preview uses this)."""
    from ft_core.models import load_tokenizer, resolve_model_path

    cfg.validate()
    cfg = effective_config(cfg)
    check_run_dir(cfg)
    model_path = resolve_model_path(cfg.base_model)
    tokenizer = load_tokenizer(model_path, cfg.task)
    train_set, validation_set, trunc = prepare_data(cfg, tokenizer)
    return {
        **trunc,
        "train_examples": len(train_set),
        "validation_examples": len(validation_set),
        "model_path": model_path,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ft_core train", description="LoRA fine-tuning into a run folder"
    )
    parser.add_argument("--config", help="YAML file of TrainConfig fields")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a field"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate config, data and model, print the truncation report, do not train",
    )
    args = parser.parse_args(argv)
    cfg = load_config(TrainConfig, args.config, args.overrides)
    if args.check:
        report = check(cfg)
        print(format_truncation_report(report, cfg))
        print(json.dumps(report))
        return 0
    run_dir = train(cfg)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under DDP only the first process reports
    status = read_status(run_dir)
    print(
        f"finished: {run_dir} (best eval loss {status.get('best_eval_loss')}, final train loss {status.get('final_train_loss')})"
    )
    if cfg.sanity_overfit and not status.get("sanity_overfit_passed"):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
