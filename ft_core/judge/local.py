"""The local judge: a causal LM that `ft_core.models` loads (hub id, folder, or the embedded SmolLM2), batched with
left padding over length-sorted batches, on the GPU when there is one.

The prompt is wrapped in the model's chat template (when it has one) and the answer is started with `[[`, so the
next token is the verdict: its probabilities over the labels A, B and C (renormalised over those three) are the
verdict's probabilities, and the most likely label the verdict (as AlpacaEval's logprob judges read a label
token). `label_mass`, the three labels' share of all next-token probability, shows how far the model follows the
format at all: a weak judge puts little mass there.

A batch holds whole pairs: both orders of a pair share the instructions and the source, and that prefix runs once
per pair (`ft_core.judge.shared_prefix`), with only each order's ending run on a copy of its cache; only the last
position's logits are computed.
"""

from __future__ import annotations

from typing import Any

from ft_core.errors import ModelError
from ft_core.generate import length_sorted_batches
from ft_core.judge import shared_prefix
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
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.share_prefix = True  # both orders of a pair run their shared prefix once (shared_prefix.py)

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
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        groups: dict[
            int, list[int]
        ] = {}  # a pair's requests (its two orders) run together, sharing their prefix
        for index, request in enumerate(requests):
            groups.setdefault(request.pair_index, []).append(index)
        members = list(groups.values())
        sizes = [sum(len(ids[i]) for i in m) for m in members]
        for batch in length_sorted_batches(sizes, max(1, self.batch_size // 2)):
            indices = [i for g in batch for i in members[g]]
            probs = self.group_probabilities(
                [[ids[i] for i in members[g]] for g in batch], [texts[i] for i in indices]
            )
            for index, (p_a, p_b, p_tie, mass) in zip(indices, probs):
                label = LABELS[max(range(3), key=lambda k: (p_a, p_b, p_tie)[k])]
                verdict = OrderVerdict(
                    label, p_a, p_b, p_tie, raw=label, probs_from="next_token", label_mass=mass
                )
                verdict.prompt_tokens, verdict.completion_tokens = len(ids[index]), 1
                on_verdict(requests[index], verdict)

    def group_probabilities(
        self, groups: list[list[list[int]]], texts: list[str]
    ) -> list[tuple[float, float, float, float]]:
        """`label_probabilities` of the texts, computed with each group's shared prefix run once
        (`ft_core.judge.shared_prefix`); the plain batch for a model whose forward takes no cache."""
        import torch

        if self.share_prefix:
            try:
                log_probs = shared_prefix.label_log_probs(self.model, groups, self.label_ids, self.pad_id)
            except (
                TypeError,
                ValueError,
                AttributeError,
                KeyError,
            ):  # an architecture without that cache API
                self.share_prefix = False
            else:
                labels, mass = torch.softmax(log_probs, dim=-1), log_probs.exp().sum(-1)
                return [(*map(float, labels[i].tolist()), float(mass[i])) for i in range(len(texts))]
        return self.label_probabilities(texts)

    def label_probabilities(self, texts: list[str]) -> list[tuple[float, float, float, float]]:
        """Per text: P(A), P(B), P(C) renormalised over the three labels, and their share of all probability."""
        import torch

        device = next(self.model.parameters()).device
        inputs = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        # positions counted from each text's first real token, so a left-padded text reads as it would alone
        positions = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            try:
                logits = self.model(**inputs, position_ids=positions, logits_to_keep=1).logits[:, -1, :]
            except TypeError:  # an architecture without logits_to_keep: every position's logits
                logits = self.model(**inputs, position_ids=positions).logits[:, -1, :]
        log_probs = torch.log_softmax(logits.float(), dim=-1)[:, self.label_ids]
        mass = log_probs.exp().sum(-1)
        labels = torch.softmax(log_probs, dim=-1)
        return [(*map(float, labels[i].tolist()), float(mass[i])) for i in range(len(texts))]
