"""The endpoint judge: any server speaking OpenAI's chat-completions protocol (vLLM, SGLang, Ollama,
llama.cpp's server, hosted APIs), through the maintained client of that protocol, the `openai` package.

- Requests run in a bounded thread pool (`concurrency` in flight at most); the client retries 429, 408, 409,
  5xx, timeouts and dropped connections `max_retries` times with exponential back-off, honouring
  `Retry-After` (`ft_core.endpoints`, shared with generation through a server).
  A request that still fails stops the job with one line; the pairs finished so far are kept, and the next run
  resumes after them.
- The key is read from the environment variable named by `api_key_env`, here and nowhere else; it is never
  written to the run folder or printed.
- The verdict is the strictly parsed label: exactly one of `[[A]]`, `[[B]]`, `[[C]]` in the answer (none, or
  two
  different ones, is an unparsed answer, kept with its text). When the server returns logprobs, the label
  token's `top_logprobs` give the probabilities of A, B and C (renormalised over those three). A server that
  refuses the logprobs options (HTTP 400 naming them) is asked without them from then on.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

from ft_core import endpoints
from ft_core.endpoints import NO_KEY, EndpointError, Where, client, each_answer  # noqa: F401 (re-exported)
from ft_core.judge.backend import JudgeRequest, OnVerdict
from ft_core.judge.config import LABELS, JudgeConfig
from ft_core.judge.pairs import OrderVerdict

_VERDICT = re.compile(r"\[\[([ABC])\]\]")
TOP_LOGPROBS = 5


@functools.lru_cache(maxsize=1)
def counting_tokenizer() -> Any:
    """The embedded model's tokenizer, loaded once: it counts an endpoint's tokens and cuts its sources."""
    from ft_core.models import embedded_tokenizer

    return embedded_tokenizer()


def api_key(cfg: JudgeConfig) -> str:
    """The key from the environment variable the config names; ConfigError when that variable is not set."""
    return endpoints.api_key(cfg.api_key_env)


def parse_label(text: str) -> str | None:
    """The one label of `[[A]]`, `[[B]]` or `[[C]]` the text holds; None when it holds none or two
    different."""
    found = set(_VERDICT.findall(text or ""))
    return found.pop() if len(found) == 1 else None


def label_probabilities(logprobs: Any) -> tuple[float, float, float] | None:
    """P(A), P(B), P(C) from the top_logprobs of the first token that follows `[[`; None when there is
    none."""
    tokens = getattr(logprobs, "content", None) or []
    text = ""
    for token in tokens:
        if text.rstrip().endswith("[[") and token.token.strip() in LABELS:
            mass = dict.fromkeys(LABELS, 0.0)
            for top in token.top_logprobs or []:
                if top.token.strip() in mass:
                    mass[top.token.strip()] += math.exp(top.logprob)
            total = sum(mass.values())
            if total <= 0:
                return None
            return tuple(mass[label] / total for label in LABELS)  # type: ignore[return-value]
        text += token.token
    return None


class EndpointJudge:
    """Chat-completions requests, `concurrency` at a time, each answer handed back as it arrives."""

    def __init__(self, cfg: JudgeConfig, tokenizer: Any = None):
        self.cfg = cfg
        self.client = client(cfg.base_url, cfg.api_key_env, cfg.max_retries, cfg.timeout)
        # the server's tokenizer is unknown: the embedded model's counts tokens (an approximation) and cuts
        # sources
        self.tokenizer = tokenizer if tokenizer is not None else counting_tokenizer()
        self.completion_tokens = cfg.max_tokens
        self.logprobs = True  # asked for until the server refuses them

    def create(self, request: JudgeRequest, options: dict[str, Any]) -> Any:
        return self.client.chat.completions.create(
            model=self.cfg.model_name,
            messages=[{"role": "user", "content": request.prompt}],
            max_tokens=self.cfg.max_tokens,
            temperature=0,
            **options,
        )

    def prompt_tokens(self, prompt: str) -> int:
        return len(self.tokenizer(prompt, add_special_tokens=False)["input_ids"]) + 8  # + the chat format

    def ask(self, request: JudgeRequest) -> OrderVerdict:
        """One request (with the client's retries) and its verdict."""
        import openai

        options: dict[str, Any] = {"logprobs": True, "top_logprobs": TOP_LOGPROBS} if self.logprobs else {}
        try:
            response = self.create(request, options)
        except openai.BadRequestError as e:
            if not options or "logprob" not in str(e).lower():
                raise
            self.logprobs = False  # a server that refuses logprobs: parsed labels from here on
            response = self.create(request, {})
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content if choice is not None and choice.message else None) or ""
        label = parse_label(text)
        probs = label_probabilities(getattr(choice, "logprobs", None)) if label is not None else None
        verdict = OrderVerdict(label, raw=text[:200])
        if probs is not None:
            verdict.p_a, verdict.p_b, verdict.p_tie = probs
            verdict.probs_from = "logprobs"
        usage = getattr(response, "usage", None)
        verdict.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0) or self.prompt_tokens(
            request.prompt
        )
        verdict.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        return verdict

    def judge(self, requests: list[JudgeRequest], on_verdict: OnVerdict) -> None:
        where = Where(
            "the judge endpoint",
            self.cfg.base_url,
            self.cfg.model_name,
            self.cfg.api_key_env,
            self.cfg.max_retries,
        )
        each_answer(requests, self.ask, on_verdict, self.cfg.concurrency, lambda _: where)
