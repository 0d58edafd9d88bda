"""Likelihood score speed: ft_core's batched scoring against a per-example loop, side by side, same numbers.

Both compute the log-probability of every output token given its source with the same model (the embedded
SmolLM2-135M by default), the same prompt and the same source cut. The loop runs one forward pass per example
over the whole sequence (`likelihood.token_logprobs_plain`, what a plain script does); ft_core
(`likelihood.token_logprobs`) batches by length and reads each distinct source once for all of its outputs.
Two workloads:

- `summeval`: SummEval articles with their 16 system summaries each (the correlation study of
  bench/summeval.py);
- `pairs`: SciTLDR-A test abstracts with two outputs each (a base and a fine-tuned system: the smallest run
  folder), the first sentence and the TLDR.

The loop runs on the first `--loop-examples` examples only (its examples/s is a rate, so it compares); every
round alternates the two sides and the medians are reported. The script checks that both give the same
log-probabilities (within 1e-3 nats; float32 sums differ in the last bits) and prints examples/s and the
ratio. The device is the GPU when there is one (bf16 there), else the CPU (float32).

    python bench/likelihood_speed.py                                    # 2-core CPU: a few minutes
    python bench/likelihood_speed.py --articles 100 --loop-examples 256 # one GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def summeval(articles: int) -> tuple[list[str], list[str]]:
    documents = {
        d["doc_id"]: d["source"]
        for d in map(json.loads, (SHARED / "summeval" / "documents.jsonl").read_text().splitlines())
    }
    keep = list(documents)[:articles]
    rows = [json.loads(line) for line in (SHARED / "summeval" / "summaries.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["doc_id"] in keep]
    return [documents[r["doc_id"]] for r in rows], [r["summary"] for r in rows]


def pairs(n: int) -> tuple[list[str], list[str]]:
    lines = (SHARED / "scitldr-a" / "test.jsonl").read_text().splitlines()[:n]
    sources, outputs = [], []
    for row in map(json.loads, lines):
        source = " ".join(row["source"])
        sources += [source, source]
        outputs += [row["source"][0], row["target"][0]]
    return sources, outputs


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp16", "fp32"))
    parser.add_argument("--articles", type=int, default=3, help="SummEval articles (16 summaries each)")
    parser.add_argument("--abstracts", type=int, default=24, help="SciTLDR-A abstracts (2 outputs each)")
    parser.add_argument("--loop-examples", type=int, default=12, help="examples the per-example loop times")
    parser.add_argument("--max-source-tokens", type=int, default=1024)
    parser.add_argument("--batch-tokens", type=int, default=16384)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from ft_core.metrics import likelihood

    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = likelihood.load_scorer_model(args.model, args.device, args.precision)
    device = loaded.device
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else f"{platform.machine()} CPU"
    dtype = str(next(loaded.model.parameters()).dtype).replace("torch.", "")
    print(
        f"device: {name} ({dtype}), torch threads {torch.get_num_threads()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}; model {args.model}; prompt {likelihood.DEFAULT_PROMPT!r}"
    )
    workloads = {"summeval (16 outputs per article)": summeval(args.articles)}
    workloads["pairs (2 outputs per abstract)"] = pairs(args.abstracts)
    for label, (sources, outputs) in workloads.items():
        encoded = likelihood.encode(
            loaded.tokenizer, sources, outputs, likelihood.DEFAULT_PROMPT, args.max_source_tokens
        )
        subset = encoded[: args.loop_examples]
        loop_times, batch_times = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            plain = likelihood.token_logprobs_plain(loaded, subset)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            loop_times.append((time.perf_counter() - started) / len(subset))
            started = time.perf_counter()
            batched = likelihood.token_logprobs(loaded, encoded, args.batch_tokens)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            batch_times.append((time.perf_counter() - started) / len(encoded))
        worst = max(float(np.abs(a - b).max()) for a, b in zip(plain, batched))
        if worst > 1e-3 and not device.startswith("cuda"):
            raise SystemExit(
                f"{label}: log-probabilities differ by {worst:.2e} nats between loop and batches"
            )
        tokens = np.mean([len(e.context) + len(e.continuation) for e in encoded])
        loop, batch = 1 / median(loop_times), 1 / median(batch_times)
        print(
            f"{label}: {len(encoded)} examples, {tokens:.0f} tokens each on average; per-example loop "
            f"({len(subset)} examples) {loop:.2f} examples/s; batched {batch:.2f} examples/s; "
            f"ratio {batch / loop:.1f}x (max |difference| {worst:.1e} nats)"
        )


if __name__ == "__main__":
    main()
