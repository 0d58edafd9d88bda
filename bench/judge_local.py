"""Local judge speed: ft_core's batched judging (length-sorted batches, left padding, only the last position's
logits) against a one-prompt-at-a-time loop, side by side, same probabilities.

Three sides read the same prompts (a pair in both orders, the default MT-bench-style prompt, SciTLDR-A test
abstracts cut to `--max-source-tokens` with two short outputs each) with the same small random Llama built
from config (SmolLM2's real tokenizer; `--hidden`, `--layers`: the default is about 15M parameters, 12.6M of
them the embedding): ft_core's batches (`LocalJudge.label_probabilities`), the same call one prompt at a time,
and a plain loop (one prompt per forward pass, every position's logits computed, the last one read). Rounds
alternate the sides and the medians are reported; the script checks that all give the same probabilities
(within 1e-5).

    python bench/judge_local.py                       # 2-core CPU: a few minutes
    python bench/judge_local.py --pairs 64 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def small_llama(folder: Path, hidden: int, layers: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from ft_core.models import embedded_tokenizer

    tokenizer = embedded_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=max(hidden // 64, 1),
        num_key_value_heads=max(hidden // 128, 1),
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def prompts(n_pairs: int, tokenizer, max_source_tokens: int) -> list[str]:
    """Both orders of each pair; the source cut to the judge's budget as a judging job cuts it."""
    from ft_core.data import truncate_source
    from ft_core.judge.config import DEFAULT_PROMPT, DEFAULT_QUESTION, fill_template

    lines = (SHARED / "scitldr-a" / "test.jsonl").read_text().splitlines()[:n_pairs]
    out = []
    for row in map(json.loads, lines):
        source = " ".join(row["source"]) if isinstance(row["source"], list) else row["source"]
        first = row["source"][0] if isinstance(row["source"], list) else source[:200]
        tldr = row["target"][0] if isinstance(row["target"], list) else row["target"]
        source = truncate_source(tokenizer, source, max_source_tokens)[0]
        out.append(fill_template(DEFAULT_PROMPT, DEFAULT_QUESTION, source, first, tldr))
        out.append(fill_template(DEFAULT_PROMPT, DEFAULT_QUESTION, source, tldr, first))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=16, help="pairs (each judged in both orders)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-source-tokens", type=int, default=256)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default); 1 on a busy machine"
    )
    args = parser.parse_args()

    import numpy as np
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from ft_core import models
    from ft_core.judge.config import JudgeConfig
    from ft_core.judge.local import LocalJudge

    with tempfile.TemporaryDirectory() as tmp:
        folder = small_llama(Path(tmp) / "model", args.hidden, args.layers)
        tokenizer = models.load_tokenizer(str(folder))
        model = models.load_model(str(folder), "causal", dtype=torch.float32)
    n_params = sum(p.numel() for p in model.parameters())
    cfg = JudgeConfig(run_dir="unused", model="unused", batch_size=args.batch_size)
    judge = LocalJudge(cfg, model, tokenizer)
    texts = [judge.full_prompt(p) for p in prompts(args.pairs, tokenizer, args.max_source_tokens)]
    tokens = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)

    from ft_core.generate import length_sorted_batches

    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]

    def batched() -> list:
        out = [None] * len(texts)
        for batch in length_sorted_batches(lengths, args.batch_size):
            for index, probs in zip(batch, judge.label_probabilities([texts[i] for i in batch])):
                out[index] = probs
        return out

    def one_at_a_time() -> list:
        return [judge.label_probabilities([t])[0] for t in texts]

    def plain_loop() -> list:
        """What a plain script does: one prompt per forward pass, every position's logits, the last one
        read."""
        out = []
        for text in texts:
            inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
            with torch.inference_mode():
                logits = model(**inputs).logits[0, -1].float()
            labels = torch.softmax(torch.log_softmax(logits, -1)[judge.label_ids], -1)
            out.append(tuple(labels.tolist()))
        return out

    sides = {"batched": batched, "one at a time": one_at_a_time, "plain loop": plain_loop}
    batched()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpu_times: dict[str, list[float]] = {name: [] for name in sides}
    results = {}
    for _ in range(args.rounds):
        for name, fn in sides.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            results[name] = fn()
            times[name].append(time.perf_counter() - started)
            cpu_times[name].append(time.process_time() - cpu_started)
    reference = np.asarray(results["batched"])[:, :3]
    diff = max(float(np.abs(reference - np.asarray(results[n])[:, :3]).max()) for n in sides)
    assert diff < 1e-5, f"the sides' probabilities differ by {diff}"
    medians = {k: statistics.median(v) for k, v in times.items()}
    cpu = {k: statistics.median(v) for k, v in cpu_times.items()}
    print(
        f"local judge, random Llama {n_params / 1e6:.1f}M parameters ({args.layers} layers, hidden "
        f"{args.hidden}), "
        f"{torch.get_num_threads()} CPU threads, {platform.processor() or platform.machine()}; "
        f"{len(texts)} prompts ({args.pairs} pairs x 2 orders), {tokens:,} tokens; median of {args.rounds} "
        "rounds; "
        f"max |probability difference| {diff:.1e}"
    )
    labels = {
        "batched": f"ft_core, batches of {args.batch_size}, shared prefixes read once, last logits only",
        "one at a time": "one prompt per forward pass, last position's logits only",
        "plain loop": "one prompt per forward pass, every position's logits (a plain script)",
    }
    for name, seconds in medians.items():
        ratio = medians[name] / medians["batched"]
        print(
            f"  {name:<14} {seconds:8.2f}s  {len(texts) / seconds:8.1f} prompts/s  {ratio:5.1f}x the batched "
            f"time, {cpu[name] / cpu['batched']:5.1f}x its CPU time  ({labels[name]})"
        )
    print(
        f"speed-up of batched judging: {medians['plain loop'] / medians['batched']:.1f}x over the plain "
        "loop, "
        f"{medians['one at a time'] / medians['batched']:.1f}x over one at a time (CPU time: "
        f"{cpu['plain loop'] / cpu['batched']:.1f}x, {cpu['one at a time'] / cpu['batched']:.1f}x; on a busy "
        "machine the wall time of several threads mostly measures the others)"
    )


if __name__ == "__main__":
    main()
