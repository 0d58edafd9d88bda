"""ROUGE speed: `ft_core.metrics.score` against the plain `rouge_score` loop, side by side, same pairs, same
numbers.

10,000 (prediction, references) pairs built from SciTLDR-A (a sentence of one abstract plus a sentence of
another as the prediction, that paper's TLDRs as references, each text made unique so no text-level cache
helps). The plain loop is what most scripts do: one `RougeScorer(["rouge1", "rouge2", "rougeL",
"rougeLsum"])`, `score_multi(references, prediction)` per pair, sentences put on lines for rougeLsum the same
way. ft_core runs in one process and in `--jobs` processes. The script checks that every score is identical,
then prints pairs/s and the ratios.

Then the language-aware ROUGE (`language=--language`, default `pt`: the Unicode tokenizer and a Snowball
stemmer, as any language other than English gets) on the same pairs, in one process, beside today's fast
English ROUGE in one process, alternating `--rounds` times (medians): the issue asks for at most 1.5x its
time.

    python bench/metrics_speed.py --pairs 10000 --jobs 2
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scitldr-a" / "train.jsonl"
TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


def build_pairs(n: int) -> tuple[list[str], list[list[str]]]:
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    predictions, references = [], []
    for i in range(n):
        row, other = rows[i % len(rows)], rows[(i * 31 + 7) % len(rows)]
        first = row["source"][(i // len(rows)) % len(row["source"])]
        predictions.append(f"{first} {other['source'][0]} (pair {i})")
        references.append([f"{t} (pair {i})" for t in row["target"]])
    return predictions, references


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-stemmer", action="store_true")
    parser.add_argument("--language", default="pt", help="the language-aware ROUGE timed beside English")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    from rouge_score import rouge_scorer

    from ft_core import metrics
    from ft_core.metrics import tokenize
    from ft_core.metrics.rouge_fast import pair_scorer

    stem = not args.no_stemmer
    predictions, references = build_pairs(args.pairs)

    started = time.perf_counter()
    scorer = rouge_scorer.RougeScorer(TYPES, use_stemmer=stem)
    plain = []
    for prediction, refs in zip(predictions, references):
        best = scorer.score_multi(
            [metrics.split_sentences(r) for r in refs], metrics.split_sentences(prediction)
        )
        plain.append([best[t].fmeasure for t in TYPES])
    plain_s = time.perf_counter() - started
    plain = np.asarray(plain)

    timings = {}
    for jobs in sorted({1, args.jobs}):
        pair_scorer.cache_clear()  # no warm caches from an earlier run
        started = time.perf_counter()
        frame = metrics.score(predictions, references, ["rouge"], use_stemmer=stem, n_jobs=jobs)
        timings[jobs] = time.perf_counter() - started
        ours = frame[TYPES].to_numpy()
        if not np.array_equal(ours, plain):
            raise SystemExit(
                f"scores differ from rouge_score (n_jobs={jobs}): max |diff| {np.abs(ours - plain).max()}"
            )

    print(
        f"machine: {platform.machine()} CPU, {os.cpu_count()} cores (shared with other processes); "
        f"{args.pairs} pairs, rouge1/2/L/Lsum, use_stemmer={stem}; all scores identical to rouge_score"
    )
    print(f"plain rouge_score loop: {plain_s:.1f} s = {args.pairs / plain_s:.0f} pairs/s")
    for jobs, seconds in timings.items():
        print(
            f"ft_core.metrics.score (n_jobs={jobs}): {seconds:.1f} s = {args.pairs / seconds:.0f} pairs/s, "
            f"ratio {plain_s / seconds:.1f}x"
        )

    # Language-aware ROUGE beside English, one process each, alternating rounds, caches cleared every time.
    rounds: dict[str, list[float]] = {"en": [], args.language: []}
    for _ in range(args.rounds):
        for language in rounds:
            pair_scorer.cache_clear()
            started = time.perf_counter()
            metrics.score(predictions, references, ["rouge"], use_stemmer=stem, n_jobs=1, language=language)
            rounds[language].append(time.perf_counter() - started)
    english, other = float(np.median(rounds["en"])), float(np.median(rounds[args.language]))
    print(
        f"median of {args.rounds} alternating rounds, n_jobs=1: rouge (language=en, rouge_score's "
        "tokenizer): "
        f"{english:.1f} s = {args.pairs / english:.0f} pairs/s; rouge (language={args.language}, "
        f"{tokenize.rouge_tokens_name(args.language, stem)}): {other:.1f} s = {args.pairs / other:.0f} "
        "pairs/s; "
        f"time ratio {other / english:.2f}x (the bound is 1.5x)"
    )


if __name__ == "__main__":
    main()
