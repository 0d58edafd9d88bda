"""Scale check of the statistics and the results page: 100,000 judgments, every statistic with 1,000 bootstrap
resamples in under 5 s, the results page in under 3 s (targets of issue 5), the verdict drawn within 1 s and a
restarted app showing the kept analysis at once (issue 11). Prints each measurement beside its target and the
ratio, all measured in this one run.

    python bench/analysis_scale.py [--judgments 100000] [--repeats 3] [--skip-page] [--skip-browser]

The statistics run on synthetic frames (tests/helpers/synthetic.py: 3 judgments per item, 10% flipped repeats,
10% gold, 2 criteria scored per output, 7 automatic metrics). The page is timed with Streamlit's AppTest
against a real DuckDB store holding the same judgments: a cold run (load + analysis, nothing cached; only
Streamlit's own once-per-server start-up is done before, as a running server has), a warm run (the analysis
cached per campaign and data version, as when a researcher changes a filter) and a restart (Streamlit's
in-memory caches cleared, the analysis kept on disk by annotations/report/results_cache.py).

AppTest returns only when the whole script has run, so the time until the verdict is drawn is measured in a
real browser: the app as a server (`streamlit run`), a researcher logged in with Chromium clicks Results; the
clock runs from the click until the verdict's win rate shows, and until every tab is filled (the progress line
gone and the plan drawn). Then the server is restarted and the same is timed again (the analysis read from
disk). This is done `--repeats` times, each cold visit on a fresh server with no analysis on disk, and the
median is printed with every run beside it: one visit varied by 0.3-0.5 s from run to run on the same quiet
machine. The browser runs on the same cores as the server. (The statistics row is the best of `--repeats`, as
before.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the test helpers: tests/helpers/

from helpers.run_folders import write_run_folder  # noqa: E402
from helpers.synthetic import make_campaign  # noqa: E402

import jobs  # noqa: E402, F401  (AppTest puts pages/ first on sys.path: pages/jobs.py must not shadow the package)
from annotations import stats  # noqa: E402
from annotations.stats import AnalysisOptions  # noqa: E402

METRICS = ("rouge1", "rouge2", "rougeL", "sentence_bleu", "bertscore_f1")


def frames(n_judgments: int, seed: int = 0):
    n_items = int(round(n_judgments / (3 * 1.1)))  # k = 3, plus 10% repeats
    c = make_campaign(n_items=n_items, n_annotators=60, k=3, criteria=("fluency", "relevance"), seed=seed)
    rng = np.random.default_rng(seed)
    good = c.metrics[c.metrics["metric"] == "good_metric"]
    extra = [
        good.assign(metric=m, value=good["value"] + rng.normal(0, 1 + i, len(good)))
        for i, m in enumerate(METRICS)
    ]
    c.metrics = pd.concat([c.metrics, *extra], ignore_index=True)
    return c


def time_analysis(c, repeats: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of every statistic as the results page computes it (the threaded stages
    of `annotations.report.analysis_stages`, the same numbers as the plain `analyze`; CPU time shows what a
    machine shared with other work costs us)."""
    from annotations.report.analysis_stages import AnalysisStages

    wall, cpu = [], []
    for _ in range(repeats):
        stats.item_weights.cache_clear()  # cold: nothing shared with the previous run
        started, started_cpu = time.perf_counter(), time.process_time()
        AnalysisStages(c.judgments, c.scores, c.metrics, AnalysisOptions(n_boot=1000)).result()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return wall, cpu


def build_store(c, folder: Path) -> tuple[Path, str]:
    """A real store: a campaign created from a run folder, then the synthetic judgments bulk-inserted."""
    from annotations import store
    from annotations.accounts import users
    from annotations.campaigns import CampaignConfig, create_campaign

    n_items = len(c.items)
    run_dir = write_run_folder(folder / "runs" / "run-1", n_items=n_items)
    path = folder / "app.duckdb"
    con = store.connect(path)
    cid = create_campaign(con, CampaignConfig(name="scale", run_dir=str(run_dir), k=3))
    rename = {f"item-{i:05d}": f"item-{i:03d}" for i in range(n_items)}
    j = c.judgments.assign(item_id=c.judgments["item_id"].map(rename), campaign_id=cid)
    naive = {col: j[col].dt.tz_convert("UTC").dt.tz_localize(None) for col in ("served_at", "submitted_at")}
    j = j.assign(**naive)
    assignments = pd.DataFrame(
        {
            "assignment_id": j["assignment_id"],
            "campaign_id": cid,
            "item_id": j["item_id"],
            "annotator_id": j["annotator_id"],
            "shown_left": j["shown_left"],
            "shown_right": j["shown_right"],
            "status": "submitted",
            "is_gold": j["is_gold"],
            "is_repeat": j["is_repeat"],
            "repeat_of": j["repeat_of"],
            "served_at": j["served_at"],
            "lease_expires_at": j["submitted_at"],
            "submitted_at": j["submitted_at"],
        }
    )
    judgments = j[
        [
            "judgment_id",
            "assignment_id",
            "campaign_id",
            "item_id",
            "annotator_id",
            "version",
            "choice",
            "winner",
            "comment",
            "served_at",
            "submitted_at",
            "duration_s",
        ]
    ]
    scores = c.scores.merge(j[["judgment_id", "shown_left"]], on="judgment_id")
    scores = pd.DataFrame(
        {
            "judgment_id": scores["judgment_id"],
            "criterion": scores["criterion"],
            "side": np.where(scores["system"] == scores["shown_left"], "left", "right"),
            "system": scores["system"],
            "score": scores["score"],
        }
    )
    for name, frame in (("assignments", assignments), ("judgments", judgments), ("judgment_scores", scores)):
        con.register("bulk", frame)
        con.execute(f"INSERT INTO {name} SELECT * FROM bulk")
        con.unregister("bulk")
    users.create_user(con, "bench", "ledger-prism-walnut-71", "researcher")
    con.close()
    return path, cid


def streamlit_started(at) -> float:
    """Does once what a Streamlit server does once when it starts (Runtime.__init__), not on any page
    visit: scan the installed packages for components. AppTest does it inside the first run of each
    AppTest, so without this the cold page would be charged about half a second no researcher ever waits
    for. Nothing of the page, its data or its statistics is computed or cached here. Returns the seconds it
    took (printed beside)."""
    from streamlit.components.v2.component_manager import BidiComponentManager

    if not hasattr(at, "_bidi_component_manager"):  # another Streamlit: leave AppTest as it is
        return float("nan")
    started = time.perf_counter()
    manager = BidiComponentManager()
    manager.discover_and_register_components(start_file_watching=False)
    at._bidi_component_manager = manager
    return time.perf_counter() - started


def time_page(path: Path) -> dict[str, float]:
    """Seconds of: loading the frames from the store, Streamlit's start-up, the cold page, a warm rerun (new
    filter) and the page after a restart (in-memory caches cleared, the analysis on disk)."""
    os.environ["FT_APP_DB"] = str(path)
    os.environ.setdefault("FT_ADMIN_PASSWORD", "bench-cobalt-heron-88")
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from annotations.accounts import sessions, users
    from annotations.campaigns import list_campaigns
    from annotations.report import load_campaign
    from annotations.store import connect
    from pages.shared import SESSION_KEY, store

    con = connect(path, read_only=True)
    cid = list_campaigns(con)["campaign_id"].iloc[0]
    researcher = users.list_users(con).query("username == 'bench'")["user_id"].iloc[0]
    started = time.perf_counter()
    load_campaign(con, cid)
    load_s = time.perf_counter() - started
    con.close()
    session_id = sessions.start(store(), researcher).session_id  # logged in as the login page does

    def page() -> AppTest:
        at = AppTest.from_file(str(ROOT / "pages" / "results.py"), default_timeout=300)
        at.session_state[SESSION_KEY] = session_id
        return at

    def timed_run(at: AppTest) -> float:
        started = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - started
        if at.exception:
            raise RuntimeError(at.exception[0].value)
        if not any(m.label.endswith("win rate (drop)") for m in at.metric):
            raise RuntimeError(f"the page shows no verdict: {[e.value for e in at.error + at.info]}")
        return seconds

    at = page()
    figures = {"load": load_s, "startup": streamlit_started(at), "cold": timed_run(at)}
    started = time.perf_counter()
    at.selectbox(key="criterion").set_value("fluency").run()
    figures["warm"] = time.perf_counter() - started
    st.cache_data.clear()  # what a restart forgets; the disk keeps the analysis
    st.cache_resource.clear()
    figures["restart"] = timed_run(page())
    from pages import shared

    shared._STORES.pop(str(path.resolve())).close()  # the server started next must be the store's only writer
    return figures


def time_browser(folder: Path, path: Path, repeats: int) -> dict[str, list[float]]:
    """In Chromium against `streamlit run`: seconds from clicking Results until the verdict shows and until
    every tab is filled, on a fresh server (nothing computed) and after a restart (the analysis on disk);
    `repeats` times each (a fresh server and no analysis on disk before every cold visit)."""
    import asyncio

    from helpers.streamlit_server import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, log_in
    from playwright.async_api import async_playwright

    from annotations.report import results_cache

    server = StreamlitServer(folder)
    server.db_path = path  # the store with the judgments (its folder also holds the analysis cache)
    os.environ["FT_APP_DB"] = str(path)

    async def visit(browser) -> tuple[float, float]:
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        page.set_default_timeout(300_000)
        await log_in(page, server.url, "bench", "ledger-prism-walnut-71")
        started = time.perf_counter()
        await page.get_by_role("link", name="Results").click()
        await page.get_by_text("win rate (drop)").first.wait_for()
        verdict = time.perf_counter() - started
        await page.get_by_text("How many more judgments?").wait_for()
        await page.get_by_text("Computing statistics").wait_for(state="detached")
        whole = time.perf_counter() - started
        await context.close()
        return verdict, whole

    async def run() -> dict[str, list[float]]:
        figures: dict[str, list[float]] = {}
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            for _ in range(repeats):
                for old in results_cache.cache_folder().glob("*.pkl"):
                    # the AppTest runs and the previous repeat kept one: the fresh server must compute
                    old.unlink()
                for label in ("cold", "restart"):
                    server.start(timeout=120)
                    try:
                        verdict, whole = await visit(browser)
                    finally:
                        server.stop()
                    figures.setdefault(f"{label} verdict", []).append(verdict)
                    figures.setdefault(f"{label} whole", []).append(whole)
            await browser.close()
        return figures

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-page", action="store_true")
    parser.add_argument("--skip-browser", action="store_true", help="no Chromium timing of the verdict")
    args = parser.parse_args()
    c = frames(args.judgments)
    print(
        f"campaign: {len(c.judgments):,} judgments, {len(c.items):,} items, "
        f"{c.judgments['annotator_id'].nunique()} annotators, {len(c.scores):,} scores, "
        f"{c.metrics['metric'].nunique()} metrics; cores: {os.cpu_count()}, load average now: "
        f"{os.getloadavg()[0]:.1f}"
    )
    wall, cpu = time_analysis(c, args.repeats)
    best, median = min(wall), statistics.median(wall)
    print(f"{'measurement':<52} {'seconds':>8} {'target':>7} {'ratio':>6}")
    label = f"all statistics, 1,000 resamples (best of {args.repeats})"
    print(f"{label:<52} {best:8.2f} {5:7.1f} {best / 5:6.2f}")
    print(f"{'all statistics, 1,000 resamples (median)':<52} {median:8.2f} {5:7.1f} {median / 5:6.2f}")
    print(f"{'  CPU seconds of those runs (median)':<52} {statistics.median(cpu):8.2f}")
    if args.skip_page:
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path, _ = build_store(c, Path(tmp))
        print(f"{'(setup: store with the judgments)':<52} {time.perf_counter() - started:8.2f}")
        page = time_page(path)
        browser = {} if args.skip_browser else time_browser(Path(tmp), path, args.repeats)
    print(f"{'load frames from DuckDB':<52} {page['load']:8.2f}")
    print(f"{'(Streamlit start-up, once per server; not in cold)':<52} {page['startup']:8.2f}")
    rows = [
        ("results page, cold (load + every statistic)", page["cold"], 3),
        ("results page, warm (cached analysis, new filter)", page["warm"], 3),
        ("results page after an app restart (kept on disk)", page["restart"], 1),
    ]
    for label, seconds, target in rows:
        print(f"{label:<52} {seconds:8.2f} {target:7.1f} {seconds / target:6.2f}")
    if browser:
        runs = len(browser["cold whole"])
        print(f"browser (median of {runs} fresh servers; every run in brackets)")
        for label, key, target in (
            ("browser, cold: click to verdict shown", "cold verdict", 1),
            ("browser, cold: click to every tab filled", "cold whole", 3),
            ("browser, after restart: click to verdict shown", "restart verdict", 1),
            ("browser, after restart: click to every tab filled", "restart whole", 3),
        ):
            seconds = statistics.median(browser[key])
            each = ", ".join(f"{s:.2f}" for s in browser[key])
            print(f"{label:<52} {seconds:8.2f} {target:7.1f} {seconds / target:6.2f}  [{each}]")


if __name__ == "__main__":
    main()
