"""Generation throughput: a per-example `model.generate` loop against ft_core's batched generation, side by
side.

Both generate greedily, with the same model, the same prompts (SciTLDR-A test abstracts in the training prompt
and chat template) and the same GenerationConfig. The loop is what the report's setup did: one prompt at a
time. ft_core sorts prompts by length, left-pads batches of `--batch-size` and writes results back in input
order. Prints generated tokens per second of each and the ratio. Random weights from the real architecture's
config: speed is honest, and no download is needed; with random weights outputs rarely stop early, so both
sides generate about `--max-new-tokens` per prompt.

    python bench/generate_throughput.py --arch tiny --prompts 256 --max-new-tokens 32              # CPU
    python bench/generate_throughput.py --arch smollm2-135m --prompts 512 --batch-size 128         # one H100

Both sides run `--rounds` times, alternating, and each reports its median round. `--loop-prompts K` times the
loop on the first K prompts only (its tokens/s is a rate, so it compares), which keeps the CPU run short; the
batched side always runs every prompt.

It also times batched generation as each system of `python -m ft_core generate` runs it, with a random LoRA
adapter (q/k/v/o, r=16): `base` (the plain model), `finetuned` (the adapter merged into a second copy's
weights, peft's wrappers removed: `ft_core.generate.merge_adapter`), and, for reference, a peft model with the
adapter unmerged (what generation did before: on a bf16 base peft keeps the adapter in fp32 and runs it as
extra matmuls behind a wrapper per adapted layer). It prints the time per generated token of each and
fine-tuned / base (goal: within 10%). The rounds alternate these too. The per-example loop runs the plain base
model.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from architectures import ARCHS, build_adapter_folder, build_model_folder  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scitldr-a" / "test.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", choices=sorted(ARCHS), default="tiny")
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--loop-prompts", type=int, default=None, help="time the loop on the first K prompts")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--max-source-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp16", "fp32"))
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default 1 on CPU: on a shared machine more threads make timings erratic)",
    )
    args = parser.parse_args()

    import torch
    from transformers import GenerationConfig

    from ft_core.config import DataConfig
    from ft_core.data import load_examples
    from ft_core.decoding import Decoding
    from ft_core.generate import build_prompts, generate_texts, load_for_generation, merge_adapter
    from ft_core.models import embedded_tokenizer, resolve_device

    device = resolve_device(args.device)
    if args.threads or not device.startswith("cuda"):
        torch.set_num_threads(args.threads or 1)
    tokenizer = embedded_tokenizer()
    work = Path(tempfile.mkdtemp(prefix="gen-bench-"))
    folder = build_model_folder(args.arch, work / "model", tokenizer)
    adapter = build_adapter_folder(folder, work / "adapter")
    model, tokenizer = load_for_generation(str(folder), "causal", None, args.precision, device, "sdpa")
    finetuned, _ = load_for_generation(str(folder), "causal", None, args.precision, device, "sdpa")
    finetuned = merge_adapter(finetuned, adapter)
    unmerged, _ = load_for_generation(str(folder), "causal", adapter, args.precision, device, "sdpa")
    models = {"base": model, "finetuned": finetuned, "unmerged": unmerged}
    data = DataConfig(max_source_length=args.max_source_length)
    examples = load_examples(str(DATA), data)
    examples = (examples * (args.prompts // len(examples) + 1))[: args.prompts]
    prompts = build_prompts(tokenizer, data, examples, "causal")
    decoding = Decoding(max_new_tokens=args.max_new_tokens)
    config = GenerationConfig(
        **decoding.generation_kwargs(),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def run_loop(batch: list[str]) -> tuple[int, float]:
        sync()
        started, tokens = time.perf_counter(), 0
        with torch.inference_mode():
            for prompt in batch:
                inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(device)
                out = model.generate(**inputs, generation_config=config)
                new = out[0, inputs["input_ids"].shape[1] :].tolist()
                tokens += next((j for j, t in enumerate(new) if t == tokenizer.eos_token_id), len(new))
        sync()
        return tokens, time.perf_counter() - started

    def run_batched(batch: list[str], system: str = "base") -> tuple[int, float]:
        sync()
        started = time.perf_counter()
        results = generate_texts(models[system], tokenizer, batch, decoding, batch_size=args.batch_size)
        sync()
        return sum(r.new_tokens for r in results), time.perf_counter() - started

    def median(runs: list[tuple[int, float]]) -> tuple[int, float]:
        return sorted(runs, key=lambda r: r[0] / r[1])[len(runs) // 2]

    # Warm-up both paths (kernels, allocator), then alternate them so that load from other processes on a
    # shared machine hits both alike; each side's figure is its median over the rounds.
    systems = ("base", "finetuned", "unmerged")
    run_loop(prompts[:2])
    for system in systems:
        run_batched(prompts[:4], system)
    loop_prompts = prompts[: args.loop_prompts or len(prompts)]
    loop_runs: list[tuple[int, float]] = []
    system_runs: dict[str, list[tuple[int, float]]] = {s: [] for s in systems}
    for _ in range(args.rounds):
        loop_runs.append(run_loop(loop_prompts))
        for system in systems:
            system_runs[system].append(run_batched(prompts, system))
    loop_tokens, loop_s = median(loop_runs)
    batched_tokens, batched_s = median(system_runs["base"])
    per_token = {s: median(runs)[1] / median(runs)[0] for s, runs in system_runs.items()}

    loop_rate, batched_rate = loop_tokens / loop_s, batched_tokens / batched_s
    machine = (
        torch.cuda.get_device_name(0)
        if device.startswith("cuda")
        else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    )
    prompt_tokens = sum(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts) / len(
        prompts
    )
    print(
        f"machine: {machine}; arch {args.arch} (random weights), {len(prompts)} prompts of "
        f"{prompt_tokens:.0f} tokens on average, greedy, max_new_tokens={args.max_new_tokens}"
    )
    print(
        f"per-example model.generate loop: {loop_tokens} tokens from {len(loop_prompts)} prompts in "
        f"{loop_s:.1f} s = {loop_rate:.0f} tokens/s"
    )
    print(
        f"ft_core batched (batch_size={args.batch_size}): {batched_tokens} tokens from {len(prompts)} "
        "prompts "
        f"in {batched_s:.1f} s = {batched_rate:.0f} tokens/s"
    )
    print(f"ratio: {batched_rate / loop_rate:.1f}x (medians of {args.rounds} alternating rounds)")
    finetuned_vs_base = per_token["finetuned"] / per_token["base"]
    print(
        f"time per generated token, batched, {model.dtype}: base {1e3 * per_token['base']:.2f} ms, "
        f"fine-tuned (adapter merged) {1e3 * per_token['finetuned']:.2f} ms, "
        f"fine-tuned with the adapter unmerged (before) {1e3 * per_token['unmerged']:.2f} ms"
    )
    print(
        f"fine-tuned / base: {finetuned_vs_base:.2f} "
        f"({'within' if finetuned_vs_base <= 1.10 else 'NOT within'} the 10% goal); unmerged / base: "
        f"{per_token['unmerged'] / per_token['base']:.2f}"
    )
    print(
        json.dumps(
            {
                "arch": args.arch,
                "device": machine,
                "prompts": len(prompts),
                "loop_tokens_per_s": loop_rate,
                "batched_tokens_per_s": batched_rate,
                "ratio": batched_rate / loop_rate,
                "seconds_per_token": per_token,
                "finetuned_vs_base": finetuned_vs_base,
            }
        )
    )


if __name__ == "__main__":
    main()
