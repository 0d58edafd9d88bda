"""A speed trick of the local judge: both orders of a pair share their beginning (the instructions, the question
and the source, the longest part), so that prefix runs once per pair and only the two endings (the outputs in
each order and the closing words) run per order, on a copy of the prefix's key/value cache.

A batch holds several pairs: prefixes are left-padded, endings left-padded too (their padding sits between the
prefix and the ending, masked out), and positions count real tokens only, so each prompt gets the next-token
probabilities it gets alone (tests/ft_core/judge/test_judge_local.py pins this to `LocalJudge.label_probabilities`).
"""

from __future__ import annotations

from typing import Any


def common_prefix(groups: list[list[int]]) -> int:
    """Tokens all sequences of a group start with, leaving at least one token of each as its ending."""
    limit = min(len(ids) for ids in groups) - 1
    k = 0
    while k < limit and all(ids[k] == groups[0][k] for ids in groups):
        k += 1
    return k


def label_log_probs(model: Any, groups: list[list[list[int]]], label_ids: list[int], pad_id: int) -> Any:
    """Log-probabilities (over the whole vocabulary) of the label tokens after each sequence, groups flattened in
    order: a tensor [sum of group sizes, len(label_ids)]."""
    import torch

    device = next(model.parameters()).device
    cut = [common_prefix(g) for g in groups]
    prefixes = [g[0][:k] for g, k in zip(groups, cut)]
    endings = [ids[k:] for g, k in zip(groups, cut) for ids in g]
    owner = torch.tensor([i for i, g in enumerate(groups) for _ in g], device=device)

    def left_padded(rows: list[list[int]]) -> tuple[Any, Any]:
        width = max(len(r) for r in rows)
        ids = torch.tensor([[pad_id] * (width - len(r)) + r for r in rows], device=device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
        return ids, mask

    prefix_ids, prefix_mask = left_padded([p or [pad_id] for p in prefixes])
    if any(not p for p in prefixes):  # a group without a shared prefix: a masked stand-in token
        prefix_mask[[i for i, p in enumerate(prefixes) if not p], -1] = 0
    ending_ids, ending_mask = left_padded(endings)
    with torch.inference_mode():
        out = model(
            input_ids=prefix_ids,
            attention_mask=prefix_mask,
            position_ids=(prefix_mask.cumsum(-1) - 1).clamp(min=0),
            use_cache=True,
            logits_to_keep=1,
        )
        cache = out.cache if "cache" in out else out.past_key_values
        cache.batch_select_indices(owner)  # each group's prefix once per member
        mask = torch.cat([prefix_mask[owner], ending_mask], dim=-1)
        positions = (prefix_mask.sum(-1)[owner][:, None] + ending_mask.cumsum(-1) - 1).clamp(min=0)
        logits = model(
            input_ids=ending_ids, attention_mask=mask, position_ids=positions, cache=cache, logits_to_keep=1
        ).logits[:, -1, :]
    return torch.log_softmax(logits.float(), dim=-1)[:, label_ids]
