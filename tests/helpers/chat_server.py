"""A real HTTP server on localhost speaking OpenAI's chat-completions protocol (`POST /v1/chat/completions`),
for the endpoint judge's tests and bench: a thread of `http.server`, with faults injected on purpose (429s,
500s, slow and malformed answers, a required key) and counters of what it saw.

`python tests/helpers/chat_server.py --delay 0.05` serves in a process of its own (as a real server runs
beside the judge, not sharing its interpreter): it prints its base URL on one line, then serves until stdin
closes.

Its judge prefers whichever answer holds `prefer` ("finetuned" by default: the outputs `helpers.run_folders`
writes name their system), so its verdicts are known: `[[A]]` or `[[B]]`, `[[C]]` when neither or both hold
it.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_ANSWER = re.compile(
    r"\[The Start of Assistant (A|B)'s Answer\]\n(.*?)\n\[The End of Assistant \1's Answer\]", re.S
)


@dataclass
class Behaviour:
    """How the server answers, and what it counted."""

    prefer: str = "finetuned"
    logprobs: bool = True  # return logprobs (top_logprobs of each token) with the answer
    probabilities: tuple[float, float, float] = (0.7, 0.2, 0.1)  # P(winner), P(other), P(tie) in top_logprobs
    delay: float = 0.0  # seconds before every answer
    fail_first: list[int] = field(default_factory=list)  # HTTP statuses of the first requests, in order
    always_fail: int | None = None  # answer every request with this status
    slow_first: int = 0  # the first N requests (after fail_first) take slow_seconds
    slow_seconds: float = 2.0
    malformed_when: str | None = None  # a prompt holding this text gets an answer without a verdict
    expected_key: str | None = None  # require `Authorization: Bearer <key>` (else 401)
    refuse_logprobs: bool = False  # answer a request asking for logprobs with 400, as some servers do
    # counters
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    authorizations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def verdict_for(prompt: str, prefer: str) -> str:
    answers = dict(_ANSWER.findall(prompt))
    has = [label for label in ("A", "B") if prefer in answers.get(label, "")]
    return has[0] if len(has) == 1 else "C"


def _logprobs(label: str, probabilities: tuple[float, float, float]) -> dict:
    winner, other, tie = probabilities
    if label == "C":
        tops = {"C": winner, "A": other, "B": tie}
    else:
        tops = {label: winner, ("B" if label == "A" else "A"): other, "C": tie}

    def token(text: str, logprob: float, top: dict[str, float]) -> dict:
        return {
            "token": text,
            "logprob": logprob,
            "bytes": list(text.encode()),
            "top_logprobs": [
                {"token": t, "logprob": math.log(p), "bytes": list(t.encode())} for t, p in top.items()
            ],
        }

    return {
        "content": [
            token("[[", -0.01, {"[[": 0.99}),
            token(label, math.log(tops[label]), tops),
            token("]]", -0.01, {"]]": 0.99}),
        ]
    }


class _Handler(BaseHTTPRequestHandler):
    behaviour: Behaviour

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
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout): fine
            pass

    def do_GET(self) -> None:
        """`GET /stats`: the counters, for a server in another process (bench/judge_endpoint.py)."""
        b = self.behaviour
        with b.lock:
            stats = {"requests": b.requests, "max_in_flight": b.max_in_flight}
        self._send(200, stats)

    def do_POST(self) -> None:
        b = self.behaviour
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        with b.lock:
            b.requests += 1
            number = b.requests
            b.in_flight += 1
            b.max_in_flight = max(b.max_in_flight, b.in_flight)
            b.authorizations.append(self.headers.get("Authorization", ""))
        try:
            self._answer(b, number, request)
        finally:
            with b.lock:
                b.in_flight -= 1

    def _answer(self, b: Behaviour, number: int, request: dict) -> None:
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        if b.expected_key is not None and self.headers.get("Authorization") != f"Bearer {b.expected_key}":
            return self._send(401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}})
        if b.refuse_logprobs and request.get("logprobs"):
            return self._send(
                400, {"error": {"message": "logprobs is not supported", "type": "invalid_request_error"}}
            )
        if b.always_fail is not None:
            return self._send(b.always_fail, {"error": {"message": f"injected {b.always_fail}"}})
        if number <= len(b.fail_first):
            status = b.fail_first[number - 1]
            return self._send(status, {"error": {"message": f"injected {status}"}}, {"retry-after-ms": "20"})
        if number <= len(b.fail_first) + b.slow_first:
            time.sleep(b.slow_seconds)
        if b.delay:
            time.sleep(b.delay)
        prompt = request["messages"][-1]["content"]
        if b.malformed_when is not None and b.malformed_when in prompt:
            content, label = "Both answers have merits; I cannot decide.", None
        else:
            label = verdict_for(prompt, b.prefer)
            content = f"[[{label}]]"
        choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        if b.logprobs and request.get("logprobs") and label is not None:
            choice["logprobs"] = _logprobs(label, b.probabilities)
        else:
            choice["logprobs"] = None
        self._send(
            200,
            {
                "id": f"chatcmpl-{number}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", "judge"),
                "choices": [choice],
                "usage": {
                    "prompt_tokens": len(prompt) // 4,
                    "completion_tokens": 3,
                    "total_tokens": len(prompt) // 4 + 3,
                },
            },
        )


class ChatServer:
    """`with ChatServer(Behaviour(...)) as server:` then `server.base_url` (http://127.0.0.1:<port>/v1)."""

    def __init__(self, behaviour: Behaviour | None = None):
        self.behaviour = behaviour or Behaviour()
        handler = type("Handler", (_Handler,), {"behaviour": self.behaviour})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="a chat-completions server for tests and benches")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--no-logprobs", action="store_true")
    args = parser.parse_args()
    with ChatServer(Behaviour(delay=args.delay, logprobs=not args.no_logprobs)) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin (or ends)
