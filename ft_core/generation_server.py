"""Generation through an OpenAI-compatible inference server (`backend: server`): vLLM, SGLang, TGI or
llama.cpp's server generates, this process builds the prompts and writes the same outputs files as the local
backend (`ft_core.generate`), so scoring, judging and campaigns read them unchanged.

- Prompts: the local backend's, built here with the run's tokenizer (template, chat template, source
  truncation), sent as text to `/v1/completions` with `add_special_tokens` as the local backend tokenizes them
  (off for causal prompts, which carry their chat template's special tokens), so the server sees the same
  tokens.
- Decoding: greedy is temperature 0; sampling sends temperature, top_p, top_k (when set) and the job's seed on
  every request (vLLM seeds each prompt of a request with it, so a prompt's sample does not depend on the
  other prompts of its batch, and a resumed job draws what an uninterrupted one would have);
  repetition_penalty when it is not 1. Beam search and no_repeat_ngram_size are not in the completions
  protocol: a job asking for them stops before any request.
- Each system is a model name on a server: by default `base` is the base model's name and every other system
  its own name, as `vllm serve BASE --enable-lora --lora-modules finetuned=RUN/adapter` serves them;
  `server_models` names others, `server_urls` puts a system on a server of its own.
- Requests carry `server_batch_size` prompts, `server_concurrency` of them in flight
  (`ft_core.endpoints`: the client's retries on 429/5xx/timeouts, one-line errors). Each answer is appended to
  the file's `.partial` as it arrives, so an interrupted job resumes after the items already written.
- Before anything is written, every server is asked for its models (`/v1/models`): a bad URL, an unreachable
  server or an unknown model stops the job with one line.
- `new_tokens`: `max_new_tokens` when the server stopped at the limit (finish_reason `length`), else the run's
  tokenizer's count of the text. `generate_config.json` names the backend, the server(s) and every system's
  model.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_core import endpoints, runfolder
from ft_core.config import GenerateConfig
from ft_core.data import Example
from ft_core.decoding import Decoding
from ft_core.endpoints import EndpointError, Where
from ft_core.errors import ConfigError
from ft_core.generate import Generated, Job, build_prompts, generate_file

WHAT = "the generation server"


@dataclass(frozen=True)
class Served:
    """Where one system is generated: a server's base URL and the model name it knows the system by."""

    system: str
    url: str
    model: str


def served_systems(cfg: GenerateConfig, base_model: str, systems: list[str]) -> dict[str, Served]:
    """Each system's server and model name (`server_urls` and `server_models`, else the defaults)."""
    models, urls = cfg.system_values("server_models"), cfg.system_values("server_urls")
    default = {"base": base_model}
    return {
        s: Served(s, urls.get(s, cfg.server_url or ""), models.get(s, default.get(s, s))) for s in systems
    }


def check_decodings(decodings: list[Decoding]) -> None:
    """ConfigError for a setting the completions protocol cannot express (beam search, no-repeat n-grams)."""
    for decoding in decodings:
        if decoding.strategy == "beam" or decoding.no_repeat_ngram_size:
            raise ConfigError(
                f"decoding {decoding.name}: the server backend runs greedy and sample settings (with "
                "repetition_penalty); beam search and no_repeat_ngram_size are not in the completions "
                "protocol. Use backend=local for it"
            )


def check_servers(cfg: GenerateConfig, served: dict[str, Served]) -> None:
    """EndpointError (one line) unless every server answers `/v1/models` and serves its systems' models."""
    for url in dict.fromkeys(s.url for s in served.values()):
        where = Where(WHAT, url, None, cfg.server_api_key_env, cfg.server_max_retries)
        client = endpoints.client(url, cfg.server_api_key_env, cfg.server_max_retries, cfg.server_timeout)
        try:
            known = [model.id for model in client.models.list()]
        except Exception as e:
            explained = endpoints.explain(e, where)
            if explained is None:
                raise EndpointError(f"{WHAT} {url} gave no list of models: {endpoints.one_line(e)}") from None
            hint = " (does the URL end in /v1?)" if "HTTP 404" in str(explained) else ""
            raise EndpointError(f"{explained}{hint}") from None
        for system in (s for s in served.values() if s.url == url):
            if system.model not in known:
                raise EndpointError(
                    f"{WHAT} {url} does not serve the model {system.model!r} (system {system.system}); it "
                    f"serves: {', '.join(known) or 'nothing'}. Set server_models: {{{system.system}: NAME}}"
                )


def completion_options(decoding: Decoding, seed: int, task: str) -> dict[str, Any]:
    """The keyword arguments of `client.completions.create` for one decoding setting and seed."""
    extra: dict[str, Any] = {"add_special_tokens": task == "seq2seq"}
    options: dict[str, Any] = {"max_tokens": decoding.max_new_tokens, "temperature": 0.0, "seed": seed}
    if decoding.stochastic:
        options.update(temperature=decoding.temperature, top_p=decoding.top_p)
        if decoding.top_k:
            extra["top_k"] = decoding.top_k
    if decoding.repetition_penalty != 1.0:
        extra["repetition_penalty"] = decoding.repetition_penalty
    return {**options, "extra_body": extra}


class ServerGenerator:
    """One system's outputs from its server; called as `ft_core.generate.generate_texts` is, minus the
    model."""

    def __init__(self, cfg: GenerateConfig, served: Served, tokenizer: Any, task: str):
        self.cfg, self.served, self.tokenizer, self.task = cfg, served, tokenizer, task
        self.client = endpoints.client(
            served.url, cfg.server_api_key_env, cfg.server_max_retries, cfg.server_timeout
        )
        self.where = Where(WHAT, served.url, served.model, cfg.server_api_key_env, cfg.server_max_retries)

    def generated(self, choice: Any, decoding: Decoding, time_s: float) -> Generated:
        text = (choice.text or "").strip()
        if choice.finish_reason == "length":
            return Generated(text, decoding.max_new_tokens, True, time_s)
        n_tokens = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return Generated(text, min(n_tokens, decoding.max_new_tokens), False, time_s)

    def __call__(
        self,
        prompts: list[str],
        decoding: Decoding,
        seed: int = 0,
        keys: list[str] | None = None,
        on_batch: Callable[[list[tuple[int, Generated]]], None] | None = None,
    ) -> list[Generated]:
        """Outputs in the order of `prompts`; `on_batch([(index, Generated), ...])` as each request
        returns."""
        size = self.cfg.server_batch_size
        batches = [list(range(i, min(i + size, len(prompts)))) for i in range(0, len(prompts), size)]
        options = completion_options(decoding, seed, self.task)
        results: list[Generated | None] = [None] * len(prompts)

        def ask(batch: list[int]) -> tuple[list[Any], float]:
            started = time.perf_counter()
            response = self.client.completions.create(
                model=self.served.model, prompt=[prompts[i] for i in batch], **options
            )
            elapsed = time.perf_counter() - started
            choices = sorted(response.choices, key=lambda c: c.index)
            if [c.index for c in choices] != list(range(len(batch))):
                raise EndpointError(
                    f"{WHAT} {self.served.url} answered {len(choices)} completions for {len(batch)} "
                    f"prompts (model {self.served.model}); set server_batch_size=1 for a server that takes "
                    "one prompt per request"
                )
            return choices, elapsed

        def on_answer(batch: list[int], answer: tuple[list[Any], float]) -> None:
            # here, on the caller's thread: the tokenizer that counts tokens is not shared between threads
            choices, elapsed = answer
            finished = [
                (i, self.generated(c, decoding, elapsed / len(batch))) for i, c in zip(batch, choices)
            ]
            for index, generated in finished:
                results[index] = generated
            if on_batch is not None:
                on_batch(finished)

        endpoints.each_answer(batches, ask, on_answer, self.cfg.server_concurrency, lambda _: self.where)
        return results  # type: ignore[return-value]


def generate_through_server(cfg: GenerateConfig, job: Job, examples: list[Example]) -> list[Path]:
    """`ft_core.generate.generate` with the server backend: the same plan, files and resumption."""
    from ft_core.models import load_tokenizer, resolve_model_path

    check_decodings(job.decodings)
    systems = [*cfg.systems, *job.extra_adapters]
    served = served_systems(cfg, job.base_model, systems)
    work = [
        (decoding, seed, system)
        for decoding in job.decodings
        for seed in (cfg.seeds if decoding.stochastic else cfg.seeds[:1])
        for system in systems
    ]
    names = [runfolder.output_file_name(system, decoding.name, seed) for decoding, seed, system in work]
    print(f"plan: {len(work)} outputs files of {len(examples)} items: {', '.join(names)}", flush=True)
    print(f"asking {WHAT} for its models: {', '.join(sorted({s.url for s in served.values()}))}", flush=True)
    check_servers(cfg, served)
    tokenizer = load_tokenizer(resolve_model_path(job.base_model), job.task)
    prompts = build_prompts(tokenizer, job.data, examples, job.task)
    runfolder.outputs_dir(job.output_dir).mkdir(parents=True, exist_ok=True)
    # the record names every system's model and server, defaults resolved
    recorded = dataclasses.replace(
        cfg,
        server_models=[f"{s.system}={s.model}" for s in served.values()],
        server_urls=[f"{s.system}={s.url}" for s in served.values() if s.url != cfg.server_url],
    )
    runfolder.write_config(runfolder.outputs_dir(job.output_dir) / runfolder.GENERATE_CONFIG, recorded)
    generators = {s: ServerGenerator(cfg, served[s], tokenizer, job.task) for s in systems}
    return [
        generate_file(
            None,
            tokenizer,
            examples,
            prompts,
            system,
            decoding,
            seed,
            job.task,
            job.output_dir,
            cfg.server_batch_size,
            cfg.overwrite,
            generator=generators[system],
        )
        for decoding, seed, system in work
    ]
