"""LoRA fine-tuning, told in stages: `prepare_run`, `resume_state`, `run_loop` (with `validate`), `finish`.

`python -m ft_core train --config FILE.yaml [--set key=value ...]` validates everything first (config, data
columns, model, target modules, run folder) so bad input fails before a run folder exists; then it trains with
`accelerate` (one process here, DDP under `accelerate launch` / `torchrun` with no code change), validates
every N steps, stops early, keeps the best adapter, checkpoints for resuming (`ft_core.checkpoints`), and logs
to the run folder (`ft_core.runfolder`, docs/run-folder.md):

    runs/<run>/config.json  truncation.json  train_log.jsonl  status.json  adapter/  checkpoint/

What the run holds fixed once prepared (config, data, model, optimizer, schedule) is a `Run`; where it stands
is one `TrainState`, the object saved as `checkpoint/trainer_state.json` and read back on resume.

Loss is on target tokens only (prompt tokens are labelled -100). Batches (`ft_core.batching`) are
length-grouped and padded to their longest example, not to max length: the same examples, far less padding;
the largest batch runs first, so an out-of-memory error shows in the first minute, not hours in. A DataLoader
collates them (in `num_workers` worker processes) into pinned memory on a GPU, and the loop never waits on the
GPU between logged rows: losses and the gradient norm are summed on the device and read once per
`log_every_steps`, tokens are counted on the host.

The frozen base model is loaded in the run's precision (bf16 weights for a bf16 run, whatever the checkpoint
holds); the LoRA weights stay fp32 (see `build_model`).

A multi-process run that does not finish says why in status.json (`runfolder.ending`): a process that dies of
an error writes `errors/rank<k>.json` first, so the SIGTERM that `torchrun` then sends the others is not
mistaken for a cancel; the app's Cancel writes `cancel_requested.json` before it signals. That process also
marks status.json failed at once (`runfolder.mark_ended`), since under NCCL process 0 may sit in a collective
until torchrun's SIGKILL and never record anything; and process 0 beats `heartbeat.json` from a thread, so a
reader (`runfolder.observed_status`) sees a "running" run that went silent as failed, even one started with
`torchrun` from a terminal, where no app is left to record its end.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_core import runfolder, sanity
from ft_core.batching import collate, length_grouped_batches, share_batches, train_loader
from ft_core.checkpoints import resume_state, save_best_adapter, save_checkpoint
from ft_core.config import TrainConfig, cli_parser, config_from_cli
from ft_core.data import (
    IGNORE_INDEX,
    Example,
    encode_example,
    format_truncation_report,
    load_examples,
    truncation_report,
)
from ft_core.errors import ConfigError, FtCoreError, RunFolderError, is_out_of_memory
from ft_core.runfolder import TrainState, read_status

__all__ = [
    "EncodedData", "Run", "Terminated", "TrainState", "check", "effective_config", "finish", "prepare_data",
    "prepare_run", "read_status", "run_loop", "train", "uncompiled", "validate",
]  # fmt: skip

# fault injection for tests: "<rank>:<step>" raises torch.OutOfMemoryError on that process at that step
INJECT_OOM = "FT_CORE_INJECT_OOM"


# ---------------------------------------------------------------- the story


def train(cfg: TrainConfig, progress: bool = True) -> Path:
    """Fine-tune `cfg.base_model` with LoRA into `cfg.run_dir`; returns the run folder."""
    run = prepare_run(cfg, progress)
    state = resume_state(run)
    mark_running(run, state)
    run.train_log = runfolder.TrainLog(run.run_dir, enabled=run.main)
    with _sigterm_as_interrupt(), _heartbeat(run):
        try:
            stopped_early = run_loop(run, state)
            finish(run, state, stopped_early)
        except BaseException as e:
            _record_ending(run, e)
            if _is_oom(e):
                raise FtCoreError(_explain_failure(e, run.cfg)) from None
            raise
        finally:
            run.train_log.close()
    return run.run_dir


# ---------------------------------------------------------------- data


@dataclass
class EncodedData:
    """Token ids of the training and validation examples, and the truncation report of the training set."""

    train: list[dict]
    validation: list[dict]
    truncation: dict[str, Any]


def prepare_data(cfg: TrainConfig, tokenizer: Any) -> EncodedData:
    """Encode train and validation examples (sanity-overfit mode validates on what it trains on)."""
    limit = sanity.EXAMPLES if cfg.sanity_overfit else cfg.max_train_examples
    train_examples = load_examples(cfg.train_file, cfg, limit=limit)
    train = [encode_example(tokenizer, cfg, e, cfg.task) for e in train_examples]
    if cfg.sanity_overfit:
        validation = train  # overfitting is the point: validate on what we train on
    elif cfg.validation_file:
        val_examples = load_examples(cfg.validation_file, cfg, limit=cfg.max_eval_examples)
        validation = [encode_example(tokenizer, cfg, e, cfg.task) for e in val_examples]
    else:
        validation = []
    return EncodedData(train, validation, truncation_report(train))


# ---------------------------------------------------------------- the stages


def effective_config(cfg: TrainConfig) -> TrainConfig:
    """Sanity-overfit mode: the recipe of `ft_core.sanity` (a few examples, many epochs, no dropout)."""
    return sanity.effective(cfg)


@dataclass
class Inputs:
    """What training reads before anything is trained: the effective config, the model's path, its
    tokenizer and the encoded data (`check` stops here)."""

    cfg: TrainConfig
    run_dir: Path
    model_path: str
    tokenizer: Any
    data: EncodedData


def load_inputs(cfg: TrainConfig) -> Inputs:
    """Check the run folder, resolve the model, load its tokenizer and encode the data; raises on bad
    input."""
    from ft_core.models import load_tokenizer, resolve_model_path

    cfg = effective_config(cfg)
    problem = runfolder.run_dir_problem(cfg.run_dir, cfg.resume)
    if problem:
        raise RunFolderError(problem)
    model_path = resolve_model_path(cfg.base_model)
    tokenizer = load_tokenizer(model_path, cfg.task)
    return Inputs(cfg, Path(cfg.run_dir), model_path, tokenizer, prepare_data(cfg, tokenizer))


@dataclass
class Run:
    """What a training run holds fixed once prepared: config, data, model, optimizer, schedule, where it
    logs."""

    cfg: TrainConfig
    run_dir: Path
    tokenizer: Any
    data: EncodedData
    accelerator: Any
    model: Any
    optimizer: Any
    scheduler: Any
    mixed_precision: str  # accelerate's value: 'bf16', 'fp16' or 'no'
    total_steps: int  # optimizer steps of the whole run
    steps_per_epoch: int
    eval_every: int
    save_every: int
    val_batches: list[dict]  # this process's share of the validation batches
    generation_sample: list[Example]  # validation examples generated on at each validation (may be empty)
    progress: bool  # print progress (on the main process only)
    train_log: runfolder.TrainLog | None = None
    tokens: list[int] = field(default_factory=list)  # per training example: its tokens
    target_tokens: list[int] = field(default_factory=list)  # per training example: its target (loss) tokens
    inject_oom_at: int | None = None  # FT_CORE_INJECT_OOM: the step at which this process fails (tests only)

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    @property
    def main(self) -> bool:
        """Whether this is the process that writes the run folder."""
        return self.accelerator.is_main_process

    def log(self, *args: Any, **kwargs: Any) -> None:
        if self.main and self.progress:
            print(*args, **kwargs)


def _steps(cfg: TrainConfig, n_examples: int, processes: int) -> tuple[int, int]:
    """(optimizer steps per epoch, optimizer steps of the run). Each process takes the same whole number of
    batches per epoch (see `share_batches`: one each when there are fewer batches than processes), then
    accumulates them."""
    n_batches = math.ceil(n_examples / cfg.batch_size)
    per_process = n_batches // processes if n_batches >= processes else 1
    steps_per_epoch = max(1, per_process // cfg.gradient_accumulation_steps)
    if cfg.max_steps > 0:
        return steps_per_epoch, cfg.max_steps
    return steps_per_epoch, max(1, math.ceil(per_process * cfg.epochs / cfg.gradient_accumulation_steps))


def build_optimizer(cfg: TrainConfig, model: Any, total_steps: int) -> tuple[Any, Any]:
    """(AdamW over the trainable LoRA parameters, fused on a GPU; its learning-rate schedule)."""
    import torch
    from transformers import get_scheduler

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
    return optimizer, scheduler


def validation_batches(inputs: Inputs, accelerator: Any) -> list[dict]:
    """This process's share of the validation set, in length-grouped padded batches."""
    validation, cfg = inputs.data.validation, inputs.cfg
    pad_id = inputs.tokenizer.pad_token_id
    return [
        collate([validation[i] for i in b], pad_id, cfg.task)
        for b in length_grouped_batches([len(e["input_ids"]) for e in validation], cfg.batch_size, 0, True)
    ][accelerator.process_index :: accelerator.num_processes]


def generation_sample(cfg: TrainConfig) -> list[Example]:
    """The examples generated on at each validation (`eval_generation_samples`; none by default)."""
    if not cfg.eval_generation_samples or not (cfg.validation_file or cfg.sanity_overfit):
        return []
    source = cfg.train_file if cfg.sanity_overfit else cfg.validation_file
    return load_examples(source, cfg, limit=cfg.eval_generation_samples)


def prepare_run(cfg: TrainConfig, progress: bool = True) -> Run:
    """Everything before the first step: inputs checked, model with adapters, run folder created (config.json,
    truncation.json), optimizer and schedule, validation batches. Bad input fails before the folder exists."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from ft_core.models import resolve_placement

    inputs = load_inputs(cfg)
    cfg = inputs.cfg
    placement = resolve_placement(cfg.precision)
    mixed_precision = placement.mixed_precision
    cpu = placement.device == "cpu"
    fresh_accelerator_state(mixed_precision, cpu)
    # cpu=True on a machine without a GPU lets `torchrun`/`accelerate launch` run DDP over gloo there too
    accelerator = Accelerator(
        mixed_precision=mixed_precision,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        cpu=cpu,
    )
    # fewer examples than processes: refuse now, on every process alike, before a run folder exists
    share_batches([[i] for i in range(len(inputs.data.train))], accelerator.num_processes)
    set_seed(cfg.seed)
    # raises on a bad target module before the run folder exists
    model = build_model(cfg, inputs.model_path, placement.dtype)
    if accelerator.is_main_process and progress:
        print(format_truncation_report(inputs.data.truncation, cfg), flush=True)

    # From here on a run folder exists; its status says whether it is finished.
    if accelerator.is_main_process:
        if cfg.resume:  # forget an earlier attempt's cancel request and process errors
            runfolder.clear_run_signals(inputs.run_dir)
        runfolder.create(inputs.run_dir, cfg, inputs.data.truncation)
    accelerator.wait_for_everyone()

    steps_per_epoch, total_steps = _steps(cfg, len(inputs.data.train), accelerator.num_processes)
    optimizer, scheduler = build_optimizer(cfg, model, total_steps)
    # The scheduler stays outside prepare(): accelerate would step it once per process, while total_steps
    # already counts optimizer steps across processes.
    model, optimizer = accelerator.prepare(model, optimizer)
    eval_every = cfg.eval_every_steps if cfg.eval_every_steps > 0 else steps_per_epoch
    return Run(
        cfg=cfg,
        run_dir=inputs.run_dir,
        tokenizer=inputs.tokenizer,
        data=inputs.data,
        accelerator=accelerator,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        mixed_precision=mixed_precision,
        total_steps=total_steps,
        steps_per_epoch=steps_per_epoch,
        eval_every=eval_every,
        save_every=cfg.save_every_steps if cfg.save_every_steps > 0 else eval_every,
        val_batches=validation_batches(inputs, accelerator),
        generation_sample=generation_sample(cfg),
        progress=progress,
        tokens=[len(e["input_ids"]) for e in inputs.data.train],
        target_tokens=[sum(1 for t in e["labels"] if t != IGNORE_INDEX) for e in inputs.data.train],
        inject_oom_at=_injected_oom_step(accelerator.process_index),
    )


def fresh_accelerator_state(mixed_precision: str, cpu: bool) -> None:
    """Let a second run in one process ask for another precision (or the CPU).

    accelerate keeps one process-wide state: once an `Accelerator` (a `transformers.Trainer`'s, or an
    earlier run's) set `mixed_precision="no"`, asking for "bf16" raises "AcceleratorState has already been
    initialized". Then this clears it, as accelerate's own test cases do between tests
    (`AcceleratorState._reset_state`): the mixed-precision state always, the process state (device, process
    group) only in a single process, where no process group can be lost. Nothing happens when the state
    already matches (every DDP run)."""
    from accelerate.state import AcceleratorState, GradientState, PartialState

    partial = PartialState._shared_state
    if not partial:
        return
    current = AcceleratorState._shared_state.get("_mixed_precision", mixed_precision)
    wrong_device = cpu and getattr(partial.get("device"), "type", "cpu") != "cpu"
    if current == mixed_precision and not wrong_device:
        return
    AcceleratorState._reset_state(reset_partial_state=wrong_device and partial.get("num_processes", 1) == 1)
    GradientState._reset_state()


def _injected_oom_step(rank: int) -> int | None:
    """The step at which FT_CORE_INJECT_OOM="<rank>:<step>" makes this process fail (fault injection for
    tests)."""
    value = os.environ.get(INJECT_OOM, "")
    if not value:
        return None
    try:
        fault_rank, step = (int(x) for x in value.split(":"))
    except ValueError:
        raise ConfigError(f'{INJECT_OOM} must be "<rank>:<step>", got {value!r}') from None
    return step if fault_rank == rank else None


def mark_running(run: Run, state: TrainState) -> None:
    """status.json says the run is running, where it starts, and on what."""
    if run.main:
        runfolder.write_status(
            run.run_dir,
            state="running",
            step=state.step,
            total_steps=run.total_steps,
            epoch=state.epoch,
            best_eval_loss=state.best_eval_loss,
            started_at=time.time(),
            error=None,
            device=str(run.accelerator.device),
            num_processes=run.accelerator.num_processes,
            mixed_precision=run.mixed_precision,
        )


@dataclass
class Throughput:
    """Loss and tokens since the last train_log row (what the next row averages), and the last gradient norm.
    A logging accumulator, not training state: a resume starts a fresh one.

    The loss sum and the norm stay on the device and are read once per row (`row`), so the loop queues work
    for the GPU without waiting on it; token counts come from the examples' lengths on the host."""

    loss_sum: Any = None  # sum of the window's micro-batch losses, a tensor on the device
    micro_batches: int = 0
    tokens: int = 0
    target_tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    grad_norm: Any = None  # the last clipped norm, a tensor on the device (None while clipping is off)

    def add_loss(self, loss: Any) -> None:
        loss = loss.double()  # summed in float64, as the Python floats it replaces were
        self.loss_sum = loss if self.loss_sum is None else self.loss_sum + loss
        self.micro_batches += 1

    def add_tokens(self, tokens: int, target_tokens: int) -> None:
        self.tokens += tokens
        self.target_tokens += target_tokens

    def row(self, state: TrainState, lr: float, processes: int) -> dict[str, Any]:
        """The train_log row for the window ending at this step; tokens counted over all processes (this
        process's count times the processes). The one wait on the device per row is here."""
        import torch

        figures = [self.loss_sum] + ([self.grad_norm.double()] if self.grad_norm is not None else [])
        values = torch.stack(figures).tolist()
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        return {
            "step": state.step,
            "epoch": round(state.epoch_float, 4),
            "loss": values[0] / self.micro_batches,
            "lr": lr,
            "grad_norm": values[1] if len(values) > 1 else math.nan,
            "tokens": self.tokens * processes,
            "target_tokens": self.target_tokens * processes,
            "tokens_per_s": self.tokens * processes / elapsed,
            "target_tokens_per_s": self.target_tokens * processes / elapsed,
        }

    def reset(self) -> None:
        self.loss_sum, self.micro_batches, self.tokens, self.target_tokens = None, 0, 0, 0
        self.started = time.perf_counter()


def epoch_batches(run: Run, epoch: int) -> list[list[int]]:
    """This process's batches (example indices) of an epoch, the largest first (see
    `length_grouped_batches`)."""
    processes = run.accelerator.num_processes
    batches = length_grouped_batches(
        run.tokens, run.cfg.batch_size, run.cfg.seed + epoch, run.cfg.group_by_length, largest_first=processes
    )
    return share_batches(batches, processes)[run.rank]


def train_micro_batch(run: Run, batch: dict[str, Any], window: Throughput) -> bool:
    """Forward and backward on one micro-batch; the optimizer steps when the accumulation is complete.
    Returns whether it stepped."""
    accelerator, cfg = run.accelerator, run.cfg
    with accelerator.accumulate(run.model):
        out = run.model(**batch)
        accelerator.backward(out.loss)
        if accelerator.sync_gradients and cfg.max_grad_norm > 0:
            # a tensor: reading it here would make the CPU wait for the GPU every step
            window.grad_norm = accelerator.clip_grad_norm_(run.model.parameters(), cfg.max_grad_norm)
        run.optimizer.step()
        if accelerator.sync_gradients:
            run.scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)
    window.add_loss(out.loss.detach())
    return accelerator.sync_gradients


def log_step(run: Run, state: TrainState, window: Throughput, bar: Any) -> None:
    """A train_log row, the progress bar's figures and status.json's step, then a fresh window."""
    import torch

    row = window.row(state, run.scheduler.get_last_lr()[0], run.accelerator.num_processes)
    if torch.cuda.is_available():
        row["gpu_mem_gb"] = torch.cuda.max_memory_allocated() / 2**30
    run.train_log.write(row)
    bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{row['lr']:.2e}")
    window.reset()
    if run.main:
        runfolder.write_status(run.run_dir, step=state.step, epoch=state.epoch_float, loss=row["loss"])


def validate(run: Run, state: TrainState) -> bool:
    """Eval loss, best adapter, early stopping; returns True when training should stop."""
    if not run.val_batches and not run.data.validation:
        save_best_adapter(run)
        return False
    eval_loss = evaluate_loss(run.model, run.val_batches, run.accelerator)
    best = state.best_eval_loss
    if best is None or eval_loss < best - run.cfg.early_stopping_min_delta:
        state.best_eval_loss, state.best_step, state.bad_evals = eval_loss, state.step, 0
        save_best_adapter(run)
    else:
        state.bad_evals += 1
    row = {
        "step": state.step,
        "epoch": round(state.epoch_float, 4),
        "eval_loss": eval_loss,
        "best_eval_loss": state.best_eval_loss,
    }
    if run.generation_sample and run.main:
        row.update(
            generation_metrics(run.model, run.tokenizer, run.cfg, run.generation_sample, run.accelerator)
        )
    run.accelerator.wait_for_everyone()
    run.train_log.write(row)
    run.log(
        f"step {state.step}: eval_loss {eval_loss:.4f} (best {state.best_eval_loss:.4f} at step "
        f"{state.best_step})",
        flush=True,
    )
    patience = run.cfg.early_stopping_patience
    return bool(patience and state.bad_evals >= patience)


def after_step(run: Run, state: TrainState, window: Throughput, bar: Any) -> bool:
    """Log, validate and checkpoint when due; returns True when early stopping says stop."""
    last = state.step == run.total_steps
    if state.step % run.cfg.log_every_steps == 0 or last:
        log_step(run, state, window, bar)
    stop = False
    if state.step % run.eval_every == 0 or last:
        stop = validate(run, state)
        if run.main:
            runfolder.write_status(
                run.run_dir, best_eval_loss=state.best_eval_loss, best_step=state.best_step
            )
    if state.step % run.save_every == 0 and not last:
        save_checkpoint(run, state)
    return stop


def run_loop(run: Run, state: TrainState) -> bool:
    """Train until the last step or early stopping, from where `state` stands; returns True when it stopped
    early."""
    from tqdm.auto import tqdm

    bar = tqdm(
        total=run.total_steps,
        initial=state.step,
        desc="train",
        disable=not (run.main and run.progress),
        dynamic_ncols=True,
    )
    window = Throughput()
    device = run.accelerator.device
    stop = False
    run.model.train()
    while not stop and state.step < run.total_steps:
        batches = epoch_batches(run, state.epoch)
        todo = batches[state.batch_in_epoch :]
        loader = train_loader(
            run.data.train,
            todo,
            run.tokenizer.pad_token_id,
            run.cfg.task,
            run.cfg.num_workers,
            device.type,
            run.cfg.seed + state.epoch,
        )
        for b_index, indices, cpu_batch in zip(itertools.count(state.batch_in_epoch), todo, loader):
            if run.inject_oom_at == state.step + 1:
                import torch

                raise torch.OutOfMemoryError(f"CUDA out of memory ({INJECT_OOM} on process {run.rank})")
            window.add_tokens(sum(run.tokens[i] for i in indices), sum(run.target_tokens[i] for i in indices))
            batch = {k: v.to(device, non_blocking=True) for k, v in cpu_batch.items()}
            stepped = train_micro_batch(run, batch, window)
            state.batch_in_epoch = b_index + 1
            if not stepped:
                continue
            state.step += 1
            state.epoch_float = state.epoch + (b_index + 1) / len(batches)
            bar.update(1)
            stop = after_step(run, state, window, bar)
            if stop or state.step >= run.total_steps:
                break
        else:
            state.epoch, state.batch_in_epoch = state.epoch + 1, 0
    bar.close()
    return stop


def finish(run: Run, state: TrainState, stopped_early: bool) -> None:
    """The last checkpoint and status.json's final figures (and the sanity-overfit verdict)."""
    cfg = run.cfg
    if stopped_early:
        run.log(
            f"early stopping: no improvement in {cfg.early_stopping_patience} validations; best step "
            f"{state.best_step}",
            flush=True,
        )
    final_loss = runfolder.last_train_loss(run.run_dir)
    result = {
        "state": "finished",
        "step": state.step,
        "stopped_early": stopped_early,
        "best_eval_loss": state.best_eval_loss,
        "best_step": state.best_step,
        "final_train_loss": final_loss,
        "finished_at": time.time(),
    }
    if cfg.sanity_overfit:
        result["sanity_overfit_passed"] = sanity.passed(final_loss)
        verdict = (
            "passed"
            if result["sanity_overfit_passed"]
            else "FAILED (loss not near zero: check the label masking and the learning rate)"
        )
        run.log(f"sanity overfit: final train loss {final_loss:.4f} -> {verdict}", flush=True)
    save_checkpoint(run, state)  # every process: each saves its random state
    if run.main:
        runfolder.write_status(run.run_dir, **result)


def record_failure(run: Run, error: BaseException) -> None:
    """Say why the run ended early. A process that died of an error writes errors/rank<k>.json (one line, with
    the out-of-memory hint); the main process writes status.json: cancelled or failed as `runfolder.ending`
    decides from the run folder (a requested cancel; else the first process's error; else Ctrl-C/SIGTERM is a
    cancel)."""
    interrupted = isinstance(error, KeyboardInterrupt)
    message = _explain_failure(error, run.cfg)
    if not interrupted and not isinstance(error, SystemExit):
        kind = "oom" if _is_oom(error) else type(error).__name__
        with contextlib.suppress(OSError):  # a full disk or a deleted folder must not hide the error itself
            runfolder.write_process_error(run.run_dir, run.rank, message, kind)
            if not run.main:  # process 0 may be stuck in a collective until killed: say it now
                runfolder.mark_ended(run.run_dir, "failed", message)
    if run.main:
        outcome = runfolder.ending(run.run_dir, interrupted=interrupted, error=message)
        runfolder.write_status(
            run.run_dir,
            state=outcome.state,
            error=outcome.error,
            traceback=traceback.format_exc()[-4000:],
            finished_at=time.time(),
        )


def _record_ending(run: Run, error: BaseException) -> None:
    """`record_failure`, carried through when a SIGTERM arrives meanwhile (torchrun signals the other
    processes when one fails, while they record the broken connection): the handler raises only once."""
    try:
        record_failure(run, error)
    except Terminated:
        record_failure(run, error)


@contextlib.contextmanager
def _heartbeat(run: Run) -> Iterator[None]:
    """Process 0 writes heartbeat.json every `runfolder.HEARTBEAT_EVERY_S` from a daemon thread while the
    block runs: the beats stop when the process dies, however it dies (see `runfolder.observed_status`)."""
    if not run.main:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(OSError):
                runfolder.write_heartbeat(run.run_dir)
            if stop.wait(runfolder.HEARTBEAT_EVERY_S):
                return

    thread = threading.Thread(target=beat, name="ft_core-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


class Terminated(KeyboardInterrupt):
    """SIGTERM: the app's Cancel (after `runfolder.request_cancel`), `torchrun` stopping the other
    processes when one failed, or a scheduler. Raised like Ctrl-C, so the run ends through the same path."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises `Terminated` in the training loop, once: a second SIGTERM (the launcher's or the
    app's retry) must not cut short the record of the first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def on_sigterm(signum: int, frame: Any) -> None:
        if received:
            return
        received.append(signum)
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------- model


def build_model(cfg: TrainConfig, model_path: str, dtype: Any = None) -> Any:
    """Base model with LoRA adapters on the target modules; fails early on a module name the model lacks.

    The frozen base is loaded in `dtype`, the run's precision (`Placement.dtype`), whatever the checkpoint
    holds: an fp32 checkpoint in a bf16 run would otherwise keep fp32 weights (twice the memory, recast to
    bf16 on every forward), and precision=fp32 on a bf16 checkpoint would silently train in bf16. The LoRA
    weights stay fp32 (peft's `autocast_adapter_dtype=True`, which peft recommends for stable training and
    fp16's GradScaler needs: it refuses to unscale fp16 gradients); autocast runs their matmuls in the
    run's precision and AdamW updates fp32 weights, the usual mixed-precision recipe (accelerate, peft's
    docs)."""
    from peft import LoraConfig, TaskType, get_peft_model

    from ft_core.models import check_target_modules, load_model, peft_wrapping

    model = load_model(model_path, cfg.task, dtype=dtype, attn_implementation=cfg.attn_implementation)
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
    with peft_wrapping():
        model = get_peft_model(model, lora, autocast_adapter_dtype=True)
    if cfg.torch_compile:
        import torch

        # compile the transformer's forward only, for training steps: validation and generation run it plain
        # (`uncompiled`), since no-grad mode, inference mode and a KV cache would each recompile it
        inner = model.get_base_model()
        inner.forward = torch.compile(inner.forward, dynamic=True)
    return model


@contextlib.contextmanager
def uncompiled(model: Any) -> Iterator[None]:
    """Run a peft model's transformer with its plain forward inside the block (validation loss, generation),
    leaving the torch.compile'd one (an instance attribute set by `build_model`) to training steps."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    compiled = inner.__dict__.pop("forward", None)
    try:
        yield
    finally:
        if compiled is not None:
            inner.forward = compiled


# ---------------------------------------------------------------- validation


def evaluate_loss(model: Any, batches: list[dict], accelerator: Any) -> float:
    """Mean cross-entropy per target token over the validation set (not a mean of batch means)."""
    import torch

    # The unwrapped model: processes may hold different numbers of validation batches, and a DDP-wrapped
    # forward could wait on the others; the totals are combined once, below.
    plain = accelerator.unwrap_model(model)
    plain.eval()
    encoder_decoder = plain.config.is_encoder_decoder
    total = torch.zeros(2, device=accelerator.device, dtype=torch.float64)
    with torch.no_grad(), accelerator.autocast(), uncompiled(plain):
        for batch in batches:
            batch = {k: v.to(accelerator.device, non_blocking=True) for k, v in batch.items()}
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
    """Greedy outputs on a small validation sample, scored with BLEU and ROUGE (main process only): loss
    can fall while outputs stay poor, as in the report that started this project."""
    from ft_core.decoding import Decoding
    from ft_core.generate import build_prompts, generate_texts
    from ft_core.metrics import corpus

    unwrapped = accelerator.unwrap_model(model)
    unwrapped.eval()
    use_cache = unwrapped.config.use_cache
    unwrapped.config.use_cache = True
    try:
        prompts = build_prompts(tokenizer, cfg, examples, cfg.task)
        # autocast: the fp32 LoRA weights compute in the run's precision, as in training (no merge here:
        # merging into 16-bit base weights and back would perturb the base the run goes on training)
        with accelerator.autocast(), uncompiled(unwrapped):
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
    table = corpus(
        [o.output for o in outputs],
        [e.references for e in examples],
        ("bleu", "rouge"),
        language=cfg.language,
    )
    keep = ("bleu", "rouge1", "rouge2", "rougeL", "rougeLsum", "output_words")
    return {f"eval_{m}": float(table.loc[m, "value"]) for m in keep if m in table.index}


# ---------------------------------------------------------------- failures, check, command line


def _is_oom(e: BaseException) -> bool:
    return is_out_of_memory(e)


def _explain_failure(e: BaseException, cfg: TrainConfig) -> str:
    """One line: the error, or for an out-of-memory error what to change."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if _is_oom(e):
        return (
            f"out of GPU memory at batch_size={cfg.batch_size}, max_source_length={cfg.max_source_length}: "
            "lower batch_size (raise gradient_accumulation_steps to keep the effective batch), set "
            "gradient_checkpointing=true, or lower max_source_length "
            f"(max_target_length={cfg.max_target_length})"
        )
    return f"{type(e).__name__}: {text}"


def check(cfg: TrainConfig) -> runfolder.CheckReport:
    """Everything `train` checks before it starts, without training: config, run folder, data, tokenizer.
    Returns the truncation report and data sizes (the training page's preview reads it)."""
    inputs = load_inputs(cfg)
    return runfolder.CheckReport.from_dict(
        {
            **inputs.data.truncation,
            "train_examples": len(inputs.data.train),
            "validation_examples": len(inputs.data.validation),
            "model_path": inputs.model_path,
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser(TrainConfig, "train", description="LoRA fine-tuning into a run folder")
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate config, data and model, print the truncation report, do not train",
    )
    args = parser.parse_args(argv)
    cfg = config_from_cli(TrainConfig, args)
    if args.check:
        report = check(cfg)
        print(format_truncation_report(report.to_dict(), cfg))
        print(report.to_json())  # the last line: what the app reads (runfolder.CheckReport.from_output)
        return 0
    run_dir = train(cfg)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under DDP only the first process reports
    status = read_status(run_dir)
    print(
        f"finished: {run_dir} (best eval loss {status.best_eval_loss}, final train loss "
        f"{status.final_train_loss})"
    )
    if cfg.sanity_overfit and not status.sanity_overfit_passed:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
