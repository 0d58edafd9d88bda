"""What waiting feels like to annotators: concurrent scripted Chromium annotators on the real app.

    python bench/annotation_browser.py                        # 10 annotators, 20 pairs each, ~2 s thinking
    python bench/annotation_browser.py --annotators 4 --pairs 5 --think-ms 500     # quick python
    bench/annotation_browser.py --before /tmp/base --rounds 2    # against the code before, side by side

Starts the app (`streamlit run streamlit_app.py` on a free port, its own store in a temporary folder) with a
500-item campaign (k = 3) and one account per annotator, then drives one headless Chromium page per annotator
(Playwright, all at once): log in, and for every pair think for a while (exponential, mean `--think-ms`),
click "A is better", wait until the page has settled, click Submit, and stop the clock when the next pair's
texts are on screen. Prints p50/p95/max of that submit-to-next-pair time, the time a person waits after each
judgment (goal: p95 under 1 s), the app server's CPU per judged pair (counted once every annotator has logged
in), with the machine's load average before and after. Exits 1 when an annotator failed.

With `--before DIR` (a checkout of the code before, e.g. `git archive <commit> | tar -x -C /tmp/base`) the two
versions run one after the other, `--rounds` times in alternating order so that drifting machine load hits
both alike, and the figures are printed per version, pooled over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path[:0] = [
    str(Path(__file__).resolve().parent.parent),
    str(Path(__file__).resolve().parent.parent / "tests"),
]

from helpers.streamlit_server import CHROMIUM, CHROMIUM_ARGS, ROOT, StreamlitServer, log_in  # noqa: E402

from annotations import store  # noqa: E402
from annotations.accounts import users  # noqa: E402
from annotations.campaigns import CampaignConfig, create_campaign  # noqa: E402

# Waits in the page itself: a MutationObserver resolves as soon as the DOM shows what is awaited (no polling,
# which on 10 pages sharing 2 cores would itself cost CPU and delay what it measures).
_WAIT_FOR = """(args) => new Promise((resolve, reject) => {
    const [kind, previous, timeoutMs] = args;
    const leftText = () => {
        const columns = [...document.querySelectorAll("[data-testid='stColumn']")]
            .filter(c => c.querySelector("h3"));
        const left = columns.length ? columns[0].querySelector("[data-testid='stText']") : null;
        return left ? left.innerText : null;
    };
    const done = () => {
        if (document.querySelector("[data-stale='true']")) return false;
        if (kind === "settled") return !document.querySelector("[data-testid='stStatusWidget']");
        const text = leftText();
        return text !== null && text.length > 0 && text !== previous;  // the next pair's texts are on screen
    };
    if (done()) return resolve(leftText());
    const observer = new MutationObserver(() => {
        if (done()) { observer.disconnect(); clearTimeout(timer); resolve(leftText()); }
    });
    const timer = setTimeout(() => {
        observer.disconnect();
        reject(new Error(`page not ${kind} after ${timeoutMs} ms`));
    }, timeoutMs);
    observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
})"""
WAIT_TIMEOUT_MS = (
    120_000  # a page that never shows the next pair fails its annotator instead of hanging the run
)


async def wait_for(page, kind: str, previous: str | None = None) -> str | None:
    """Until the page has settled ("settled") or shows a pair other than `previous` ("next"); the left
    text."""
    return await page.evaluate(_WAIT_FOR, [kind, previous, WAIT_TIMEOUT_MS])


def write_outputs(path: Path, n_items: int, seed: int = 0) -> Path:
    """A CSV of item_id, system, output, source: every output names its item, so a new pair shows new text."""
    rng = np.random.default_rng(seed)
    words = ["model", "data", "result", "method", "we", "show", "that", "the", "a", "new"]
    rows = ["item_id,system,output,source"]
    for i in range(n_items):
        source = " ".join(rng.choice(words, size=60))
        for system in ("base", "finetuned"):
            rows.append(f"item-{i:05d},{system},Summary {i}: {' '.join(rng.choice(words, size=25))},{source}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _process_tree_cpu() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds so far) of every process on the machine (Linux /proc)."""
    found, tick = {}, os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_split(server_pid: int) -> tuple[float, float]:
    """CPU seconds used so far by the app server, and by every other process started from this script (the
    Playwright driver and the browsers)."""
    table = _process_tree_cpu()

    def tree(root: int) -> set[int]:
        members, grew = {root}, True
        while grew:
            more = {pid for pid, (parent, _) in table.items() if parent in members} - members
            members |= more
            grew = bool(more)
        return members

    server = tree(server_pid)
    ours = tree(os.getpid()) - server - {os.getpid()}
    return sum(table[p][1] for p in server if p in table), sum(table[p][1] for p in ours if p in table)


def prepare(server: StreamlitServer, folder: Path, annotators: int, n_items: int) -> list[tuple[str, str]]:
    """The campaign and one account per annotator, written before the app opens the store."""
    con = store.connect(server.db_path)
    try:
        csv = write_outputs(folder / "outputs.csv", n_items)
        create_campaign(con, CampaignConfig(name="browser bench", source_file=str(csv), k=3))
        accounts = []
        for i in range(annotators):
            username, password = f"reader{i:02d}", f"Quartz-Harbor-{i:02d}-violet-lantern"
            users.create_user(con, username, password, "annotator")
            accounts.append((username, password))
        return accounts
    finally:
        con.close()


async def annotate(
    browser,
    url: str,
    account: tuple[str, str],
    args,
    seed: int,
    waits: list[float],
    logging_in: asyncio.Lock,
    all_in: asyncio.Barrier,
) -> None:
    """One annotator: log in, wait for the others (`all_in`), then judge `args.pairs` pairs, timing each
    submit until the next pair shows."""
    rng = random.Random(seed)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(120_000)
    try:
        async with (
            logging_in
        ):  # one at a time: argon2 checks queue anyway, and a loaded machine made them time out
            await log_in(page, url, *account)
        await page.get_by_role("heading", name="Annotate").wait_for()
        shown = await wait_for(page, "next")
        await all_in.wait()  # the server's CPU for the pairs is counted from here, the logins apart
        for _ in range(args.pairs):
            await asyncio.sleep(rng.expovariate(1000 / args.think_ms) if args.think_ms else 0)
            await page.get_by_role("button", name="A is better").click()
            await page.get_by_text("Your choice: A is better").wait_for()
            await wait_for(page, "settled")
            started = time.perf_counter()
            await page.get_by_role("button", name="Submit").click()
            shown = await wait_for(page, "next", shown)
            waits.append(time.perf_counter() - started)
    except BaseException:
        await all_in.abort()  # the others would wait for this one forever
        raise
    finally:
        await context.close()


@dataclass
class Measured:
    """One version's figures, added up over its rounds."""

    waits: list[float] = field(default_factory=list)  # submit -> next pair, seconds
    errors: list[str] = field(default_factory=list)
    login_cpu: float = 0.0  # app server CPU seconds for the logins
    pair_cpu: float = 0.0  # app server CPU seconds once every annotator had logged in
    logins: int = 0


async def run(args, name: str, root: Path, measured: Measured) -> None:
    from playwright.async_api import async_playwright

    folder = Path(tempfile.mkdtemp(prefix="annotation_browser_"))
    server = StreamlitServer(folder)
    server.root = root  # the checkout that runs: this one, or the code before
    accounts = prepare(server, folder, args.annotators, args.items)
    server.start()
    waits: list[float] = []
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            server_before, _ = cpu_split(server.pid)
            logging_in, all_in = asyncio.Lock(), asyncio.Barrier(len(accounts) + 1)

            async def logged_in() -> float:
                await all_in.wait()
                return cpu_split(server.pid)[0]

            after_logins, *results = await asyncio.gather(
                logged_in(),
                *(
                    annotate(browser, server.url, acc, args, i, waits, logging_in, all_in)
                    for i, acc in enumerate(accounts)
                ),
                return_exceptions=True,
            )
            server_cpu, browser_cpu = cpu_split(server.pid)
            await browser.close()
    finally:
        server.stop()
    measured.errors += [
        f"{acc[0]}: {r!r}"[:300] for acc, r in zip(accounts, results) if isinstance(r, BaseException)
    ]
    print(
        f"  {name} ({root}): app server {server_cpu - server_before:.1f} s of CPU, browsers and driver "
        f"{browser_cpu:.0f} s (this machine runs all of them; a real annotator's browser runs on their own)"
    )
    if waits and not isinstance(after_logins, BaseException):
        measured.waits += waits
        measured.login_cpu += after_logins - server_before
        measured.pair_cpu += server_cpu - after_logins
        measured.logins += len(accounts)


def report(name: str, measured: Measured) -> None:
    """The version's submit -> next pair percentiles and the app server's CPU per judged pair."""
    if not measured.waits:
        print(f"{name}: no pair judged")
        return
    ms = np.array(measured.waits) * 1000
    print(
        f"{name}: app server CPU {measured.login_cpu:.1f} s for {measured.logins} logins, then "
        f"{measured.pair_cpu / len(ms) * 1000:.0f} ms per judged pair (a choice click and a Submit each); "
        f"submit -> next pair on screen: p50 {np.percentile(ms, 50):.0f} ms   p95 "
        f"{np.percentile(ms, 95):.0f} ms"
        f"   max {ms.max():.0f} ms   (n={len(ms)})"
    )
    print(f"[{'ok' if np.percentile(ms, 95) < 1000 else 'FAIL'}] {name}: p95 under 1 s (goal)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--annotators", type=int, default=10, help="concurrent Chromium annotators")
    parser.add_argument("--pairs", type=int, default=20, help="pairs each annotator judges")
    parser.add_argument("--think-ms", type=float, default=2000.0, help="mean pause before each judgment")
    parser.add_argument("--items", type=int, default=500, help="items in the campaign (k = 3)")
    parser.add_argument("--before", type=Path, help="a checkout of the code before, measured beside this one")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each version, in alternating order")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} missing (bash .ci/setup --with-browser)", file=sys.stderr)
        return 1
    versions = {"after": ROOT} if args.before else {"this checkout": ROOT}
    if args.before:
        versions["before"] = args.before.resolve()
    measured = {name: Measured() for name in versions}
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    for round_number in range(args.rounds):
        names = list(versions) if round_number % 2 == 0 else list(reversed(versions))
        for name in names:
            asyncio.run(run(args, name, versions[name], measured[name]))
    wall = time.perf_counter() - t0
    load_after = os.getloadavg()
    print(
        f"{args.annotators} Chromium annotators x {args.pairs} pairs, think {args.think_ms:g} ms, "
        f"{args.rounds} round(s), {os.cpu_count()} CPUs; {wall:.0f} s; load average {load_before[0]:.1f} "
        f"before, {load_after[0]:.1f} after"
    )
    for name, figures in measured.items():
        report(name, figures)
    if args.before and measured["before"].waits and measured["after"].waits:
        per_pair = {name: m.pair_cpu / len(m.waits) for name, m in measured.items()}
        print(f"app server CPU per judged pair, after / before: {per_pair['after'] / per_pair['before']:.2f}")
    errors = [error for figures in measured.values() for error in figures.errors]
    for error in errors:
        print(f"[FAIL] {error}")
    return 1 if errors or any(not m.waits for m in measured.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
