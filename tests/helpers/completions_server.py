"""A real HTTP server on localhost speaking OpenAI's completions protocol (`POST /v1/completions`,
`GET /v1/models`) by running a tiny transformers model, for the tests of generation through a server
(`ft_core.generation_server`): a thread of `http.server`, as vLLM would serve the base model and a LoRA
adapter (peft) under two model names, with faults injected on purpose (429s, 500s) and counters of what it
generated.

It decodes as vLLM does for the parameters the backend sends: temperature 0 is greedy, else sampling with
temperature, top_p, top_k and the request's seed for every prompt; repetition_penalty; `add_special_tokens`
(default true); generation stops at the model's end-of-sequence tokens or at `max_tokens`
(finish_reason `stop` or `length`). One request runs at a time (the model is shared, like one GPU).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Behaviour:
    """Faults to inject, and what the server counted."""

    fail_first: list[int] = field(default_factory=list)  # HTTP statuses of the first completions, in order
    expected_key: str | None = None  # require `Authorization: Bearer <key>` (else 401)
    stop_after_prompts: int | None = None  # after this many prompts generated, answer 500 (a dying server)
    # counters
    requests: int = 0  # completions requests received, failed ones included
    prompts_per_request: list[int] = field(default_factory=list)
    generated: Counter = field(default_factory=Counter)  # (model, prompt) -> times generated
    max_in_flight: int = 0
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class TinyModels:
    """The base model and, optionally, a LoRA adapter on it (peft), each under a model name."""

    def __init__(self, model_dir: Path, base_name: str, adapters: dict[str, Path] | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(1)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.base_name = base_name
        self.adapters = dict(adapters or {})
        if self.adapters:
            from peft import PeftModel

            first, *rest = self.adapters.items()
            model = PeftModel.from_pretrained(model, str(first[1]), adapter_name=first[0])
            for name, folder in rest:
                model.load_adapter(str(folder), adapter_name=name)
        self.model = model
        eos = model.generation_config.eos_token_id
        self.eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            self.eos.add(self.tokenizer.eos_token_id)
        self.run_lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return [self.base_name, *self.adapters]

    def complete(self, name: str, prompt: str, request: dict) -> dict:
        """One prompt's choice (without its index)."""
        import contextlib

        import torch
        from transformers import GenerationConfig

        temperature = float(request.get("temperature", 1.0))
        max_tokens = int(request.get("max_tokens") or 16)
        sampling = temperature > 0
        options = {
            "max_new_tokens": max_tokens,
            "do_sample": sampling,
            "num_beams": 1,
            "repetition_penalty": float(request.get("repetition_penalty", 1.0)),
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": sorted(self.eos),
        }
        if sampling:
            top_k = int(request.get("top_k", 0) or 0)
            options.update(temperature=temperature, top_p=float(request.get("top_p", 1.0)), top_k=top_k)
        inputs = self.tokenizer(
            prompt, return_tensors="pt", add_special_tokens=bool(request.get("add_special_tokens", True))
        )
        if name == self.base_name and self.adapters:
            context = self.model.disable_adapter()
        else:
            context = contextlib.nullcontext()
            if self.adapters:
                self.model.set_adapter(name)
        with self.run_lock, context, torch.inference_mode():
            if sampling and request.get("seed") is not None:
                torch.manual_seed(int(request["seed"]))
            out = self.model.generate(**inputs, generation_config=GenerationConfig(**options))
        ids = out[0, inputs["input_ids"].shape[1] :].tolist()
        stop = next((j for j, t in enumerate(ids) if t in self.eos), None)
        kept = ids[:stop] if stop is not None else ids
        return {
            "text": self.tokenizer.decode(kept, skip_special_tokens=True),
            "finish_reason": "stop" if stop is not None or len(ids) < max_tokens else "length",
            "logprobs": None,
            "completion_tokens": len(kept),
        }


class _Handler(BaseHTTPRequestHandler):
    behaviour: Behaviour
    models: TinyModels

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _authorized(self) -> bool:
        key = self.behaviour.expected_key
        if key is not None and self.headers.get("Authorization") != f"Bearer {key}":
            self._send(401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}})
            return False
        return True

    def do_GET(self) -> None:
        if not self.path.rstrip("/").endswith("/v1/models"):
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        if self._authorized():
            data = [
                {"id": n, "object": "model", "created": 0, "owned_by": "tests"} for n in self.models.names
            ]
            self._send(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        b = self.behaviour
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        with b.lock:
            b.requests += 1
            number = b.requests
            b.in_flight += 1
            b.max_in_flight = max(b.max_in_flight, b.in_flight)
        try:
            self._answer(b, number, request)
        finally:
            with b.lock:
                b.in_flight -= 1

    def _answer(self, b: Behaviour, number: int, request: dict) -> None:
        if not self.path.rstrip("/").endswith("/v1/completions"):
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        if not self._authorized():
            return None
        if number <= len(b.fail_first):
            status = b.fail_first[number - 1]
            return self._send(status, {"error": {"message": f"injected {status}"}}, {"retry-after-ms": "20"})
        name = request.get("model")
        if name not in self.models.names:
            message = f"The model `{name}` does not exist."
            return self._send(404, {"error": {"message": message, "type": "NotFoundError", "code": 404}})
        prompts = request.get("prompt")
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        with b.lock:
            b.prompts_per_request.append(len(prompts))
        choices = []
        for index, prompt in enumerate(prompts):
            with b.lock:
                dying = b.stop_after_prompts is not None and sum(b.generated.values()) >= b.stop_after_prompts
            if dying:
                return self._send(500, {"error": {"message": "injected: the server died"}})
            choice = self.models.complete(name, prompt, request)
            with b.lock:
                b.generated[(name, prompt)] += 1
            choices.append({"index": index, **choice})
        tokens = sum(c.pop("completion_tokens") for c in choices)
        self._send(
            200,
            {
                "id": f"cmpl-{number}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": name,
                "choices": choices,
                "usage": {"prompt_tokens": 0, "completion_tokens": tokens, "total_tokens": tokens},
            },
        )


class CompletionsServer:
    """`with CompletionsServer(models, Behaviour(...)) as server:` then `server.base_url`
    (http://127.0.0.1:<port>/v1)."""

    def __init__(self, models: TinyModels, behaviour: Behaviour | None = None):
        self.behaviour = behaviour or Behaviour()
        handler = type("Handler", (_Handler,), {"behaviour": self.behaviour, "models": models})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> CompletionsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
