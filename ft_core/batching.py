"""Batches of a training run: length-grouped batches of example indices (the largest first), each process's
share of an epoch, padding to the batch's longest example, and the DataLoader that collates them.

Length grouping pads each batch to its longest example, not to max length: the same examples, far less
padding; the largest batch runs first, so an out-of-memory error shows in the first minute, not hours in.
"""

from __future__ import annotations

import functools
import random
from typing import Any

from ft_core.data import IGNORE_INDEX
from ft_core.errors import ConfigError


def length_grouped_batches(
    lengths: list[int], batch_size: int, seed: int, group_by_length: bool, largest_first: int = 1
) -> list[list[int]]:
    """Shuffle, then sort by length inside mega-batches of 50 batches, so each batch holds similar lengths;
    batch order is shuffled again so long and short batches alternate. Deterministic for a seed.

    The `largest_first` batches with the most padded tokens (then the longest) move to the front, the rest
    keep their random order: an out-of-memory error shows in the first steps, not hours into the run (with
    several processes, one such batch each)."""
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
    if largest_first > 0 and batches:

        def size(b: int) -> tuple[int, int]:
            width = max(lengths[i] for i in batches[b])
            return width * len(batches[b]), width

        largest = sorted(range(len(batches)), key=size, reverse=True)[:largest_first]
        chosen = set(largest)
        batches = [batches[b] for b in largest] + [b for i, b in enumerate(batches) if i not in chosen]
    return batches


def share_batches(batches: list[list[int]], processes: int) -> list[list[list[int]]]:
    """Each process's batches of an epoch (the list's k-th item is process k's). Every process takes the same
    number, or DDP's gradient all-reduce would wait forever for the ones that ran out.

    With at least as many batches as processes, batch i goes to process i mod P and the last few (fewer
    than P) sit this epoch out (a different few each epoch: the order is shuffled). With fewer batches than
    processes (sanity_overfit's 4 batches on 8 GPUs), the epoch's examples are dealt into P smaller
    batches, one per process: every example once, and the step averages the same examples as on fewer GPUs."""
    if processes <= 1:
        return [batches]
    if len(batches) >= processes:
        usable = batches[: len(batches) - len(batches) % processes]
        return [usable[k::processes] for k in range(processes)]
    order = [i for b in batches for i in b]
    if len(order) < processes:
        raise ConfigError(
            f"{len(order)} training examples for {processes} processes: every process needs at least one "
            "example per step; use fewer processes (GPUs) or more examples"
        )
    return [
        [order[k * len(order) // processes : (k + 1) * len(order) // processes]] for k in range(processes)
    ]


def collate(examples: list[dict], pad_id: int, task: str) -> dict[str, Any]:
    """Pad to the longest example of the batch (right padding); labels padded with -100.

    A causal batch carries no `attention_mask`: its pads come after every real token, the causal mask
    already keeps real tokens from seeing them, their labels are -100, and position ids count from 0 either
    way, so the loss is the same without it (tests/ft_core/test_train_loop.py pins it). Passing one makes
    transformers build a 4-D mask, check it on the host at every forward (a GPU sync) and skip the flash
    kernel. A seq2seq batch keeps it: the encoder is bidirectional and would attend to the pads."""
    import torch

    def pad(seqs: list[list[int]], value: int) -> torch.Tensor:
        width = max(len(s) for s in seqs)
        return torch.tensor([s + [value] * (width - len(s)) for s in seqs], dtype=torch.long)

    input_ids = [e["input_ids"] for e in examples]
    labels = [e["labels"] for e in examples]
    batch = {"input_ids": pad(input_ids, pad_id), "labels": pad(labels, IGNORE_INDEX)}
    if task != "causal":
        batch["attention_mask"] = pad([[1] * len(s) for s in input_ids], 0)
    return batch


def train_loader(
    examples: list[dict],
    batches: list[list[int]],
    pad_id: int,
    task: str,
    num_workers: int,
    device_type: str,
    seed: int,
) -> Any:
    """A DataLoader over `batches` (example indices, in order): collated in `num_workers` worker processes
    (here when 0), into pinned memory on a GPU so that the copy to the device (`non_blocking=True`)
    overlaps compute. Its own generator seeds the workers, so creating it draws nothing from torch's global
    random state (a resumed run's dropout masks stay those of an uninterrupted run)."""
    import torch
    from torch.utils.data import DataLoader

    return DataLoader(
        examples,
        batch_sampler=batches,
        collate_fn=functools.partial(collate, pad_id=pad_id, task=task),
        num_workers=num_workers,
        pin_memory=device_type == "cuda",
        generator=torch.Generator().manual_seed(seed),
    )
