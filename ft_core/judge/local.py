"""The local judge: a causal LM that `ft_core.models` loads (hub id, folder, or the embedded SmolLM2), batched
with left padding over length-sorted batches, on the GPU when there is one.

The prompt is wrapped in the model's chat template (when it has one) and the answer is started with `[[`, so
the next token is the verdict: its probabilities over the labels A, B and C (renormalised over those three)
are the verdict's probabilities, and the most likely label the verdict (as AlpacaEval's logprob judges read a
label token). `label_mass`, the three labels' share of all next-token probability, shows how far the model
follows the format at all: a weak judge puts little mass there.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from ft_core.errors import ModelError
from ft_core.generate import length_sorted_batches
from ft_core.judge.backend import JudgeRequest, OnVerdict
from ft_core.judge.config import LABELS, JudgeConfig
from ft_core.judge.pairs import OrderVerdict

ANSWER_PREFIX = "[["


def label_token_ids(tokenizer: Any) -> list[int]:
    """The token that starts each of the labels A, B, C right after `[[`; ModelError when two coincide."""
    ids = []
    for label in LABELS:
        with_prefix = tokenizer(ANSWER_PREFIX + label, add_special_tokens=False)["input_ids"]
        prefix = tokenizer(ANSWER_PREFIX, add_special_tokens=False)["input_ids"]
        rest = with_prefix[len(prefix) :] if with_prefix[: len(prefix)] == prefix else []
        if not rest:  # the tokenizer merges `[[` with the label: fall back to the label alone
            rest = tokenizer(label, add_special_tokens=False)["input_ids"]
        ids.append(rest[0])
    if len(set(ids)) != len(ids):
        raise ModelError("the judge's tokenizer gives the labels A, B and C the same first token")
    return ids


class LocalJudge:
    """A causal LM judging batches of prompts from its next-token probabilities."""

    completion_tokens = 1

    def __init__(self, cfg: JudgeConfig, model: Any = None, tokenizer: Any = None):
        from ft_core import models

        if model is None:
            placement = models.resolve_placement(cfg.precision, cfg.device)
            path = models.resolve_model_path(cfg.model)
            tokenizer = models.load_tokenizer(path)
            model = models.load_model(path, "causal", dtype=placement.dtype).to(placement.device)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        self.batch_size = cfg.batch_size
        self.label_ids = label_token_ids(tokenizer)
        parameters = inspect.signature(self.model.forward).parameters
        self.cache_argument = "cache" if "cache" in parameters else "past_key_values"

    def full_prompt(self, prompt: str) -> str:
        """The text the model reads: the prompt in its chat template, the answer opened with `[[`."""
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        else:
            text = prompt + "\n\nVerdict: "
        return text + ANSWER_PREFIX

    def prompt_tokens(self, prompt: str) -> int:
        return len(self.tokenizer(self.full_prompt(prompt), add_special_tokens=False)["input_ids"])

    def judge(self, requests: list[JudgeRequest], on_verdict: OnVerdict) -> None:
        texts = [self.full_prompt(r.prompt) for r in requests]
        lengths = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]
        for batch in length_sorted_batches(lengths, self.batch_size):
            probs = self.label_probabilities([texts[i] for i in batch])
            for row, index in enumerate(batch):
                p_a, p_b, p_tie, mass = probs[row]
                label = LABELS[max(range(3), key=lambda k: (p_a, p_b, p_tie)[k])]
                verdict = OrderVerdict(
                    label, p_a, p_b, p_tie, raw=label, probs_from="next_token", label_mass=mass
                )
                verdict.prompt_tokens, verdict.completion_tokens = lengths[index], 1
                on_verdict(requests[index], verdict)

    def label_probabilities(self, texts: list[str]) -> list[tuple[float, float, float, float]]:
        """Per text: P(A), P(B), P(C) renormalised over the three labels, and their share of all
        probability."""
        import torch

        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = self.last_logits(ids) if len(ids) > 1 else self.last_logits_alone(ids)
        log_probs = torch.log_softmax(logits.float(), dim=-1)[:, self.label_ids]
        mass = log_probs.exp().sum(-1)
        labels = torch.softmax(log_probs, dim=-1)
        return [(*map(float, labels[i].tolist()), float(mass[i])) for i in range(len(texts))]

    def last_logits_alone(self, ids: list[list[int]]) -> Any:
        """The next-token logits after each text, every text read in full (left padding): the plain
        reference."""
        return self._extend(None, None, None, ids)[2]

    def last_logits(self, ids: list[list[int]]) -> Any:
        """The next-token logits after each text, each shared prefix read once (`shared_prefixes`: the chat
        template and instructions all texts share, then what both orders of a pair share, up to the first
        output, then each text's own rest), each stage continuing its parent's rows of the key/value cache.
        Equal to `last_logits_alone` up to float rounding (tests pin it to 1e-5 in probability)."""
        import torch

        stages = shared_prefixes(ids)
        if len(stages) == 1:
            return self.last_logits_alone(ids)
        cache, mask, out = None, None, None
        for stage in stages:
            rows = None if cache is None else [node.parent for node in stage]
            cache, mask, logits = self._extend(cache, mask, rows, [node.tokens for node in stage])
            if out is None:
                out = logits.new_empty((len(ids), logits.shape[-1]))
            leaves = [(row, node.text) for row, node in enumerate(stage) if node.text is not None]
            if leaves:
                rows_, texts_ = zip(*leaves)
                out[torch.tensor(texts_, device=out.device)] = logits[torch.tensor(rows_, device=out.device)]
        return out

    def _extend(self, cache: Any, past_mask: Any, rows: list[int] | None, new_ids: list[list[int]]) -> tuple:
        """One forward pass over `new_ids` (left-padded) continuing `cache` row `rows[i]` for text i (None:
        from scratch); returns the cache, the attention mask so far and the last position's logits."""
        import torch

        device = next(self.model.parameters()).device
        width = max(len(x) for x in new_ids)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.tensor([[pad] * (width - len(x)) + list(x) for x in new_ids], device=device)
        new_mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in new_ids], device=device)
        start = 0
        if cache is not None:
            index = torch.tensor(rows, device=device)
            cache.batch_select_indices(index)
            past_mask = past_mask[index]
            start = past_mask.sum(-1, keepdim=True)
            mask = torch.cat([past_mask, new_mask], dim=1)
        else:
            mask = new_mask
        # positions counted from each text's first real token, so a padded text reads as it would alone
        positions = (start + new_mask.cumsum(-1) - 1).clamp(min=0)
        inputs = {"input_ids": input_ids, "attention_mask": mask, "position_ids": positions}
        use_cache = {"use_cache": True}
        if cache is not None:  # transformers 5.x renames past_key_values to cache
            use_cache[self.cache_argument] = cache
        try:
            out = self.model(**inputs, **use_cache, logits_to_keep=1)
        except TypeError:  # an architecture without logits_to_keep: every position's logits
            out = self.model(**inputs, **use_cache)
        return out.past_key_values, mask, out.logits[:, -1, :]


@dataclass(frozen=True)
class PrefixNode:
    """Tokens read in one stage, continuing row `parent` of the previous stage; `text`: the text it ends."""

    tokens: list[int]
    parent: int | None
    text: int | None = None


MIN_SHARED_TOKENS = 8  # a shared prefix shorter than this is not worth its own node
MAX_STAGES = 4


def _common_length(a: list[int], b: list[int], start: int) -> int:
    n = min(len(a), len(b))
    k = start
    while k < n and a[k] == b[k]:
        k += 1
    return k - start


def shared_prefixes(ids: list[list[int]]) -> list[list[PrefixNode]]:
    """The texts as a prefix tree cut into stages (one forward pass each): the tokens every text shares (the
    chat template and the instructions), then what smaller groups share (both orders of a pair share the
    source), then each text's own rest, never empty (its last token gives the logits). A text's tokens are its
    nodes' tokens from stage 0 down to the node that names it."""
    stages: list[list[PrefixNode]] = [[] for _ in range(MAX_STAGES)]

    def clusters(members: list[int], offset: int) -> list[list[int]]:
        """Members sorted by their tokens from `offset`, cut where neighbours share fewer than
        MIN_SHARED_TOKENS."""
        order = sorted(members, key=lambda i: ids[i][offset:])
        out = [[order[0]]]
        for prev, i in zip(order, order[1:]):
            if _common_length(ids[prev], ids[i], offset) >= MIN_SHARED_TOKENS:
                out[-1].append(i)
            else:
                out.append([i])
        return out

    def build(members: list[int], offset: int, depth: int, parent: int | None) -> None:
        if len(members) == 1 or depth == MAX_STAGES - 1:
            stages[depth].extend(PrefixNode(ids[i][offset:], parent, i) for i in members)
            return
        shared = min(_common_length(ids[members[0]], ids[i], offset) for i in members)
        shared = min(shared, min(len(ids[i]) for i in members) - offset - 1)
        if shared >= MIN_SHARED_TOKENS:
            stages[depth].append(PrefixNode(ids[members[0]][offset : offset + shared], parent))
            row = len(stages[depth]) - 1
            for cluster in clusters(members, offset + shared):
                build(cluster, offset + shared, depth + 1, row)
        else:
            for cluster in clusters(members, offset):
                if len(cluster) == len(members):  # neighbours share enough yet the cap left too little
                    stages[depth].extend(PrefixNode(ids[i][offset:], parent, i) for i in members)
                else:
                    build(cluster, offset, depth, parent)

    build(list(range(len(ids))), 0, 0, None)
    return [stage for stage in stages if stage]
