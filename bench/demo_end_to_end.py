"""The embedded demo end to end, as a new user meets it: the app started exactly as the README's first command
starts it (`.venv/bin/streamlit run streamlit_app.py`, no extra flag), a browser logged in as `admin`, one
click on **Run the demo** on Home, and the clock stopped when Home offers the demo's results ("See the demo's
results").

Only what the README leaves open is set, through the environment: a fresh store and runs folder (FT_APP_DB,
FT_RUNS_DIR), the admin password (FT_ADMIN_PASSWORD) and a free port (STREAMLIT_SERVER_PORT). Prints the time
from the click until each step shows *done* on Home (the page refreshes its steps every 2 s), the total, the
machine's load average before and after, and the CPU seconds of the app server and of the jobs it ran and
reaped (from /proc: on a busy shared machine the wall time mostly measures the other processes, the CPU
seconds do not). The demo model must have been converted already (`.ci/setup` does it).

With `--dpo` it goes on with the demo's optional second part, as a user would: one click on **Tune on the
simulated preferences (DPO)** once the first part offers its results, and the clock stopped when Home offers
the three-system ranking ("See the three-system ranking"); its steps are timed the same way.

    .venv/bin/python bench/demo_end_to_end.py [--dpo] [--keep DIR] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers.streamlit_server import CHROMIUM, CHROMIUM_ARGS, free_port, start_as_readme, stop_process  # noqa: E402

from jobs.demo import DPO_STEP_NAMES, STEP_NAMES  # noqa: E402

STEPS = tuple(STEP_NAMES.values())  # the names Home gives the demo's steps (jobs.demo.status), in order
DPO_STEPS = tuple(DPO_STEP_NAMES.values())  # the second part's
RESULTS = "See the demo's results"
DPO_START = "Tune on the simulated preferences (DPO)"
DPO_RESULTS = "See the three-system ranking"
PASSWORD = "bench-granite-harbor-7f3c-lantern"


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(the process's own CPU seconds, those of its reaped children) from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def short(step: str) -> str:
    """'Train a small LoRA on SciTLDR-A' -> 'Train a small LoRA'; 'Score them (BLEU, ...)' -> 'Score them'."""
    return step.split(" (")[0].split(" on ")[0]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def watch(
    page, steps: tuple[str, ...], done: str, failure: str, timeout: float, clicked: float
) -> tuple[float, dict[str, float], bool]:
    """Watch Home's progress bars from the click (`clicked`, monotonic) until the `done` button shows (ok),
    the `failure` text or the timeout; returns (seconds, seconds to each step's end, ok)."""
    ended: dict[str, float] = {}
    results = page.get_by_role("button", name=done)
    failed = page.get_by_text(failure)
    while time.monotonic() - clicked < timeout:
        if results.count():
            break
        if failed.count():
            print("FAILED:\n" + "\n".join(page.locator("[data-testid='stProgress']").all_inner_texts()))
            return time.monotonic() - clicked, ended, False
        for text in page.locator("[data-testid='stProgress']").all_inner_texts():
            for step in steps:
                if text.replace("\\", "").find(f"{step}: done") >= 0 and step not in ended:
                    ended[step] = time.monotonic() - clicked
                    print(f"{ended[step]:7.1f} s  {step}: done  (load {load()})", flush=True)
        page.wait_for_timeout(500)
    return time.monotonic() - clicked, ended, bool(results.count())


def summary(steps: tuple[str, ...], ended: dict[str, float], total: float) -> str:
    """'Train a small LoRA 40 s; Generate 30 s; ...': each step's own time, in order."""
    previous, parts = 0.0, []
    for step in [s for s in steps if s in ended]:
        parts.append(f"{short(step)} {ended[step] - previous:.0f} s")
        previous = ended[step]
    rest = [short(s) for s in steps if s not in ended]  # Home went on to the results before showing them done
    if rest:
        parts.append(f"{' + '.join(rest)} {total - previous:.0f} s")
    return "; ".join(parts)


def run_dpo_part(page, timeout: float) -> tuple[float, dict[str, float], bool]:
    """On a finished demo's Home: click the DPO part's button, watch until the three-system ranking shows."""
    start = page.get_by_role("button", name=DPO_START)
    start.wait_for(timeout=60_000)
    clicked = time.monotonic()
    start.click()
    return watch(page, DPO_STEPS, DPO_RESULTS, "A step of the DPO part failed", timeout, clicked)


def run_demo(url: str, timeout: float, dpo: bool = False) -> tuple[float, dict[str, float], bool]:
    """Log in, click Run the demo, watch Home; returns (total s, seconds from the click to each step's end,
    ok). With `dpo`, then the second part (printed as it ends)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("textbox", name="Username").fill("admin")
        page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        run = page.get_by_role("button", name="Run the demo")
        run.wait_for(timeout=120_000)
        clicked = time.monotonic()
        run.click()
        total, ended, ok = watch(page, STEPS, RESULTS, "A step of the demo failed", timeout, clicked)
        if ok and dpo:
            print(f"first part: {total:.0f} s; now the DPO part (load {load()})", flush=True)
            dpo_total, dpo_ended, dpo_ok = run_dpo_part(page, timeout)
            print(
                f"DPO part {'finished' if dpo_ok else 'FAILED or timed out'}: {dpo_total:.0f} s "
                f"({dpo_total / 60:.1f} min) from its click until Home offered the ranking "
                f"({summary(DPO_STEPS, dpo_ended, dpo_total)}); load after: {load()}",
                flush=True,
            )
            ok = dpo_ok
        browser.close()
    return total, ended, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--keep", help="folder for the store, runs and the app's log (default: a temporary one)"
    )
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--dpo", action="store_true", help="then the demo's DPO part, timed on its own")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="demo-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"load before: {load()} on {os.cpu_count()} cores; folder {folder}", flush=True)
    port = free_port()
    app = start_as_readme(folder, port, PASSWORD, folder / "streamlit.log")
    try:
        total, ended, ok = run_demo(f"http://127.0.0.1:{port}", args.timeout, dpo=args.dpo)
        own, jobs = cpu_seconds(app.pid)
    finally:
        stop_process(app)
    outcome = "finished" if ok else "FAILED or timed out"
    print(
        f"demo {outcome}: {total:.0f} s ({total / 60:.1f} min) from the click until Home offered its results "
        f"({summary(STEPS, ended, total)}); app server {own:.0f} CPU-s, its jobs {jobs:.0f} CPU-s"
        f"{' (both parts)' if args.dpo else ''}; load after: {load()}",
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
