"""The local judge: a causal LM that `ft_core.models` loads (hub id, folder, or the embedded SmolLM2), batched
with left padding over length-sorted batches, on the GPU when there is one.

The prompt is wrapped in the model's chat template (when it has one) and the answer is started with `[[`, so
the next token is the verdict: its probabilities over the labels A, B and C (renormalised over those three)
are the verdict's probabilities, and the most likely label the verdict (as AlpacaEval's logprob judges read a
label token). `label_mass`, the three labels' share of all next-token probability, shows how far the model
follows the format at all: a weak judge puts little mass there.
"""

from __future__ import annotations

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
