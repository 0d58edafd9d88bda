"""`JudgeConfig`: which run's pairs a judge reads, which judge (a local causal LM or an OpenAI-compatible
endpoint), and the prompt it is asked. It checks itself like every job config (`ft_core.config.option`,
`check_fields`).

No torch, no openai at module level: the app and the job queue import it to build a judge job's command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ft_core.config import PRECISIONS, SYSTEMS, check_fields, option
from ft_core.errors import ConfigError

BACKENDS = ("local", "endpoint")
LABELS = (
    "A",
    "B",
    "C",
)  # A: the first output is better, B: the second, C: a tie (MT-bench's pairwise labels)
REQUIRED_PLACEHOLDERS = ("{source}", "{output_a}", "{output_b}")
KNOWN_PLACEHOLDERS = ("question", "source", "output_a", "output_b")

DEFAULT_QUESTION = (
    "Which summary of the source text is better: faithful to the source, covering its main point, and "
    "concise?"
)

# After MT-bench's pairwise prompt (Zheng et al., 2023, "Judging LLM-as-a-Judge", FastChat's `pair-v2`): ask
# to ignore position, length and names, and to answer with [[A]], [[B]] or [[C]]. The verdict comes first and
# alone, so the local judge reads it from the next token's probabilities and an endpoint's logprobs sit on
# that token.
DEFAULT_PROMPT = """Please act as an impartial judge and evaluate the quality of the two responses to the \
task below, written by two AI assistants for the same source text. {question}
Avoid any position bias: the order in which the responses are presented must not influence your decision. Do \
not let the length of the responses influence your evaluation. Be as objective as possible.

[Source text]
{source}

[The Start of Assistant A's Answer]
{output_a}
[The End of Assistant A's Answer]

[The Start of Assistant B's Answer]
{output_b}
[The End of Assistant B's Answer]

Output only your final verdict, strictly in this format: "[[A]]" if assistant A is better, "[[B]]" if \
assistant B is better, and "[[C]]" for a tie."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JUDGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def check_template(template: str) -> None:
    """ConfigError unless the template holds {source}, {output_a} and {output_b} and no unknown
    placeholder."""
    missing = [p for p in REQUIRED_PLACEHOLDERS if p not in template]
    if missing:
        raise ConfigError(
            f"prompt_template lacks {', '.join(missing)}: a judge's prompt must show the source and both "
            f"outputs (placeholders: {', '.join('{' + p + '}' for p in KNOWN_PLACEHOLDERS)})"
        )
    unknown = sorted({m for m in _PLACEHOLDER.findall(template) if m not in KNOWN_PLACEHOLDERS})
    if unknown:
        raise ConfigError(
            f"prompt_template has unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
            f"known: {', '.join('{' + p + '}' for p in KNOWN_PLACEHOLDERS)}"
        )


def fill_template(template: str, question: str, source: str, output_a: str, output_b: str) -> str:
    """The template with its placeholders replaced once each (texts holding braces stay as they are)."""
    values = {"question": question, "source": source, "output_a": output_a, "output_b": output_b}
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def default_judge_name(backend: str, model: str, model_name: str | None) -> str:
    """`local-smollm2-135m`, `endpoint-gpt-4o-mini`: the judge's folder name when the config names none."""
    what = model_name if backend == "endpoint" else model.rstrip("/").split("/")[-1]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", what or "judge").strip("-.") or "judge"
    return f"{backend}-{slug}"


@dataclass
class JudgeConfig:
    """A judging job: a run's base and fine-tuned outputs compared pair by pair, in both orders, by an LLM
    judge."""

    run_dir: str = option(
        help="run folder with outputs/; verdicts go to its judges/<name>/", label="Run folder"
    )
    name: str | None = option(
        None,
        help="the judge's name (its folder under judges/); default: backend and model, e.g. "
        "local-smollm2-135m",
        label="Judge name",
        advanced=True,
    )
    backend: str = option(
        "local",
        help="'local' (a causal LM loaded here) or 'endpoint' (an OpenAI-compatible server)",
        label="Backend",
        choices=BACKENDS,
    )
    model: str = option(
        "smollm2-135m",
        help="local judge: hub id, local folder, or 'smollm2-135m' (embedded, weak: a 135M model)",
        label="Local model",
    )
    base_url: str | None = option(
        None,
        help="endpoint judge: the server's OpenAI-compatible base URL, e.g. http://localhost:8000/v1",
        label="Endpoint base URL",
    )
    model_name: str | None = option(
        None, help="endpoint judge: the model name the server knows", label="Endpoint model name"
    )
    api_key_env: str | None = option(
        None,
        help="NAME of the environment variable holding the endpoint's key (the key itself is never stored); "
        "none for a server without a key",
        label="API key variable",
    )
    question: str = option(
        DEFAULT_QUESTION, help="the question and criteria put to the judge ({question})", label="Question"
    )
    prompt_template: str = option(
        DEFAULT_PROMPT,
        help="the judge's prompt with {source}, {output_a}, {output_b} and optionally {question}",
        label="Prompt template",
        advanced=True,
    )
    max_source_tokens: int = option(
        1024,
        help="source tokens the judge reads; longer sources are cut (and counted)",
        label="Max source tokens",
    )
    decodings: list[str] = option(
        [], help="judge only these decoding names (as in the file names); empty = all", label="Decodings"
    )
    seeds: list[int] = option([], help="judge only these seeds; empty = all", label="Seeds", advanced=True)
    limit: int | None = option(None, help="judge the first N items of each decoding/seed only", label="Items")
    system_a: str = option("base", help="the reference system", label="System A", advanced=True)
    system_b: str = option("finetuned", help="the system compared with it", label="System B", advanced=True)
    batch_size: int = option(16, help="local judge: prompts per forward pass", label="Batch size")
    concurrency: int = option(
        8, help="endpoint judge: requests in flight at most", label="Concurrent requests"
    )
    max_retries: int = option(
        4,
        help="endpoint judge: retries of a request on 429, 5xx, timeouts (with back-off)",
        label="Retries",
        advanced=True,
    )
    timeout: float = option(
        60.0, help="endpoint judge: seconds a request may take", label="Timeout (s)", advanced=True
    )
    max_tokens: int = option(
        16,
        help="endpoint judge: tokens the server may answer with (the verdict needs about 5)",
        label="Max answer tokens",
        advanced=True,
    )
    usd_per_million_prompt_tokens: float = option(
        0.0,
        help="price of prompt tokens, for the estimate printed first",
        label="$ / 1M prompt tokens",
        advanced=True,
    )
    usd_per_million_completion_tokens: float = option(
        0.0,
        help="price of answer tokens, for the estimate printed first",
        label="$ / 1M answer tokens",
        advanced=True,
    )
    device: str = option(
        "auto", help="local judge: 'auto', 'cpu', 'cuda', ...", label="Device", advanced=True
    )
    precision: str = option(
        "auto",
        help="local judge: 'auto' (bf16/fp16 on GPU, fp32 on CPU), 'bf16', 'fp16', 'fp32'",
        label="Precision",
        advanced=True,
        choices=PRECISIONS,
    )
    overwrite: bool = option(
        False,
        help="judge again from scratch instead of resuming the judge's verdicts",
        label="Start over",
        advanced=True,
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.run_dir.strip():
            raise ConfigError("run_dir is empty; give the run folder whose outputs are judged")
        if self.backend == "endpoint":
            if not self.base_url or not self.base_url.startswith(("http://", "https://")):
                raise ConfigError(
                    f"backend=endpoint needs base_url, an http(s) URL such as http://localhost:8000/v1; "
                    f"got {self.base_url!r}"
                )
            if not self.model_name:
                raise ConfigError("backend=endpoint needs model_name, the model the server knows")
        if self.api_key_env is not None and not _ENV_NAME.match(self.api_key_env):
            raise ConfigError(
                "api_key_env must be the NAME of an environment variable (letters, digits, _), not the key "
                "itself"
            )
        check_template(self.prompt_template)
        for name in ("batch_size", "concurrency", "timeout", "max_tokens", "max_source_tokens"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.limit is not None and self.limit <= 0:
            raise ConfigError(f"limit must be positive, got {self.limit}")
        if self.system_a == self.system_b:
            raise ConfigError(f"system_a and system_b are both {self.system_a!r}; compare two systems")
        if self.usd_per_million_prompt_tokens < 0 or self.usd_per_million_completion_tokens < 0:
            raise ConfigError("prices must be >= 0")
        if self.name is None:
            self.name = default_judge_name(self.backend, self.model, self.model_name)
        if not _JUDGE_NAME.match(self.name):
            raise ConfigError(
                f"name {self.name!r} must be a folder name: letters, digits, '.', '_' or '-', not starting "
                "with one"
            )


__all__ = [
    "BACKENDS",
    "DEFAULT_PROMPT",
    "DEFAULT_QUESTION",
    "LABELS",
    "SYSTEMS",
    "JudgeConfig",
    "check_template",
    "default_judge_name",
    "fill_template",
]
