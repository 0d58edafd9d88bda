"""Preference tuning: DPO (Rafailov et al. 2023) with TRL's `DPOTrainer` on the pairs the annotators decided,
starting from a fine-tuned (SFT) run, told in stages: `load_inputs` (every check), `prepare_run` (run folder,
model, trainer), `run_training`, `finish`.

`python -m ft_core dpo --config FILE.yaml [--set key=value ...]` reads a `DPOTrainConfig`: the SFT run folder,
a preferences export (`python -m annotations preferences`, docs/preference-tuning.md), TRL's main `DPOConfig`
fields. Before a run folder exists it refuses, on one line: a TRL or peft version outside `SUPPORTED`, an SFT
run without an adapter or not a causal model, an export whose prompts are not the SFT run's prompt format
(its `prompt_template`, inside the chat template exactly when the run used one), fewer decided training pairs
than `min_pairs`, and a robust loss without a label-noise figure.

The reference model is the SFT policy, exactly. The SFT adapter is loaded *trainable* onto the base model
and training continues it; TRL 1.16, given a peft model with a pretrained adapter and no `ref_model`, adds a
frozen copy of it (adapter "ref") and computes the reference log-probabilities with that copy active. The
other way (merging the SFT adapter into the base and training a fresh LoRA whose disabled state is the
reference) gives the same reference, but its adapter only applies to that merged model: generation, the
preferences export and the Runs page would need a second base. Continuing the adapter keeps what every other
step reads: the run folder's `config.json` is the SFT run's `TrainConfig` (same base model, same prompt
format) and `adapter/` is one LoRA on that base, so `python -m ft_core generate` treats a DPO run like any
fine-tuned run. The price: the LoRA rank, alpha and target modules are the SFT run's (a DPO run cannot
choose them), and the frozen copy costs one more adapter's memory (a few MB), far less than a second model.

The run folder (`ft_core.runfolder`): config.json (the SFT's TrainConfig, see above), dpo_config.json,
preference_source.json (the export's path, checksum and summary: its campaign, disagreement rate),
train_log.jsonl (TRL's logged figures per step: loss, rewards of chosen and rejected, margins, accuracies,
and the same on the held-out pairs as eval_*), status.json, adapter/ (the best policy by eval loss, else the
last), checkpoint/checkpoint-<step>/ (TRL's, what `resume` reads). SIGTERM (the app's Cancel) saves a
checkpoint and the adapter at the end of the step under way and marks the run cancelled.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import random
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ft_core import runfolder
from ft_core.config import DPOTrainConfig, TrainConfig, cli_parser, config_from_cli
from ft_core.errors import ConfigError, DataError, FtCoreError, ModelError, RunFolderError

# The versions this module is written against: TRL 1.x's DPOConfig fields and its "ref" adapter copy of a
# pretrained adapter (trl/trainer/dpo_trainer.py); peft as requirements.txt states it.
SUPPORTED = {"trl": ("1.16", "2"), "peft": ("0.18", "1")}  # [lowest, above)
PREFERENCES_FILE = "preferences.jsonl"
SUMMARY_FILE = "summary.json"
SHOWN = ("loss", "eval_loss", "rewards_margins", "rewards_accuracies", "eval_rewards_accuracies")  # progress


# ---------------------------------------------------------------- the story


def dpo(cfg: DPOTrainConfig, progress: bool = True) -> Path:
    """Preference-tune `cfg.sft_run`'s adapter on `cfg.preferences` into `cfg.run_dir`; returns the run
    folder. Raises `Cancelled` after a SIGTERM (the run saved and marked cancelled)."""
    run = prepare_run(cfg, progress)
    try:
        cancelled = run_training(run)
        finish(run, cancelled)
    except BaseException as e:
        if not isinstance(e, Cancelled):
            record_failure(run, e)
        raise
    finally:
        run.train_log.close()
    return run.run_dir


class Cancelled(KeyboardInterrupt):
    """The run was cancelled (SIGTERM): saved, marked cancelled; the command exits 130 as on Ctrl-C."""


# ---------------------------------------------------------------- checks before anything is trained


def check_versions(versions: dict[str, str | None] | None = None) -> None:
    """ModelError naming the package when TRL or peft is missing or outside `SUPPORTED` (`versions`: name ->
    installed version; by default what is installed)."""
    from packaging.version import Version

    for name, (low, high) in SUPPORTED.items():
        if versions is not None:
            found = versions.get(name)
        else:
            try:
                found = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                found = None
        if found is None:
            raise ModelError(f"{name} is not installed; preference tuning needs {name}>={low},<{high}")
        if not Version(low) <= Version(found) < Version(high):
            raise ModelError(
                f"{name} {found} is outside the supported range {name}>={low},<{high}: install "
                f"the version constraints.txt pins"
            )


@dataclass
class Preferences:
    """The export's decided pairs, split into training and held-out pairs, and where they came from."""

    train: list[dict[str, Any]]  # prompt, chosen, rejected (TRL's preference format)
    held_out: list[dict[str, Any]]
    summary: dict[str, Any]  # the export's summary.json ({} when the JSONL came alone)
    path: Path  # the preferences.jsonl read
    sha256: str

    def source(self) -> dict[str, Any]:
        """What preference_source.json records."""
        return {
            "preferences": str(self.path.resolve()),
            "sha256": self.sha256,
            "campaign_id": self.summary.get("campaign_id"),
            "disagreement_rate": self.summary.get("disagreement_rate"),
            "train_pairs": len(self.train),
            "held_out_pairs": len(self.held_out),
            "export_summary": self.summary,
        }


def preferences_file(location: str) -> Path:
    """The preferences.jsonl of an export folder, or the file itself; DataError when neither exists."""
    path = Path(location).expanduser()
    if path.is_dir():
        path = path / PREFERENCES_FILE
    if not path.is_file():
        raise DataError(
            f"preferences export not found: {path} (write one with .venv/bin/python -m annotations "
            "preferences --campaign ID --out DIR)"
        )
    return path


def read_pairs(path: Path) -> list[dict[str, Any]]:
    """The rows of a preferences.jsonl; DataError when one is not a {prompt, chosen, rejected} pair."""
    from ft_core.data import read_records

    rows = read_records(str(path))
    for number, row in enumerate(rows, 1):
        missing = [c for c in ("prompt", "chosen", "rejected") if c not in row or row[c] is None]
        if missing:
            raise DataError(
                f"{path} row {number} lacks {', '.join(missing)}: not a preferences export "
                "(columns prompt, chosen, rejected)"
            )
    return rows


def _user_text(prompt: Any) -> str | None:
    """The user message of a conversational prompt (one user turn), else None."""
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], dict):
        if prompt[0].get("role") == "user" and isinstance(prompt[0].get("content"), str):
            return prompt[0]["content"]
    return None


def check_prompt_format(rows: list[dict[str, Any]], sft: TrainConfig, tokenizer: Any, path: Path) -> None:
    """DataError unless every prompt is the SFT run's format: its `prompt_template` around a source, as a
    one-message conversation when the run wraps prompts in the tokenizer's chat template (TRL applies that
    template again, as generation did), else as the plain text generation gave the model."""
    prefix, _, suffix = sft.prompt_template.partition("{source}")
    chat = bool(sft.use_chat_template and getattr(tokenizer, "chat_template", None))
    for number, row in enumerate(rows, 1):
        prompt = row["prompt"]
        text = _user_text(prompt) if chat else prompt
        if chat and text is None:
            kind = "plain text" if isinstance(prompt, str) else "not one user message"
            raise DataError(
                f"{path} row {number}: the prompt is {kind}, but the run {sft.run_dir} wraps prompts in the "
                "chat template: export the campaign of a run with this prompt format"
            )
        if not chat and not isinstance(prompt, str):
            raise DataError(
                f"{path} row {number}: the prompt is a conversation, but the run {sft.run_dir} gives the "
                "model plain text (no chat template): export the campaign of a run with this prompt format"
            )
        if not (text.startswith(prefix) and text.endswith(suffix) and len(text) >= len(prefix) + len(suffix)):
            raise DataError(
                f"{path} row {number}: the prompt is not the run's prompt_template around a source "
                f"({sft.prompt_template[:60]!r}...): these preferences come from another prompt format"
            )


def split_pairs(rows: list[dict[str, Any]], eval_share: float, seed: int) -> tuple[list, list]:
    """(training pairs, held-out pairs): a seeded shuffle, `eval_share` of the pairs held out (at least two
    when any: one pair's reward accuracy is 0 or 1)."""
    pairs = [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in rows]
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    n_held = 0 if eval_share <= 0 else max(2, round(eval_share * len(pairs)))
    held = sorted(order[:n_held])
    train = sorted(order[n_held:])
    return [pairs[i] for i in train], [pairs[i] for i in held]


def read_preferences(cfg: DPOTrainConfig) -> Preferences:
    """The export's pairs, split; DataError when it holds fewer decided training pairs than `min_pairs`."""
    path = preferences_file(cfg.preferences)
    rows = read_pairs(path)
    summary_path = path.with_name(SUMMARY_FILE)
    summary = {}
    if summary_path.is_file():
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(summary_path.read_text(encoding="utf-8"))
            summary = loaded if isinstance(loaded, dict) else {}
    train, held_out = split_pairs(rows, cfg.eval_share, cfg.seed)
    if len(train) < cfg.min_pairs:
        raise DataError(
            f"{path} has {len(rows)} decided preference {'pair' if len(rows) == 1 else 'pairs'}"
            f"{f' ({len(held_out)} held out)' if held_out else ''}, leaving {len(train)} to train on, fewer "
            f"than min_pairs {cfg.min_pairs}: collect more judgments (or lower eval_share / min_pairs)"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Preferences(train, held_out, summary, path, digest)


def label_smoothing(cfg: DPOTrainConfig, summary: dict[str, Any]) -> float:
    """The label smoothing the loss gets: the config's, else with the robust loss the export's disagreement
    rate (the share of votes against the majority, an estimate of the label-flip probability that robust DPO
    corrects for: Chowdhury et al. 2024), else 0."""
    if cfg.label_smoothing is not None:
        return cfg.label_smoothing
    if cfg.loss_type != "robust":
        return 0.0
    rate = summary.get("disagreement_rate")
    if not isinstance(rate, (int, float)):
        raise ConfigError(
            "loss_type robust needs label_smoothing: the export records no disagreement rate (no pair had "
            "two raters); set label_smoothing"
        )
    if not 0 <= rate < 0.5:
        raise ConfigError(
            f"the export's disagreement rate {rate:.3f} is not below 0.5: the majority is chance"
        )
    return float(rate)


@dataclass
class Inputs:
    """What preference tuning reads before anything is trained (every check passed)."""

    cfg: DPOTrainConfig
    sft: TrainConfig  # the SFT run's config: base model, prompt format
    run_dir: Path
    model_path: str
    tokenizer: Any
    preferences: Preferences
    label_smoothing: float


def load_inputs(cfg: DPOTrainConfig) -> Inputs:
    """Every check, in the order a researcher fixes them; raises on bad input, writes nothing. A resume
    must read the same export as the run started with (its SHA-256 in preference_source.json)."""
    from ft_core.models import load_tokenizer, resolve_model_path

    check_versions()
    problem = runfolder.dpo_run_dir_problem(cfg.run_dir, cfg.resume)
    if problem:
        raise RunFolderError(problem)
    sft = runfolder.load_train_config(cfg.sft_run)
    if not runfolder.has_adapter(cfg.sft_run):
        raise RunFolderError(f"{cfg.sft_run} has no adapter/: preference tuning starts from a trained run")
    if sft.task != "causal":
        raise ConfigError(
            f"{cfg.sft_run} is a {sft.task} run; preference tuning (TRL's DPO) needs a causal model"
        )
    preferences = read_preferences(cfg)  # before the tokenizer: a count needs no model
    started_on = runfolder.read_preference_source(cfg.run_dir).get("sha256") if cfg.resume else None
    if started_on and started_on != preferences.sha256:
        raise DataError(
            f"cannot resume: {preferences.path} changed since {cfg.run_dir} started on it; start a new run"
        )
    smoothing = label_smoothing(cfg, preferences.summary)
    model_path = resolve_model_path(sft.base_model)
    tokenizer = load_tokenizer(model_path, sft.task)
    check_prompt_format(preferences.train + preferences.held_out, sft, tokenizer, preferences.path)
    return Inputs(cfg, sft, Path(cfg.run_dir), model_path, tokenizer, preferences, smoothing)


# ---------------------------------------------------------------- the stages


@dataclass
class Run:
    """A prepared preference-tuning run: its inputs, the TRL trainer, where it logs, whether a cancel came."""

    inputs: Inputs
    trainer: Any
    train_log: runfolder.TrainLog
    progress: bool
    cancel: list[int] = field(default_factory=list)  # the SIGTERM received, if any

    @property
    def run_dir(self) -> Path:
        return self.inputs.run_dir

    @property
    def cfg(self) -> DPOTrainConfig:
        return self.inputs.cfg


def build_policy(inputs: Inputs, dtype: Any) -> Any:
    """The base model with the SFT adapter attached trainable: the policy DPO starts from."""
    from peft import PeftModel

    from ft_core.models import load_model, peft_wrapping

    model = load_model(
        inputs.model_path, "causal", dtype=dtype, attn_implementation=inputs.sft.attn_implementation
    )
    model.config.use_cache = False
    adapter = runfolder.adapter_dir(inputs.cfg.sft_run)
    try:
        with peft_wrapping():
            return PeftModel.from_pretrained(model, str(adapter), is_trainable=True)
    except (ValueError, KeyError, RuntimeError, OSError) as e:
        raise ModelError(
            f"the adapter {adapter} does not fit {inputs.sft.base_model}: {str(e)[:200]}"
        ) from None


def dpo_args(inputs: Inputs, placement: Any, progress: bool) -> Any:
    """TRL's DPOConfig for the run (TRL 1.16's fields: no max_prompt_length, loss_type a list)."""
    from trl import DPOConfig

    cfg = inputs.cfg
    held_out = bool(inputs.preferences.held_out)
    return DPOConfig(
        output_dir=str(runfolder.checkpoint_dir(inputs.run_dir)),
        beta=cfg.beta,
        loss_type=[cfg.loss_type],
        label_smoothing=inputs.label_smoothing,
        max_length=cfg.max_length,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps if cfg.max_steps > 0 else -1,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        warmup_steps=cfg.warmup_ratio,  # a float below 1 is a share of the steps (transformers 5)
        seed=cfg.seed,
        logging_steps=cfg.log_every_steps,
        eval_strategy="steps" if held_out else "no",
        eval_steps=cfg.eval_every_steps,
        save_strategy="steps",
        save_steps=cfg.eval_every_steps,
        save_total_limit=2,
        load_best_model_at_end=held_out,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        bf16=placement.precision == "bf16",
        fp16=placement.precision == "fp16",
        use_cpu=placement.device == "cpu",
        activation_checkpointing=False,  # TRL's default is on; transformers 5's name for it
        report_to="none",
        disable_tqdm=not progress,
    )


def prepare_run(cfg: DPOTrainConfig, progress: bool = True) -> Run:
    """Everything before the first step: every check, then the run folder (config.json, dpo_config.json,
    preference_source.json), the policy and TRL's trainer. Bad input fails before the folder exists."""
    from datasets import Dataset
    from transformers import EarlyStoppingCallback, PrinterCallback
    from transformers.trainer_utils import set_seed
    from trl import DPOTrainer

    from ft_core.models import resolve_placement

    inputs = load_inputs(cfg)
    placement = resolve_placement(cfg.precision)
    placement.mixed_precision  # noqa: B018 (raises on fp16 without a GPU, before the folder exists)
    set_seed(cfg.seed)
    model = build_policy(inputs, placement.dtype)
    args = dpo_args(inputs, placement, progress)

    run_dir = inputs.run_dir
    if cfg.resume:
        runfolder.clear_run_signals(run_dir)
    runfolder.create(run_dir, replace(inputs.sft, run_dir=str(run_dir), resume=False), {})
    runfolder.write_config(runfolder.dpo_config_path(run_dir), cfg)
    runfolder.write_json_atomic(
        runfolder.preference_source_path(run_dir),
        {**inputs.preferences.source(), "label_smoothing": inputs.label_smoothing, "sft_run": cfg.sft_run},
    )
    prefs = inputs.preferences
    callbacks: list[Any] = []
    if cfg.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(prefs.train),
        eval_dataset=Dataset.from_list(prefs.held_out) if prefs.held_out else None,
        processing_class=inputs.tokenizer,
        callbacks=callbacks,
    )
    run = Run(inputs, trainer, runfolder.TrainLog(run_dir), progress)
    trainer.add_callback(RunFolderCallback(run))
    trainer.remove_callback(
        PrinterCallback
    )  # without a progress bar it prints every log dict; ours prints one line
    return run


def run_training(run: Run) -> bool:
    """Train (from the last checkpoint when resuming); returns True when a SIGTERM cancelled the run."""
    resume_from = runfolder.last_dpo_checkpoint(run.run_dir) if run.cfg.resume else None
    runfolder.write_status(
        run.run_dir,
        state="running",
        **({} if resume_from else {"step": 0}),
        error=None,
        traceback=None,
        finished_at=None,
        device=str(run.trainer.args.device),
        num_processes=run.trainer.args.world_size,
        mixed_precision="bf16" if run.trainer.args.bf16 else "fp16" if run.trainer.args.fp16 else "no",
        started_at=time.time(),
    )
    with _sigterm_requests_cancel(run.cancel):
        run.trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    return bool(run.cancel)


def save_adapter(run: Run) -> None:
    """adapter/: the policy's LoRA (the trained "default" adapter, not TRL's frozen "ref" copy), swapped in
    whole."""
    final = runfolder.adapter_dir(run.run_dir)
    staging = runfolder.staging_dir(final)
    model = run.trainer.accelerator.unwrap_model(run.trainer.model)
    model.save_pretrained(str(staging), selected_adapters=["default"])
    runfolder.swap_in(staging, final)


def finish(run: Run, cancelled: bool) -> None:
    """The adapter (the best by held-out loss when there were held-out pairs: TRL's trainer loaded it back)
    and status.json's final figures; a cancelled run is marked so, then `Cancelled` is raised."""
    state = run.trainer.state
    save_adapter(run)
    result = {
        "step": state.global_step,
        "best_eval_loss": state.best_metric,
        "best_step": _step_of(state.best_model_checkpoint),
        "final_train_loss": runfolder.last_train_loss(run.run_dir),
        "finished_at": time.time(),
    }
    if cancelled:
        runfolder.write_status(
            run.run_dir,
            state="cancelled",
            error=f"cancelled at step {state.global_step}; resume=true continues from its checkpoint",
            **result,
        )
        raise Cancelled(f"signal {run.cancel[0]}")
    stopped_early = bool(state.max_steps and state.global_step < state.max_steps)
    runfolder.write_status(run.run_dir, state="finished", stopped_early=stopped_early, **result)


def _step_of(checkpoint: str | None) -> int | None:
    name = Path(checkpoint).name if checkpoint else ""
    step = name.removeprefix("checkpoint-")
    return int(step) if step.isdigit() else None


def record_failure(run: Run, error: BaseException) -> None:
    """status.json says the run failed (or was interrupted: Ctrl-C), with the one-line reason."""
    interrupted = isinstance(error, KeyboardInterrupt)
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    with contextlib.suppress(OSError):
        runfolder.write_status(
            run.run_dir,
            state="cancelled" if interrupted else "failed",
            error=text if interrupted else f"{type(error).__name__}: {text}",
            traceback=traceback.format_exc()[-4000:],
            finished_at=time.time(),
        )


# ---------------------------------------------------------------- the run folder as TRL logs


def log_row(logs: dict[str, Any], step: int, epoch: float | None) -> dict[str, Any] | None:
    """One train_log row from TRL's logged figures: `learning_rate` is `lr` (as SFT logs it),
    `rewards/margins` is `rewards_margins`, `eval_rewards/accuracies` is `eval_rewards_accuracies`; TRL's
    end-of-training summary (train_runtime, ...) is no row."""
    if "train_runtime" in logs:
        return None
    row: dict[str, Any] = {"step": step, "epoch": epoch}
    for key, value in logs.items():
        if isinstance(value, (int, float)):
            row["lr" if key == "learning_rate" else key.replace("/", "_")] = value
    return row


def _callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


class RunFolderCallback(_callback_base()):  # type: ignore[misc]
    """TRL's trainer reports into the run folder: each log a train_log row and status.json's step and loss; at
    the end of a step after a SIGTERM, a checkpoint and a stop."""

    def __init__(self, run: Run):
        self.run = run

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        row = log_row(logs or {}, state.global_step, state.epoch)
        if row is None:
            return
        self.run.train_log.write(row)
        status: dict[str, Any] = {
            "step": state.global_step,
            "total_steps": state.max_steps,
            "epoch": state.epoch,
        }
        if "loss" in row:
            status["loss"] = row["loss"]
        if state.best_metric is not None:
            status["best_eval_loss"] = state.best_metric
            status["best_step"] = _step_of(state.best_model_checkpoint)
        runfolder.write_status(self.run.run_dir, **status)
        if self.run.progress:
            shown = {k: round(v, 4) for k, v in row.items() if k in SHOWN}
            print(f"step {state.global_step}: {shown}", flush=True)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.run.cancel:
            control.should_save = True
            control.should_training_stop = True


@contextlib.contextmanager
def _sigterm_requests_cancel(received: list[int]) -> Iterator[None]:
    """SIGTERM (the app's Cancel) asks the trainer to save and stop at the end of the step under way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        if not received:
            received.append(signum)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------- command line


def check(cfg: DPOTrainConfig) -> dict[str, Any]:
    """Every check `dpo` makes before training, without training: the pairs it would train and hold out."""
    inputs = load_inputs(cfg)
    return {**inputs.preferences.source(), "label_smoothing": inputs.label_smoothing}


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser(DPOTrainConfig, "dpo", description="preference tuning (DPO with TRL) of an SFT run")
    parser.add_argument(
        "--check", action="store_true", help="validate the run, the export and the versions; do not train"
    )
    args = parser.parse_args(argv)
    cfg = config_from_cli(DPOTrainConfig, args)
    if args.check:
        print(json.dumps(check(cfg)))
        return 0
    try:
        run_dir = dpo(cfg)
    except Cancelled:
        raise KeyboardInterrupt from None
    except FtCoreError:
        raise
    status = runfolder.read_status(run_dir)
    print(
        f"finished: {run_dir} (step {status.step}, best eval loss {status.best_eval_loss}, final train loss "
        f"{status.final_train_loss})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
