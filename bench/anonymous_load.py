"""An annotator's submit on the real app while unauthenticated clients load the login page or guess passwords,
idle against flooded, this checkout against the code before, side by side in one run.

    python bench/anonymous_load.py --before /tmp/base        # /tmp/base: the code before, see below
    python bench/anonymous_load.py --rounds 2 --pairs 8      # this checkout alone, quicker

Each code version runs as `streamlit run streamlit_app.py` on a free port with its own store (a k=1 campaign,
the annotator anna, logged in through the app's own cookie route). The annotator is a websocket client
speaking Streamlit's protocol, as the browser does: it clicks "A is better", then Submit, and the clock runs
from sending Submit until the run that stores the judgment and draws the next pair has finished (the submit
latency). Beside it, `--clients` unauthenticated clients (8, as in issue 20's measurement) in one of these
ways:
- idle: none.
- login page: each opens a new websocket, loads the login page, closes it and starts again at once (a session
  set-up and a page run each time: the issue's "8 clients merely loading the login page").
- login page, bounded: the same, but the clients together open no more streams than the proxy lets one address
  open (deploy/nginx.conf's `limit_req` on /_stcore/stream: its rate, with its burst spent first) and hold no
  more than its `limit_conn` at once.
- guessing: each keeps its websocket and submits the login form with a wrong password as fast as it is
  answered
  (the throttle refuses almost all: what remains is the page run).
The versions and scenarios alternate within each round, so drifting machine load hits all alike. Prints per
version and scenario the submit p50 / p95 and the ratio to that version's idle p50, the anonymous page runs
served, and the server's CPU milliseconds per anonymous run (from /proc/<pid>/stat), with the load average.

"before": a checkout of the code before the change, e.g.
    mkdir /tmp/base && git archive <commit> | tar -x -C /tmp/base && ln -s "$PWD/.venv" /tmp/base/.venv
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import websockets  # noqa: E402
from helpers.run_folders import write_run_folder  # noqa: E402
from helpers.streamlit_server import StreamlitServer  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from annotations import store  # noqa: E402
from annotations.accounts import sessions, users  # noqa: E402
from annotations.campaigns import CampaignConfig, create_campaign  # noqa: E402

PASSWORD = "velvet-harbor-pines-29"
SCENARIOS = ("idle", "login page", "login page, bounded", "guessing")


class Page:
    """One Streamlit websocket session: rerun (optionally with widget states) and read what the run drew."""

    def __init__(self, url: str, cookie: str | None = None) -> None:
        self.url, self.cookie, self.ws = url.replace("http", "ws") + "/_stcore/stream", cookie, None

    async def open(self) -> None:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.ws = await websockets.connect(
            self.url, subprotocols=["streamlit"], max_size=None, additional_headers=headers
        )

    async def close(self) -> None:
        await self.ws.close()

    async def run(self, widgets: list | None = None) -> list:
        """Rerun with these WidgetState values; returns the elements drawn, once the run has finished."""
        message = BackMsg()
        message.rerun_script.query_string = ""
        for state in widgets or []:
            message.rerun_script.widget_states.widgets.append(state)
        await self.ws.send(message.SerializeToString())
        elements = []
        while True:
            forward = ForwardMsg()
            forward.ParseFromString(await self.ws.recv())
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                elements.append(forward.delta.new_element)
            elif kind == "script_finished":
                return elements


def _widget(element_kind: str, elements: list, label: str | re.Pattern):
    for element in elements:
        if element.WhichOneof("type") == element_kind:
            proto = getattr(element, element_kind)
            if label.search(proto.label) if isinstance(label, re.Pattern) else proto.label == label:
                return proto
    raise LookupError(f"no {element_kind} {label!r} drawn")


def _trigger(widget_id: str):
    state = BackMsg().rerun_script.widget_states.widgets.add()
    state.id, state.trigger_value = widget_id, True
    return state


def _text(widget_id: str, value: str):
    state = BackMsg().rerun_script.widget_states.widgets.add()
    state.id, state.string_value = widget_id, value
    return state


class App:
    """One code version's server with its store: a campaign, anna and the cookie of a session of hers."""

    def __init__(self, name: str, root: Path, folder: Path, n_items: int) -> None:
        self.name = name
        self.server = StreamlitServer(folder)
        self.server.root = root
        con = store.connect(self.server.db_path)
        run = write_run_folder(folder / "runs" / "run-1", n_items=n_items)
        create_campaign(con, CampaignConfig(name="bench", run_dir=str(run), k=1))
        anna = users.create_user(con, "anna", PASSWORD)
        self.ticket = sessions.start(con, anna.user_id).ticket
        con.close()

    def start(self) -> None:
        self.server.start()
        request = urllib.request.Request(
            f"{self.server.url}/_ft/session",
            data=self.ticket.encode(),
            method="POST",
            headers={"Origin": self.server.url},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            self.cookie = response.headers["set-cookie"].split(";")[0]

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def annotate(app: App, n_pairs: int) -> list[float]:
    """Submit latencies (s) of n_pairs judgments: choose A, then the timed Submit."""
    page = Page(app.server.url, app.cookie)
    await page.open()
    elements = await page.run()
    times = []
    try:
        for _ in range(n_pairs):
            choose = _widget("button", elements, re.compile(r"^A is better$"))
            elements = await page.run([_trigger(choose.id)])
            submit = _widget("button", elements, "Submit")
            t0 = time.perf_counter()
            elements = await page.run([_trigger(submit.id)])
            times.append(time.perf_counter() - t0)
    finally:
        await page.close()
    return times


class Flood:
    """`clients` anonymous clients in one scenario's way until stopped; counts the page runs served."""

    def __init__(self, app: App, scenario: str, clients: int, limits: tuple[float, int, int]) -> None:
        self.app, self.scenario, self.clients = app, scenario, clients
        self.per_second, burst, self.max_conns = limits
        self.tokens = float(burst)  # a token bucket as nginx's limit_req: burst first, then the rate
        self.refilled = time.monotonic()
        self.open_now = 0
        self.runs = 0
        self.stop = asyncio.Event()

    async def _may_open(self) -> bool:
        if self.scenario != "login page, bounded":
            return True
        now = time.monotonic()
        self.tokens = min(self.tokens + (now - self.refilled) * self.per_second, self.tokens + 1e9)
        self.refilled = now
        if self.tokens >= 1 and self.open_now < self.max_conns:
            self.tokens -= 1
            return True
        return False

    async def _login_pages(self) -> None:
        while not self.stop.is_set():
            if not await self._may_open():
                await asyncio.sleep(0.05)  # refused by the proxy (503): the client tries again
                continue
            page = Page(self.app.server.url)
            self.open_now += 1
            try:
                await page.open()
                await page.run()
                self.runs += 1
                await page.close()
            finally:
                self.open_now -= 1

    async def _guess(self, number: int) -> None:
        page = Page(self.app.server.url)
        await page.open()
        elements = await page.run()
        self.runs += 1
        name = _widget("text_input", elements, "Username").id
        password = _widget("text_input", elements, "Password").id
        submit = _widget("button", elements, "Log in").id
        attempt = 0
        while not self.stop.is_set():
            attempt += 1
            await page.run(
                [_text(name, "admin"), _text(password, f"guess-{number}-{attempt}"), _trigger(submit)]
            )
            self.runs += 1
        await page.close()

    async def __aenter__(self) -> Flood:
        if self.scenario == "guessing":
            self.tasks = [asyncio.create_task(self._guess(n)) for n in range(self.clients)]
        else:
            self.tasks = [asyncio.create_task(self._login_pages()) for _ in range(self.clients)]
        await asyncio.sleep(1.0)  # under way before the clock starts
        return self

    async def __aexit__(self, *exc) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def proxy_limits() -> tuple[float, int, int]:
    """(new streams per second, burst, connections at once) for one address, read from deploy/nginx.conf."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    rate = re.search(r"limit_req_zone\s+\S+\s+zone=ft_stream_req:\S+\s+rate=(\d+)r/(s|m)", text)
    burst = re.search(r"limit_req\s+zone=ft_stream_req\s+burst=(\d+)", text)
    conns = re.search(r"limit_conn\s+ft_stream_conn\s+(\d+)", text)
    if not (rate and burst and conns):
        raise SystemExit("deploy/nginx.conf has no ft_stream_req / ft_stream_conn limits")
    per_second = int(rate.group(1)) / (60 if rate.group(2) == "m" else 1)
    return per_second, int(burst.group(1)), int(conns.group(1))


async def measure(apps: list[App], args: argparse.Namespace) -> dict:
    limits = proxy_limits()
    times = {(a.name, s): [] for a in apps for s in SCENARIOS}
    runs = {(a.name, s): [0, 0.0] for a in apps for s in SCENARIOS}  # anonymous runs, server CPU seconds
    for app in apps:
        await annotate(app, 3)  # warm up
    for round_no in range(args.rounds):
        order = [(a, s) for s in SCENARIOS for a in apps]
        shift = round_no % len(order)
        for app, scenario in order[shift:] + order[:shift]:
            cpu = app.cpu_s()
            if scenario == "idle":
                times[(app.name, scenario)] += await annotate(app, args.pairs)
                runs[(app.name, scenario)][1] += (
                    app.cpu_s() - cpu
                )  # the annotator's own share, subtracted below
                continue
            async with Flood(app, scenario, args.clients, limits) as flood:
                times[(app.name, scenario)] += await annotate(app, args.pairs)
            runs[(app.name, scenario)][0] += flood.runs
            runs[(app.name, scenario)][1] += app.cpu_s() - cpu
    return {"times": times, "runs": runs, "limits": limits}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout of the code before, measured beside this one")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=12, help="judgments per scenario and round")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        versions = [("after", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
        n_items = (args.rounds * len(SCENARIOS) * args.pairs + 10) * 2
        apps = [App(name, root, Path(tmp) / name, n_items) for name, root in versions]
        try:
            for app in apps:
                app.start()
            result = asyncio.run(measure(apps, args))
        finally:
            for app in apps:
                app.server.stop()
    load_after = os.getloadavg()
    per_second, burst, conns = result["limits"]
    print(
        f"submit latency of one annotator (websocket client) beside {args.clients} anonymous clients; "
        f"{args.rounds} rounds x {args.pairs} submits per version and scenario; bounded = "
        "deploy/nginx.conf's "
        f"{per_second * 60:g} new streams/min (burst {burst}), {conns} at once, per address; "
        f"{os.cpu_count()} CPUs; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    print(
        f"{'version':<8} {'scenario':<21} {'p50 ms':>8} {'p95 ms':>8} {'p50/idle':>9} {'anon runs':>10} "
        f"{'CPU ms/run':>11}"
    )
    for name, _ in versions:
        idle = statistics.median(result["times"][(name, "idle")])
        annotator_cpu = result["runs"][(name, "idle")][1]  # per scenario: the same submits, alone
        for scenario in SCENARIOS:
            sample = result["times"][(name, scenario)]
            n_runs, cpu = result["runs"][(name, scenario)]
            per_run = f"{(cpu - annotator_cpu) / n_runs * 1000:11.1f}" if n_runs else f"{'-':>11}"
            print(
                f"{name:<8} {scenario:<21} {statistics.median(sample) * 1000:8.0f} "
                f"{np.percentile(sample, 95) * 1000:8.0f} {statistics.median(sample) / idle:8.2f}x "
                f"{n_runs:10d} {per_run}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
