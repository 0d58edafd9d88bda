"""Endpoint judge speed: concurrent requests against sequential ones, side by side, same verdicts.

A real chat-completions server on localhost (tests/helpers/chat_server.py, `http.server` with a thread per
request, in a process of its own as a real server would be) answers every request after `--latency` seconds
(50 ms by default, a fast hosted or local inference server). The same run folder (`--pairs` pairs, each judged
in both orders) is judged by `python -m ft_core judge`'s own code (`run_judge`, backend=endpoint) with
`concurrency=1` and with `--concurrency`; the script checks both wrote the same verdicts and prints pairs/s
and the ratios: of the requests (the judging stage) and of the whole job (with reading the pairs, cutting the
sources, the token estimate and the records, the same work on both sides). What it measures is the client
side: the bounded thread pool, the openai client's connection reuse, appending a record per pair.

    python bench/judge_endpoint.py                     # about 10 s
    python bench/judge_endpoint.py --pairs 100 --concurrency 32
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the server takes per answer")
    args = parser.parse_args()

    import openai  # noqa: F401  (imported once, outside the timings: about 2 s)
    from helpers.run_folders import write_run_folder

    from ft_core import runfolder
    from ft_core.judge import JudgeConfig, run_judge
    from ft_core.judge.endpoint import EndpointJudge, counting_tokenizer

    class Timed(EndpointJudge):
        """The endpoint judge, timing its requests (the job's other stages are the same for both sides)."""

        def judge(self, requests, on_verdict):
            started = time.perf_counter()
            super().judge(requests, on_verdict)
            self.seconds = time.perf_counter() - started

    counting_tokenizer()  # loaded once, outside the timings
    seconds, request_seconds, verdicts = {}, {}, {}
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "helpers" / "chat_server.py"), "--delay", str(args.latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    base_url = server.stdout.readline().strip()
    with tempfile.TemporaryDirectory() as tmp:
        run = write_run_folder(Path(tmp) / "run", n_items=args.pairs)
        for name, concurrency in (("sequential", 1), ("concurrent", args.concurrency)):
            cfg = JudgeConfig(
                run_dir=str(run),
                name=name,
                backend="endpoint",
                base_url=base_url,
                model_name="bench",
                concurrency=concurrency,
            )
            judge = Timed(cfg)
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                run_judge(cfg, judge)
            seconds[name] = time.perf_counter() - started
            request_seconds[name] = judge.seconds
            frame = runfolder.read_verdicts(run, name).sort_values("item_id")
            verdicts[name] = frame[["item_id", "ab_label", "ba_label", "verdict"]].to_numpy().tolist()
    with urllib.request.urlopen(base_url + "/stats") as answer:
        stats = json.loads(answer.read())
    server.stdin.close()
    server.wait(timeout=10)
    requests, in_flight = stats["requests"], stats["max_in_flight"]
    assert verdicts["sequential"] == verdicts["concurrent"], "the two runs wrote different verdicts"
    print(
        f"endpoint judge: {args.pairs} pairs x 2 orders against a local chat-completions server answering in "
        f"{args.latency * 1000:.0f} ms; {requests} requests in all, at most {in_flight} in flight"
    )
    for name, value in seconds.items():
        print(
            f"  {name:<11} {value:7.2f}s  {args.pairs / value:7.1f} pairs/s  (the whole job; its requests "
            f"{request_seconds[name]:.2f}s, {2 * args.pairs / request_seconds[name]:.1f} requests/s)"
        )
    print(
        f"speed-up of concurrency {args.concurrency} over sequential: "
        f"{request_seconds['sequential'] / request_seconds['concurrent']:.1f}x the requests, "
        f"{seconds['sequential'] / seconds['concurrent']:.1f}x the whole job"
    )


if __name__ == "__main__":
    main()
