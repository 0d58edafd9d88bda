"""Training throughput: a plain `transformers.Trainer` + `peft` baseline against `ft_core.train`, side by side.

Both train the same random-weight model (a real architecture's config) with the same LoRA settings on the same
SciTLDR-A examples for exactly one epoch, so both see the same target tokens. The baseline keeps Trainer's
defaults and pads every example to max length (what the report's setup did); ft_core uses its best settings:
length-grouped batches padded to their longest example, bf16 autocast and fused AdamW on a GPU, SDPA attention.
Prints target tokens per second of each, the ratio, the loss of each, and on a GPU the MFU.

MFU counts LoRA's useful work as 4 x parameters per token (forward 2N, backward through activations 2N; frozen
weights get no weight gradient, so not the usual 6N) plus attention (12 x layers x hidden x sequence per token
for forward+backward, the PaLM appendix B count scaled from 6N to 4N accounting), over the GPU's dense bf16 peak.

    python bench/train_throughput.py --arch tiny --examples 64          # CPU, minutes
    python bench/train_throughput.py --arch smollm2-135m --examples 2048 # one H100
    python bench/train_throughput.py --arch qwen2-0.5b --examples 2048   # one H100
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from architectures import ARCHS, build_model_folder  # noqa: E402

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


def run_baseline(cfg, model_dir: str, out_dir: Path) -> dict:
    """Trainer + peft with default settings, every example padded to max length."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from ft_core.data import encode_example, load_examples
    from ft_core.models import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    examples = load_examples(cfg.train_file, cfg, limit=cfg.max_train_examples)
    encoded = [encode_example(tokenizer, cfg, e) for e in examples]
    width = max(len(e["input_ids"]) for e in encoded)  # = max length the limits allow for this data

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

    model = AutoModelForCausalLM.from_pretrained(model_dir)
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
    args = TrainingArguments(
        output_dir=str(out_dir),
        per_device_train_batch_size=cfg.batch_size,
        num_train_epochs=1,
        learning_rate=cfg.learning_rate,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=cfg.seed,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=Padded())
    result = trainer.train()
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    target_tokens = sum(sum(1 for t in e["labels"] if t != -100) for e in encoded)
    tokens = sum(len(e["input_ids"]) for e in encoded)
    return {
        "seconds": result.metrics["train_runtime"],
        "target_tokens": target_tokens,
        "tokens": tokens,
        "losses": losses,
        "padded_width": width,
    }


def run_ft_core(cfg, model_dir: str) -> dict:
    from ft_core import runfolder
    from ft_core.train import train

    run_dir = train(cfg, progress=False)
    status = runfolder.read_status(run_dir)
    losses = [r["loss"] for r in runfolder.read_log_rows(run_dir) if "loss" in r]
    truncation = runfolder.read_truncation(run_dir)
    return {
        "seconds": status["finished_at"] - status["started_at"],
        "losses": losses,
        "examples": truncation["examples"],
    }


def mfu(arch: str, model_dir: str, tokens_per_s: float, mean_seq: float) -> float | None:
    import torch
    from transformers import AutoConfig

    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    if peak is None:
        return None
    config = AutoConfig.from_pretrained(model_dir)
    from transformers import AutoModelForCausalLM

    n_params = sum(p.numel() for p in AutoModelForCausalLM.from_config(config).parameters())
    attention = (
        8 * config.num_hidden_layers * config.hidden_size * mean_seq
    )  # 4N-style count: fwd 4, bwd(act) 4
    flops_per_token = 4 * n_params + attention
    return tokens_per_s * flops_per_token / (peak * 1e12)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", choices=sorted(ARCHS), default="tiny")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-source-length", type=int, default=512)
    parser.add_argument("--max-target-length", type=int, default=64)
    parser.add_argument(
        "--compile", action="store_true", help="also time ft_core with torch.compile (a third row)"
    )
    parser.add_argument(
        "--data",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "scitldr-a" / "train.jsonl"),
    )
    args = parser.parse_args()

    import torch

    from ft_core.config import TrainConfig

    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        model_dir = str(build_model_folder(args.arch, work / "model"))
        common = dict(
            base_model=model_dir,
            train_file=args.data,
            validation_file=None,
            max_train_examples=args.examples,
            batch_size=args.batch_size,
            epochs=1.0,
            max_source_length=args.max_source_length,
            max_target_length=args.max_target_length,
            lora_r=16,
            lora_alpha=32,
            lora_dropout=0.0,
            learning_rate=2e-4,
            log_every_steps=1,
            eval_every_steps=10**6,
            warmup_ratio=0.0,
            lr_scheduler="linear",
        )
        baseline = run_baseline(
            TrainConfig(**common, run_dir=str(work / "unused")), model_dir, work / "trainer"
        )
        ours = run_ft_core(
            TrainConfig(
                **common,
                run_dir=str(work / "ft_core"),
                group_by_length=True,
                precision="auto",
                attn_implementation="sdpa",
                fused_optimizer=True,
            ),
            model_dir,
        )
        compiled = None
        if args.compile:
            compiled = run_ft_core(
                TrainConfig(
                    **common, run_dir=str(work / "ft_core_compiled"), group_by_length=True, torch_compile=True
                ),
                model_dir,
            )
        tokens = baseline["target_tokens"]
        base_tps, ours_tps = tokens / baseline["seconds"], tokens / ours["seconds"]
        device = (
            torch.cuda.get_device_name()
            if torch.cuda.is_available()
            else f"CPU ({torch.get_num_threads()} threads)"
        )
        print(
            f"device: {device}; arch {args.arch}; {args.examples} examples x 1 epoch, batch {args.batch_size}; "
            f"{tokens} target tokens; baseline pads to {baseline['padded_width']} tokens"
        )
        print(
            f"{'system':<26}{'seconds':>10}{'target tok/s':>15}{'first loss':>12}{'last loss':>11}{'mean loss':>11}"
        )
        rows = [("Trainer+peft (baseline)", baseline, base_tps), ("ft_core", ours, ours_tps)]
        if compiled is not None:
            rows.append(("ft_core + torch.compile", compiled, tokens / compiled["seconds"]))
        for name, r, tps in rows:
            mean = sum(r["losses"]) / len(r["losses"])
            print(
                f"{name:<26}{r['seconds']:>10.2f}{tps:>15.1f}{r['losses'][0]:>12.4f}{r['losses'][-1]:>11.4f}{mean:>11.4f}"
            )
        print(f"speed-up ft_core / baseline: {ours_tps / base_tps:.2f}x")
        if compiled is not None:
            ratio = tokens / compiled["seconds"] / base_tps
            print(f"speed-up ft_core + torch.compile / baseline (compile time included): {ratio:.2f}x")
        mean_seq = baseline["tokens"] / args.examples
        value = mfu(args.arch, model_dir, baseline["tokens"] / ours["seconds"], mean_seq=mean_seq)
        if value is not None:
            print(f"ft_core MFU (4N + attention per target token, bf16 dense peak): {100 * value:.1f}%")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
