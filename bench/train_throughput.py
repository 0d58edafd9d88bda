"""Training throughput: a plain `transformers.Trainer` + `peft` baseline against `ft_core.train`, like with
like.

Each system runs in a process of its own, started by this script (`--system ...`): accelerate keeps one
process-wide state, so a Trainer's `mixed_precision="no"` would make ft_core's bf16 `Accelerator` raise
"AcceleratorState has already been initialized", and separate processes also keep memory and timings apart.

Both sides train the same random-weight model (a real architecture's config; `architectures.py`) with the same
LoRA settings on the same SciTLDR-A examples for one epoch, in micro-batches of the same size, hence the same
number of optimizer steps, and
- in the same precision: bf16 on a GPU that has it (fp16 on older ones), the base loaded in that dtype and
  autocast on both sides, TF32 on for what stays fp32; fp32 on a CPU (`--precision` forces one for both);
- on one device: the children see one GPU (CUDA_VISIBLE_DEVICES), so Trainer does not wrap DataParallel;
- timed over the same steps: from the end of warm-up step W to the end of the last step, the device
  synchronized at both ends; model loading, CUDA warm-up, compilation and the final saves fall outside. Both
  log (and so read the loss from the device) every W steps.
What differs is what ft_core is for: the baseline keeps Trainer's defaults and pads every example to max
length (what the report's setup did); ft_core groups batches by length and pads each to its longest example.

Prints each side's precision, batch size, steps timed, tokens, target tokens and seconds, target tokens per
second and their ratio, the losses (the same examples: equal loss expected), and MFU over all real
(non-padding) tokens (`mfu.py`: the formula and its sources, the peak table; "n/a" with the reason on a CPU or
an unknown GPU).

A second comparison at a large batch (`--large-batch`, default 64 on a GPU) measures where the GPU's
arithmetic, not kernel launches and host overhead, is the limit: at batch 8 a small model's steps are too
short for that. Without a GPU it is skipped with a line saying so (a CPU is compute-bound at any batch), as
it is when the examples make too few large batches to time; an explicit `--large-batch N` runs it on any
device (the tests do, with a tiny N).

    python bench/train_throughput.py --arch tiny --examples 64          # CPU, minutes
    python bench/train_throughput.py --arch smollm2-135m --examples 2048 # one H100/H200
    python bench/train_throughput.py --arch qwen2-0.5b --examples 2048   # one H100/H200
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from architectures import ARCHS, build_model_folder  # noqa: E402
from mfu import lora_flops_per_token, mfu, peak_for  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scitldr-a" / "train.jsonl"
SYSTEMS = {
    "baseline": "Trainer+peft (baseline)",
    "ft_core": "ft_core",
    "ft_core_compile": "ft_core + torch.compile",
}


# --------------------------------------------------------------------------------------------- one system
def train_config(args: argparse.Namespace, run_dir: Path, **extra: Any) -> Any:
    from ft_core.config import TrainConfig

    return TrainConfig(
        base_model=args.model_dir,
        train_file=args.data,
        validation_file=None,
        run_dir=str(run_dir),
        max_train_examples=args.examples,
        batch_size=args.batch_size,
        epochs=1.0,
        max_source_length=args.max_source_length,
        max_target_length=args.max_target_length,
        lora_r=16,
        lora_alpha=32,
        lora_dropout=0.0,
        learning_rate=2e-4,
        log_every_steps=args.warmup_steps,
        eval_every_steps=10**6,
        warmup_ratio=0.0,
        lr_scheduler="linear",
        precision=args.precision,
        seed=0,
        **extra,
    )


def use_tf32() -> None:
    """TF32 for the matmuls that stay fp32 (both sides alike; a no-op on a CPU)."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


def run_baseline(args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """Trainer + peft with default settings, every example padded to max length, timed by a callback."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, Trainer, TrainerCallback, TrainingArguments

    from ft_core.data import encode_example, load_examples
    from ft_core.models import load_tokenizer, resolve_placement

    cfg = train_config(args, out_dir / "unused")
    placement = resolve_placement(args.precision)
    tokenizer = load_tokenizer(args.model_dir)
    examples = load_examples(cfg.train_file, cfg, limit=cfg.max_train_examples)
    encoded = [encode_example(tokenizer, cfg, e) for e in examples]
    width = max(len(e["input_ids"]) for e in encoded)  # = max length the limits allow for this data
    batch_tokens: list[tuple[int, int]] = []  # (real tokens, target tokens) of each collated batch, in order

    class Padded(torch.utils.data.Dataset):
        def __len__(self):
            return len(encoded)

        def __getitem__(self, i):
            e = encoded[i]
            pad = width - len(e["input_ids"])
            return {
                "input_ids": torch.tensor(e["input_ids"] + [tokenizer.pad_token_id] * pad),
                "attention_mask": torch.tensor([1] * len(e["input_ids"]) + [0] * pad),
                "labels": torch.tensor(e["labels"] + [-100] * pad),
            }

    def collate(items):
        batch = {k: torch.stack([item[k] for item in items]) for k in items[0]}
        batch_tokens.append((int(batch["attention_mask"].sum()), int((batch["labels"] != -100).sum())))
        return batch

    class StepClock(TrainerCallback):
        """The time at the end of the warm-up's last step and of the last step, the device synchronized."""

        def __init__(self) -> None:
            self.marks: dict[int, float] = {}

        def on_step_end(self, targs, state, control, **kwargs):
            if state.global_step in (args.warmup_steps, state.max_steps):
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                self.marks[state.global_step] = time.perf_counter()

    use_tf32()
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=placement.dtype)
    model = get_peft_model(
        model,
        LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=cfg.target_modules,
            task_type="CAUSAL_LM",
        ),
    )
    targs = TrainingArguments(
        output_dir=str(out_dir),
        per_device_train_batch_size=cfg.batch_size,
        num_train_epochs=1,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="linear",
        logging_steps=args.warmup_steps,
        save_strategy="no",
        report_to=[],
        seed=cfg.seed,
        disable_tqdm=True,
        bf16=args.precision == "bf16",
        fp16=args.precision == "fp16",
        use_cpu=not torch.cuda.is_available(),  # Trainer asks for it before it autocasts bf16 on a CPU
    )
    clock = StepClock()
    trainer = Trainer(
        model=model, args=targs, train_dataset=Padded(), data_collator=collate, callbacks=[clock]
    )
    trainer.train()
    steps = trainer.state.global_step
    timed = batch_tokens[args.warmup_steps : steps]
    return {
        "precision": args.precision,
        "batch_size": cfg.batch_size,
        "steps": steps,
        "steps_timed": steps - args.warmup_steps,
        "seconds": clock.marks[steps] - clock.marks[args.warmup_steps],
        "tokens": sum(t for t, _ in timed),
        "target_tokens": sum(t for _, t in timed),
        "losses": [r["loss"] for r in trainer.state.log_history if "loss" in r],
        "padded_width": width,
        "lengths": [len(e["input_ids"]) for e in encoded],
        "optimizer": str(targs.optim.value if hasattr(targs.optim, "value") else targs.optim),
        "mixed_precision": trainer.accelerator.mixed_precision,
    }


def run_ft_core(args: argparse.Namespace, run_dir: Path, compile_: bool = False) -> dict[str, Any]:
    """ft_core.train with its best settings; timed from its train_log rows (one every W steps, each written
    after reading the loss from the device, i.e. after the step's work is done)."""
    from ft_core import runfolder
    from ft_core.train import train

    use_tf32()
    cfg = train_config(
        args,
        run_dir,
        group_by_length=True,
        attn_implementation="sdpa",
        fused_optimizer=True,
        torch_compile=compile_,
    )
    train(cfg, progress=False)
    status = runfolder.read_status(run_dir)
    rows = [r for r in runfolder.read_log_rows(run_dir) if "loss" in r]
    first = next(i for i, r in enumerate(rows) if r["step"] == args.warmup_steps)
    timed = rows[first + 1 :]
    return {
        "precision": args.precision,
        "batch_size": cfg.batch_size,
        "steps": rows[-1]["step"],
        "steps_timed": rows[-1]["step"] - args.warmup_steps,
        "seconds": rows[-1]["time"] - rows[first]["time"],
        "tokens": sum(r["tokens"] for r in timed),
        "target_tokens": sum(r["target_tokens"] for r in timed),
        "losses": [r["loss"] for r in rows],
        "mixed_precision": status.mixed_precision,
    }


def run_one(args: argparse.Namespace) -> None:
    """A child: train one system, write its figures to --result."""
    work = Path(args.work)
    if args.system == "baseline":
        result = run_baseline(args, work / "trainer")
    else:
        result = run_ft_core(args, work / args.system, compile_=args.system == "ft_core_compile")
    Path(args.result).write_text(json.dumps(result))


# --------------------------------------------------------------------------------------------- the comparison
def one_device_env() -> dict[str, str]:
    """The children's environment: at most one GPU visible (the first of ours)."""
    env = dict(os.environ)
    visible = env.get("CUDA_VISIBLE_DEVICES")
    env["CUDA_VISIBLE_DEVICES"] = visible.split(",")[0].strip() if visible else "0"
    return env


def model_shape(model_dir: str, target_modules: list[str], lora_r: int) -> dict[str, int]:
    """Frozen and LoRA matmul weights, layers and hidden size, from the config (a meta-device model: no
    memory)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    frozen = trainable = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            frozen += module.weight.numel()
            if name.split(".")[-1] in target_modules:
                trainable += lora_r * (module.in_features + module.out_features)
    return {
        "frozen": frozen,
        "trainable": trainable,
        "layers": config.num_hidden_layers,
        "hidden": config.hidden_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", choices=sorted(ARCHS), default="tiny")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-source-length", type=int, default=512)
    parser.add_argument("--max-target-length", type=int, default=64)
    parser.add_argument(
        "--warmup-steps",
        type=int,
        default=None,
        help="steps before the clock starts (default: a tenth, >= 2)",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp16", "fp32"),
        default="auto",
        help="both sides; auto = bf16 on a GPU that has it, fp16 on older GPUs, fp32 on a CPU",
    )
    parser.add_argument(
        "--compile", action="store_true", help="also time ft_core with torch.compile (a third row)"
    )
    parser.add_argument(
        "--large-batch",
        default="auto",
        help="batch size of a second comparison where the GPU, not kernel launches, is the limit: auto = 64 "
        "on a GPU, skipped on a CPU; 0 = off; a number runs it on any device",
    )
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--system", choices=sorted(SYSTEMS), help=argparse.SUPPRESS)  # a child process
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.system:
        run_one(args)
        return

    import math

    import torch

    from ft_core.models import resolve_placement

    precision = resolve_placement(args.precision).precision
    steps = math.ceil(args.examples / args.batch_size)
    warmup = args.warmup_steps if args.warmup_steps is not None else max(2, steps // 10)
    if not 0 < warmup < steps:
        parser.error(f"--warmup-steps must be between 1 and {steps - 1} ({steps} steps in all)")
    try:
        large, large_skipped = large_batch(args.large_batch, torch.cuda.is_available())
    except ValueError:
        parser.error(f"--large-batch must be auto or a whole number, got {args.large_batch!r}")
    large_warmup = 0
    if large:
        large_steps = math.ceil(args.examples / large)
        large_warmup = args.warmup_steps if args.warmup_steps is not None else max(1, large_steps // 10)
        if not 0 < large_warmup < large_steps:
            why = (
                f"{args.examples} examples make {large_steps} steps of {large}, too few to time after a "
                f"{large_warmup}-step warm-up; give more --examples"
            )
            if args.large_batch != "auto":
                parser.error(f"--large-batch {large}: {why}")
            large, large_skipped = 0, why
    env = one_device_env()
    device = (
        f"{torch.cuda.get_device_name(0)} (one device: CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']})"
        if torch.cuda.is_available()
        else f"CPU ({torch.get_num_threads()} threads)"
    )
    gpu_name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        model_dir = str(build_model_folder(args.arch, work / "model"))
        systems = ["baseline", "ft_core"] + (["ft_core_compile"] if args.compile else [])
        results = run_systems(args, systems, work, model_dir, env, precision, args.batch_size, warmup)
        figures = report(args, results, device, gpu_name, model_dir, warmup)
        if large:
            print(f"\nat a large batch ({large}), where the GPU's arithmetic is the limit:")
            large_results = run_systems(
                args, systems, work / "large", model_dir, env, precision, large, large_warmup
            )
            figures["large_batch"] = report(args, large_results, device, gpu_name, model_dir, large_warmup)
        elif large_skipped:
            print(f"\nlarge batch: skipped ({large_skipped})")
        print(json.dumps(figures))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def large_batch(value: str, on_gpu: bool) -> tuple[int, str]:
    """(the large batch size, 0 when none; why it is skipped, "" when it is not)."""
    if value == "auto":
        if on_gpu:
            return 64, ""
        return 0, "no GPU: a CPU is compute-bound at any batch size; --large-batch N runs it anyway"
    size = int(value)
    return (size, "") if size > 0 else (0, "")


def run_systems(
    args: argparse.Namespace,
    systems: list[str],
    work: Path,
    model_dir: str,
    env: dict[str, str],
    precision: str,
    batch_size: int,
    warmup: int,
) -> dict[str, dict[str, Any]]:
    """Each system trained in a process of its own at `batch_size`; their figures."""
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    for system in systems:
        result_path = work / f"{system}.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--system", system]
        command += ["--model-dir", model_dir, "--work", str(work), "--result", str(result_path)]
        command += ["--examples", str(args.examples), "--batch-size", str(batch_size)]
        command += ["--max-source-length", str(args.max_source_length)]
        command += ["--max-target-length", str(args.max_target_length)]
        command += ["--warmup-steps", str(warmup), "--precision", precision, "--data", args.data]
        proc = subprocess.run(command, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{SYSTEMS[system]} at batch {batch_size} failed:\n{proc.stderr[-4000:]}")
        results[system] = json.loads(result_path.read_text())
    return results


def report(
    args: argparse.Namespace,
    results: dict[str, dict[str, Any]],
    device: str,
    gpu_name: str | None,
    model_dir: str,
    warmup: int,
) -> dict[str, Any]:
    """Prints the comparison of one batch size; returns its figures (the last line's JSON)."""
    from ft_core.config import TrainConfig

    base = results["baseline"]
    print(
        f"device: {device}; arch {args.arch}; {args.examples} examples x 1 epoch = {base['steps']} steps; "
        f"timed: steps {warmup + 1}-{base['steps']} after a {warmup}-step warm-up; baseline pads to "
        f"{base['padded_width']} tokens; baseline optimizer {base['optimizer']}"
    )
    header = (
        f"{'system':<26}{'precision':>10}{'batch':>6}{'steps':>7}{'tokens':>9}{'target tok':>11}"
        f"{'seconds':>9}{'target tok/s':>13}{'mean loss':>10}{'last loss':>10}"
    )
    print(header)
    rate = {name: r["target_tokens"] / r["seconds"] for name, r in results.items()}
    for name, r in results.items():
        mean = sum(r["losses"]) / len(r["losses"])
        print(
            f"{SYSTEMS[name]:<26}{r['precision'] + ' (' + str(r['mixed_precision']) + ')':>10}"
            f"{r['batch_size']:>6}"
            f"{r['steps_timed']:>7}{r['tokens']:>9}{r['target_tokens']:>11}{r['seconds']:>9.2f}"
            f"{rate[name]:>13.1f}{mean:>10.4f}{r['losses'][-1]:>10.4f}"
        )
    print(
        "speed-up ft_core / baseline (target tokens per second over the same steps): "
        f"{rate['ft_core'] / rate['baseline']:.2f}x"
    )
    if "ft_core_compile" in results:
        print(
            f"speed-up ft_core + torch.compile / baseline: {rate['ft_core_compile'] / rate['baseline']:.2f}x"
        )

    lengths = base["lengths"]
    mean_length = sum(lengths) / len(lengths)
    mean_square = sum(t * t for t in lengths) / len(lengths)
    defaults = TrainConfig()
    shape = model_shape(model_dir, defaults.target_modules, 16)
    per_token = lora_flops_per_token(
        shape["frozen"], shape["trainable"], shape["layers"], shape["hidden"], mean_length, mean_square
    )
    peak = peak_for(gpu_name, base["precision"])
    figures = {name: mfu(r["tokens"] / r["seconds"], per_token, peak) for name, r in results.items()}
    label = (
        f"MFU over all real (non-padding) tokens, {per_token / 1e6:.1f} MFLOPs per token "
        f"(4 x {shape['frozen']:,} frozen + 6 x {shape['trainable']:,} LoRA + causal attention at "
        f"E[T^2]/E[T] = {mean_square / mean_length:.0f}; bench/mfu.py)"
    )
    if peak.tflops is None:
        print(f"{label}: n/a ({peak.reason})")
    else:
        shares = ", ".join(f"{SYSTEMS[n]} {100 * v:.1f}%" for n, v in figures.items() if v is not None)
        print(f"{label}, over the {peak.reason}: {shares}")
    return {
        "arch": args.arch,
        "device": device,
        "precision": base["precision"],
        "batch_size": base["batch_size"],
        "ratio": rate["ft_core"] / rate["baseline"],
        "target_tokens_per_s": rate,
        "mfu": figures,
        "mfu_reason": peak.reason,
    }


if __name__ == "__main__":
    main()
