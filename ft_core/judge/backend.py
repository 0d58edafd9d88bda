"""The one interface both judges implement: count and cut tokens, then judge a list of prompts, reporting each
answer as it arrives (so the job appends a pair as soon as both its orders are in)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ft_core.judge.pairs import OrderVerdict


@dataclass(frozen=True)
class JudgeRequest:
    """One prompt: a pair (by its index in the job's list) in one order."""

    pair_index: int
    order: str  # "ab" or "ba"
    prompt: str  # the filled template (a local judge wraps it in its chat template)


OnVerdict = Callable[[JudgeRequest, OrderVerdict], None]


class Judge(Protocol):
    """A local causal LM (`ft_core.judge.local.LocalJudge`) or an endpoint
    (`ft_core.judge.endpoint.EndpointJudge`)."""

    tokenizer: Any  # what cuts sources and counts prompt tokens (the endpoint's is an approximation)
    completion_tokens: int  # answer tokens per request at most, for the estimate

    def prompt_tokens(self, prompt: str) -> int:
        """Tokens the judge reads for this prompt (template, chat template and all)."""
        ...

    def judge(self, requests: list[JudgeRequest], on_verdict: OnVerdict) -> None:
        """Judge every request; call `on_verdict` in the caller's thread as each answer arrives."""
        ...
