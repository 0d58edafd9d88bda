"""Talking to an OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp's server, hosted APIs), for the
endpoint judge (`ft_core.judge.endpoint`) and generation through a server (`ft_core.generation_server`).

One place for what both need: the key read from the environment variable a config names, the `openai`
client with its retries (429, 408, 409, 5xx, timeouts and dropped connections, `max_retries` times with
exponential back-off honouring `Retry-After`), a bounded pool that keeps `concurrency` requests in flight and
hands each answer back on the caller's thread as it arrives, and a failure turned into one line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from ft_core.errors import ConfigError, FtCoreError

NO_KEY = "no-key"  # what the client sends to a server that needs none (the client refuses an empty key)

Request = TypeVar("Request")
Answer = TypeVar("Answer")


class EndpointError(FtCoreError):
    """The endpoint cannot be reached, refuses the key, or keeps failing after the retries."""


def api_key(env_name: str | None) -> str:
    """The key from the environment variable `env_name` (never stored, never printed); NO_KEY when None;
    ConfigError when that variable is not set."""
    if env_name is None:
        return NO_KEY
    key = os.environ.get(env_name, "")
    if not key.strip():
        raise ConfigError(
            f"api_key_env={env_name} but the environment variable {env_name} is not set; "
            "export it before the run, or set api_key_env: none for a server without a key"
        )
    return key


def client(base_url: str, env_name: str | None, max_retries: int, timeout: float) -> Any:
    """The `openai` client for one server, retrying on its own (see the module's docstring)."""
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key=api_key(env_name), max_retries=max_retries, timeout=timeout)


def one_line(error: Exception) -> str:
    """The error's message on one line, at most 300 characters."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return " ".join(str(message).split())[:300]


@dataclass
class Where:
    """What a failure message names: `what` (e.g. 'the judge endpoint'), its URL, model, key variable and
    retries."""

    what: str
    base_url: str
    model: str | None
    api_key_env: str | None
    max_retries: int


def explain(error: Exception, where: Where) -> EndpointError | None:
    """A failed request as EndpointError with one line a researcher can act on; None when `error` is not one
    of the client's."""
    import openai

    if isinstance(error, openai.AuthenticationError):
        return EndpointError(
            f"{where.what} {where.base_url} refused the key from {where.api_key_env}: {one_line(error)}"
        )
    if isinstance(error, openai.NotFoundError) and where.model:
        return EndpointError(
            f"{where.what} {where.base_url} does not serve the model {where.model!r} (HTTP 404): "
            f"{one_line(error)}"
        )
    if isinstance(error, openai.APIStatusError):
        retried = error.status_code in (408, 409, 429) or error.status_code >= 500
        after = f" after {where.max_retries} retries" if retried else ""
        return EndpointError(
            f"{where.what} {where.base_url} answered HTTP {error.status_code}{after} "
            f"(model {where.model}): {one_line(error)}"
        )
    if isinstance(error, openai.APIConnectionError):
        how = "timed out" if isinstance(error, openai.APITimeoutError) else "cannot be reached"
        return EndpointError(
            f"{where.what} {where.base_url} {how} after {where.max_retries} retries ({one_line(error)})"
        )
    return None


def each_answer(
    requests: Iterable[Request],
    ask: Callable[[Request], Answer],
    on_answer: Callable[[Request, Answer], None],
    concurrency: int,
    where: Callable[[Request], Where],
) -> None:
    """`ask(request)` for every request, `concurrency` in flight at most; `on_answer(request, answer)` on this
    thread as each arrives. The first failure stops submitting and raises EndpointError (a client's error,
    explained with `where(request)`) or the error itself; answers handed back so far stay handed back."""
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="endpoint")
    pending: dict[Future, Any] = {}
    queue = iter(requests)
    try:
        for request in queue:
            pending[pool.submit(ask, request)] = request
            if len(pending) >= concurrency:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                request = pending.pop(future)
                try:
                    answer = future.result()
                except Exception as e:
                    explained = explain(e, where(request))
                    if explained is None:
                        raise
                    raise explained from None
                on_answer(request, answer)
                following = next(queue, None)
                if following is not None:
                    pending[pool.submit(ask, following)] = following
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
