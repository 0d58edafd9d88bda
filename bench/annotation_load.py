"""Load and crash test of the annotation store: many simulated annotators in threads against a real DuckDB
file.

    python bench/annotation_load.py                      # 50 annotators, >= 5,000 submissions, kill -9 check
    python bench/annotation_load.py --annotators 20 --submissions 1000 --kill-after 0   # quick, no crash test

Two phases on one store file:
1. crash: a child process runs annotators and logs each judgment id only after `submit` returned; the parent
   kills it with SIGKILL mid-run, reopens the file (DuckDB replays its write-ahead log) and checks every
   logged judgment is there, and that no rule broke in the half-done campaign.
2. solo: one annotator alone, flat out, on a campaign of the same size: how long each call takes when it has
   the store to itself (the load phase's waits are that plus queueing behind the others, and behind any other
   process on the machine: the load phase prints its CPU per pair and the load average, so a busy machine
   shows).
3. load: in this (restarted) process, N annotator threads take pairs (`next_item`) and submit them with random
   choices and scores until every item of a fresh campaign has k judgments; ~3% of submits are sent twice (a
   double click). Prints submissions/s and p50/p99 latency of "next item" and "submit", then checks: no
   duplicate (item, annotator), no item above k, every item reaches k, zero lost judgments, and every
   annotator's left sides follow their own random block design (balanced within its bound at every point).
Exits 1 when a check fails (the latency goals and the per-item left/right balance are reported, not enforced:
sides come from each annotator's design, and items are only steered towards the side they need). Think
time (`--think-ms`, mean of an exponential pause before each action, default 1 s, so ~2 s per pair and ~25
pairs/s offered by 50 annotators: far faster than people, who take tens of seconds per pair) models reading;
0 measures the store flat out.

Several app processes on one PostgreSQL store (docs/deploy.md, section 9):

    python bench/annotation_load.py --processes 2 --annotators 100 --submissions 2000 --kill-one

starts N worker processes (each opens the store as an app process does: its own connection pool, its
annotators in threads), on `--store postgresql://...` or on a throw-away cluster it starts itself
(tests/helpers/postgres_server.py), and spreads the annotators over them round-robin. Each worker logs a
judgment id only after `submit` returned. Checks: 0 lost (every logged judgment stored), 0 duplicated (no
(item, annotator) twice, one version-1 judgment per assignment), leases honoured across processes (no item
above k, and at no moment more than k annotators holding an item: submitted assignments plus open ones whose
lease was running), every item at k. `--kill-one` sends kill -9 to the first worker once it has logged
judgments for `--kill-after` seconds: every judgment it had acknowledged must be in the store, and its
annotators are handed to another worker, where they continue (their open pairs are theirs again) until the
campaign is done.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotations import store  # noqa: E402
from annotations.campaigns import (  # noqa: E402
    CampaignConfig,
    campaign_config,
    campaign_design,
    create_campaign,
)
from annotations.judging import assignment, judgments

CRITERIA = ("fluency", "fidelity", "relevance")


def write_outputs(path: Path, n_items: int, seed: int = 0) -> Path:
    """A CSV of item_id, system, output, source, rougeL for two systems (outputs made 'elsewhere')."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_items):
        source = " ".join(rng.choice(["model", "data", "result", "method", "we", "show", "that"], size=40))
        for system in ("base", "finetuned"):
            words = rng.integers(8, 30)
            rows.append(
                {
                    "item_id": f"item-{i:05d}",
                    "system": system,
                    "source": source,
                    "output": " ".join(["word"] * words),
                    "rougeL": rng.random(),
                }
            )
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def new_campaign(con, folder: Path, name: str, n_items: int, k: int) -> str:
    csv = write_outputs(folder / f"{name}.csv", n_items)
    return create_campaign(con, CampaignConfig(name=name, source_file=str(csv), k=k))


def annotate(
    con, cid: str, annotator: str, think_s: float, rng: random.Random, stats: dict, log=None, limit=None
) -> None:
    """One simulated annotator: take a pair, think, submit (sometimes twice), until nothing is left (or
    `limit` pairs are judged)."""
    while limit is None or len(stats["created"]) < limit:
        if think_s:
            time.sleep(rng.expovariate(1 / think_s))
        t0 = time.perf_counter()
        pair = assignment.next_item(con, cid, annotator)
        stats["next"].append(time.perf_counter() - t0)
        if pair is None:
            return
        if think_s:
            time.sleep(rng.expovariate(1 / think_s))
        choice = rng.choice(["A", "B", "tie", "both_bad"])
        scores = {c: {"A": rng.randint(1, 5), "B": rng.randint(1, 5)} for c in CRITERIA}
        t0 = time.perf_counter()
        result = judgments.submit(con, pair.token, annotator, choice, scores)
        stats["submit"].append(time.perf_counter() - t0)
        if log is not None:
            log.write(result.judgment_id + "\n")
        stats["created"].append(result.judgment_id)
        if rng.random() < 0.03:  # a double click: must return the same judgment, create nothing
            again = judgments.submit(con, pair.token, annotator, choice, scores)
            stats["double"].append(again.judgment_id == result.judgment_id and not again.created)


def run_load(
    con, cid: str, annotators: int, think_s: float, seed: int, log=None, limit: int | None = None
) -> tuple[dict, float]:
    """Run `annotators` threads to the end; (stats, wall seconds). stats["cpu_s"]: this process's CPU
    seconds (all its threads, DuckDB's included), which other processes on the machine do not inflate."""
    stats: dict = {"next": [], "submit": [], "created": [], "double": [], "errors": []}
    cpu0 = time.process_time()

    def worker(i: int) -> None:
        try:
            annotate(
                con, cid, f"ann-bench-{i:03d}", think_s, random.Random(seed * 1000 + i), stats, log, limit
            )
        except Exception as e:  # reported as a failed check
            stats["errors"].append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(annotators)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats["cpu_s"] = time.process_time() - cpu0
    return stats, time.perf_counter() - t0


def _latencies(stats: dict) -> tuple[np.ndarray, np.ndarray]:
    return np.array(stats["next"]) * 1000, np.array(stats["submit"]) * 1000


def _percentiles(name: str, ms: np.ndarray) -> str:
    return (
        f"  {name:<10} p50 {np.percentile(ms, 50):6.1f} ms   p99 {np.percentile(ms, 99):6.1f} ms   "
        f"(n={len(ms)})"
    )


def checks(
    con, cid: str, k: int, created: list[str] | None, in_flight: int = 0
) -> list[tuple[str, bool, str]]:
    """(name, passed, detail) for every rule of the assignment and judgment store."""
    a = con.execute("SELECT * FROM assignments WHERE campaign_id = ?", [cid]).df()
    submitted = a[a.status == "submitted"]
    n_items = con.execute("SELECT count(*) FROM items WHERE campaign_id = ?", [cid]).fetchone()[0]
    per_item = submitted.groupby("item_id").size()
    dup = int(a.duplicated(["item_id", "annotator_id"]).sum())
    stored = {
        r[0]
        for r in con.execute(
            "SELECT judgment_id FROM judgments WHERE campaign_id = ? AND version = 1", [cid]
        ).fetchall()
    }
    per_assignment = con.execute(
        "SELECT max(c) FROM (SELECT count(*) c FROM judgments WHERE campaign_id = ? AND version = 1 GROUP BY "
        "assignment_id) AS per_assignment",  # PostgreSQL wants the alias
        [cid],
    ).fetchone()[0]
    # Sides: every annotator's regular pairs, in the order they were served, follow that annotator's design
    # slot by slot (annotations.judging.design), so they are balanced within the design's bound at every
    # point.
    design, system_a = campaign_design(con, cid), campaign_config(con, cid).system_a
    regular = a[~a.is_gold & ~a.is_repeat].sort_values("served_at")
    off_design, worst = [], 0
    for annotator, rows in regular.groupby("annotator_id"):
        sides = list(rows.shown_left == system_a)
        if sides != design.sides(annotator, len(sides)):
            off_design.append(annotator)
        worst = max(worst, int(np.abs(np.cumsum([1 if x else -1 for x in sides])).max()))
    # Items are steered towards the side they need, not forced: reported, not enforced.
    shown = a[a.status.isin(["submitted", "open"]) & ~a.is_gold & ~a.is_repeat]
    side = (shown.shown_left == system_a).astype(int) * 2 - 1
    item_balance = side.groupby(shown.item_id).sum().abs()
    n_annotators = regular.annotator_id.nunique()
    result = [
        ("no duplicate (item, annotator)", dup == 0, f"{dup} duplicates"),
        ("no item above k", bool((per_item <= k).all()), f"max {per_item.max()} judgments per item"),
        ("one version-1 judgment per assignment", (per_assignment or 0) <= 1, f"max {per_assignment}"),
        (
            "every annotator's sides follow their own random block design",
            not off_design and worst <= design.max_imbalance,
            f"{n_annotators - len(off_design)}/{n_annotators} annotators slot by slot; largest running "
            f"imbalance {worst} (bound {design.max_imbalance}, blocks "
            f"{'/'.join(map(str, design.block_sizes))})",
        ),
        (
            "left/right balance per item within +-1 (reported)",
            bool((item_balance <= 1).all()),
            f"{(item_balance <= 1).mean():.1%} of items within +-1, max {item_balance.max()}",
        ),
    ]
    if created is not None:
        lost = set(created) - stored
        result += [
            (
                "every item reaches k",
                len(per_item) == n_items and bool((per_item == k).all()),
                f"{int((per_item == k).sum())}/{n_items} items at k",
            ),
            (
                "zero lost judgments",
                # `in_flight`: submits a killed process may have committed without living to acknowledge them
                not lost and len(created) <= len(stored) <= len(created) + in_flight,
                f"{len(created)} returned, {len(stored)} stored, {len(lost)} lost"
                + (
                    f" (up to {in_flight} stored unacknowledged allowed: in flight at the kill)"
                    if in_flight
                    else ""
                ),
            ),
        ]
    return result


def child(args: argparse.Namespace) -> None:
    """Phase 1 body, in its own process: annotate and log each returned judgment id (killed from outside)."""
    con = store.connect(args.db)
    with open(args.log, "a", buffering=1) as log:
        run_load(con, args.child, args.annotators, 0.0, seed=1, log=log)


def held_at_once(con, cid: str) -> int:
    """The most annotators that ever held one item at the same moment: submitted assignments from when they
    were served, open ones while their lease ran (the k-limit of annotations.judging.assignment)."""
    rows = (
        store.read(con)
        .execute(
            "SELECT item_id, served_at, status, lease_expires_at FROM assignments WHERE campaign_id = ? "
            "AND status IN ('open', 'submitted') AND NOT is_gold AND NOT is_repeat",
            [cid],
        )
        .fetchall()
    )
    by_item: dict[str, list[tuple]] = {}
    for item_id, served_at, status, expires in rows:
        by_item.setdefault(item_id, []).append((served_at, status, expires))
    worst = 0
    for held in by_item.values():
        for moment, _, _ in held:
            at_once = sum(
                1
                for served, status, expires in held
                if served <= moment and (status == "submitted" or expires > moment)
            )
            worst = max(worst, at_once)
    return worst


def worker(args: argparse.Namespace) -> None:
    """One app process of `--processes`: opens the store, then runs one annotator thread per name read from
    stdin, until stdin closes and every thread is done. Logs `J <judgment id>` once `submit` returned."""
    con = store.connect(args.db)
    stats: dict = {"next": [], "submit": [], "created": [], "double": [], "errors": []}
    threads = []
    with open(args.log, "a", buffering=1) as log:

        def one(name: str, seed: int) -> None:
            rng = random.Random(seed)
            for attempt in range(3):  # an error on the page: the annotator tries again (their pair is kept)
                try:
                    annotate(con, args.worker, name, args.think_ms / 1000, rng, stats, _Prefixed(log))
                    return
                except Exception as e:  # reported to the parent through the log
                    log.write(f"{'E' if attempt == 2 else 'R'} {name} {type(e).__name__}\n")

        for line in sys.stdin:
            name = line.strip()
            if name:
                thread = threading.Thread(target=one, args=(name, hash(name) % 10**6))
                thread.start()
                threads.append(thread)
        for thread in threads:
            thread.join()
        cpu_s = time.process_time()
        log.write(
            f"S {len(stats['created'])} {cpu_s:.3f} {_ms(stats['next'], 50)} {_ms(stats['next'], 99)} "
            f"{_ms(stats['submit'], 50)} {_ms(stats['submit'], 99)}\n"
        )
    con.close()


class _Prefixed:
    """The worker's log as annotate() writes it: one `J <id>` line per acknowledged judgment."""

    def __init__(self, log) -> None:
        self.log = log

    def write(self, text: str) -> None:
        self.log.write("J " + text)


def _ms(seconds: list[float], q: float) -> str:
    return f"{np.percentile(np.array(seconds) * 1000, q):.1f}" if seconds else "nan"


def _postgres_store(args: argparse.Namespace, folder: Path):
    """(store address, cluster to stop or None): `--store`, or a throw-away cluster with a new database."""
    if args.store:
        return args.store, None
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from helpers.postgres_server import Cluster, find_bindir, with_database

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit(
            "no PostgreSQL here (pg_config, /usr/lib/postgresql/*/bin): pass --store postgresql://..."
        )
    cluster = Cluster(bindir)
    cluster.start()
    import psycopg

    with psycopg.connect(cluster.url, autocommit=True) as admin:
        admin.execute("CREATE DATABASE annotation_load")
    return with_database(cluster.url, "annotation_load"), cluster


def main_processes(args: argparse.Namespace) -> int:
    """`--processes N`: N app processes on one PostgreSQL store (see the module's docstring)."""
    folder = Path(tempfile.mkdtemp(prefix="annotation_load_"))
    url, cluster = _postgres_store(args, folder)
    try:
        return _run_processes(args, folder, url)
    finally:
        if cluster is not None:
            cluster.stop()


def _run_processes(args: argparse.Namespace, folder: Path, url: str) -> int:
    con = store.connect(url)
    n_items = math.ceil(args.submissions / args.k)
    cid = new_campaign(con, folder, "processes", n_items=n_items, k=args.k)
    print(
        f"store: PostgreSQL; {args.processes} processes, {args.annotators} annotators, {n_items} items, "
        f"k={args.k}, think {args.think_ms:g} ms; {os.cpu_count()} CPUs; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    names = [f"ann-bench-{i:03d}" for i in range(args.annotators)]
    logs = [folder / f"worker-{w}.log" for w in range(args.processes)]
    workers = []
    for w in range(args.processes):
        command = [sys.executable, __file__, "--worker", cid, "--db", url, "--log", str(logs[w])]
        command += ["--think-ms", str(args.think_ms)]
        workers.append(subprocess.Popen(command, stdin=subprocess.PIPE, text=True))
    for i, name in enumerate(names):
        workers[i % args.processes].stdin.write(name + "\n")
    for proc in workers:
        proc.stdin.flush()
    t0 = time.perf_counter()
    killed, moved = None, []
    if args.kill_one:
        deadline = time.monotonic() + 300
        while not _judged(logs[0]) and workers[0].poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(args.kill_after)
        os.kill(workers[0].pid, signal.SIGKILL)
        killed_at = store.utcnow()
        workers[0].wait()
        killed = 0
        moved = names[0 :: args.processes]
        survivor = workers[1]
        for name in moved:  # its annotators reconnect to another process and carry on
            survivor.stdin.write(name + "\n")
        survivor.stdin.flush()
        print(
            f"kill -9 of process 1 (pid {workers[0].pid}) {args.kill_after:g} s after its first judgment; "
            f"its {len(moved)} annotators continue on process 2"
        )
    for w, proc in enumerate(workers):
        if w != killed:
            proc.stdin.close()
    for w, proc in enumerate(workers):
        if w != killed:
            proc.wait()
    wall = time.perf_counter() - t0
    acknowledged, errors, retried, summaries = [], [], [], []
    for w, log in enumerate(logs):
        for line in log.read_text().splitlines() if log.exists() else []:
            kind, _, rest = line.partition(" ")
            if kind == "J":
                acknowledged.append((w, rest.strip()))
            elif kind == "E":
                errors.append(rest)
            elif kind == "R":
                retried.append(rest.split()[-1])
            elif kind == "S":
                summaries.append((w, rest.split()))
    created = [j for _, j in acknowledged]
    by_killed = {j for w, j in acknowledged if w == killed}
    stored = {
        r[0]
        for r in store.read(con)
        .execute("SELECT judgment_id FROM judgments WHERE campaign_id = ? AND version = 1", [cid])
        .fetchall()
    }
    n = len(created)
    print(
        f"\n{n} submissions acknowledged in {wall:.1f} s = {n / wall:.1f} submissions/s; load average "
        f"{os.getloadavg()[0]:.1f} after"
    )
    for w, (count, cpu_s, next50, next99, sub50, sub99) in summaries:
        print(
            f"  process {w + 1}: {count} submissions, CPU {float(cpu_s):.0f} s; next item p50 {next50} ms "
            f"p99 {next99} ms; submit p50 {sub50} ms p99 {sub99} ms"
        )
    worst = held_at_once(con, cid)
    results = [
        ("no annotator stopped by errors (3 tries)", not errors, "; ".join(errors[:3]) or "none"),
        (
            "no error an annotator saw, then tried again past (reported)",
            not retried,
            f"{len(retried)} ({', '.join(sorted(set(retried))) or 'none'})",
        ),
        # a submit in flight when the process died may be committed without its acknowledgement: at most one
        # per annotator of the killed process
        *checks(con, cid, args.k, created, in_flight=len(moved)),
        (
            "leases honoured across processes: at most k annotators hold an item at once",
            worst <= args.k,
            f"at most {worst} at once (k={args.k})",
        ),
    ]
    if killed is not None:
        lost = by_killed - stored
        results.append(
            (
                "kill -9: every judgment the killed process acknowledged is stored",
                bool(by_killed) and not lost,
                f"{len(by_killed)} acknowledged by it, {len(lost)} missing",
            )
        )
        results += _continued(con, cid, set(moved), killed_at)
    con.close()
    print("\nchecks:")
    for name, ok, detail in results:
        print(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}")
    hard = [r for r in results if not r[1] and not r[0].endswith("(reported)")]
    return 1 if hard else 0


def _continued(con, cid: str, moved: set[str], killed_at) -> list[tuple[str, bool, str]]:
    """Did the killed process's annotators carry on elsewhere? Every pair one of them held open when the
    process died (served before, not judged before) must end judged (by them: nobody else may take it while
    its lease runs); how many of them judged anything after the kill is reported (near the end of a campaign
    there may be nothing left for some)."""
    rows = (
        store.read(con)
        .execute(
            "SELECT a.annotator_id, a.served_at, a.status, j.submitted_at FROM assignments a "
            "LEFT JOIN judgments j ON j.assignment_id = a.assignment_id AND j.version = 1 "
            "WHERE a.campaign_id = ?",
            [cid],
        )
        .fetchall()
    )
    mine = [r for r in rows if r[0] in moved]
    held = [r for r in mine if r[1] <= killed_at and (r[3] is None or r[3] > killed_at)]
    finished = [r for r in held if r[2] == "submitted"]
    judged_after = {r[0] for r in mine if r[3] is not None and r[3] > killed_at}
    return [
        (
            "kill -9: its annotators continued on the other process (every pair they held judged after)",
            len(finished) == len(held),
            f"{len(finished)}/{len(held)} held pairs judged",
        ),
        (
            "kill -9: its annotators judged after the kill (reported)",
            len(judged_after) == len(moved),
            f"{len(judged_after)}/{len(moved)} annotators",
        ),
    ]


def _judged(log: Path) -> bool:
    return log.exists() and "J " in log.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--annotators", type=int, default=50, help="simulated annotators (threads)")
    parser.add_argument(
        "--submissions", type=int, default=5000, help="at least this many submissions in the load phase"
    )
    parser.add_argument("--k", type=int, default=3, help="judgments per item")
    parser.add_argument(
        "--think-ms", type=float, default=1000.0, help="mean pause before each action (0: flat out)"
    )
    parser.add_argument(
        "--kill-after",
        type=float,
        default=4.0,
        help="seconds after the crash phase's first judgment before kill -9; 0 skips it",
    )
    parser.add_argument(
        "--solo-pairs", type=int, default=300, help="pairs one annotator judges alone first (0 skips it)"
    )
    parser.add_argument("--db", default=None, help="store file (default: a new temporary one)")
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="N app processes on one PostgreSQL store (0: this process, DuckDB)",
    )
    parser.add_argument(
        "--store",
        default=None,
        help="with --processes: a postgresql:// store (default: a throw-away cluster)",
    )
    parser.add_argument(
        "--kill-one", action="store_true", help="with --processes: kill -9 one process mid-run (--kill-after)"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--log", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    if args.worker:
        worker(args)
        return 0
    if args.processes:
        if args.processes < 2:
            parser.error("--processes needs 2 or more (one process: leave it out)")
        return main_processes(args)

    folder = Path(tempfile.mkdtemp(prefix="annotation_load_"))
    path = Path(args.db) if args.db else folder / "bench.duckdb"
    results: list[tuple[str, bool, str]] = []
    print(
        f"store: {path}; {args.annotators} annotators, k={args.k}, think {args.think_ms:g} ms; "
        f"{os.cpu_count()} CPUs"
    )

    if args.kill_after > 0:
        con = store.connect(path)
        crash_cid = new_campaign(con, folder, "crash", n_items=2000, k=args.k)
        con.close()
        log = folder / "returned.txt"
        command = [
            sys.executable,
            __file__,
            "--child",
            crash_cid,
            "--db",
            str(path),
            "--log",
            str(log),
            "--annotators",
            str(args.annotators),
            "--k",
            str(args.k),
        ]
        proc = subprocess.Popen(command)
        # The clock starts at the child's first judgment: on a busy machine its start-up alone can take
        # seconds.
        deadline = time.monotonic() + 120
        while (
            not (log.exists() and log.stat().st_size) and proc.poll() is None and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        time.sleep(args.kill_after)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        returned = log.read_text().split() if log.exists() else []
        t0 = time.perf_counter()
        con = store.connect(path)  # restart: replays the write-ahead log
        reopen_s = time.perf_counter() - t0
        stored = {
            r[0]
            for r in con.execute(
                "SELECT judgment_id FROM judgments WHERE campaign_id = ?", [crash_cid]
            ).fetchall()
        }
        missing = set(returned) - stored
        print(
            f"\ncrash phase: kill -9 {args.kill_after:g} s after the first judgment; {len(returned)} submits "
            f"had returned, {len(stored)} judgments stored; reopened in {reopen_s:.2f} s"
        )
        results.append(
            (
                "kill -9: every returned judgment survives",
                not missing and len(returned) > 0,
                f"{len(missing)} missing of {len(returned)}",
            )
        )
        results += [
            (f"kill -9: {name}", ok, detail) for name, ok, detail in checks(con, crash_cid, args.k, None)
        ]
    else:
        con = store.connect(path)

    n_items = math.ceil(args.submissions / args.k)
    if args.solo_pairs:
        # The time one call takes when it has the store to itself: what the load phase's figures are made of.
        solo_cid = new_campaign(con, folder, "solo", n_items=n_items, k=args.k)
        solo, _ = run_load(con, solo_cid, 1, 0.0, seed=3, limit=args.solo_pairs)
        print(
            f"\nsolo phase: one annotator alone, flat out, {len(solo['created'])} pairs of a {n_items}-item "
            "campaign"
        )
        solo_next, solo_submit = _latencies(solo)
        print(_percentiles("next item", solo_next))
        print(_percentiles("submit", solo_submit))
    cid = new_campaign(con, folder, "load", n_items=n_items, k=args.k)
    load_before = os.getloadavg()[0]
    stats, wall = run_load(con, cid, args.annotators, args.think_ms / 1000, seed=2)
    load_after = os.getloadavg()[0]
    n = len(stats["created"])
    nxt, sub = _latencies(stats)
    print(
        f"\nload phase: {n} submissions by {args.annotators} annotators in {wall:.1f} s = {n / wall:.1f} "
        "submissions/s"
    )
    print(_percentiles("next item", nxt))
    print(_percentiles("submit", sub))
    print(
        f"  CPU of this process: {stats['cpu_s']:.0f} s = {1000 * stats['cpu_s'] / max(n, 1):.1f} ms per "
        "pair, "
        f"{stats['cpu_s'] / wall:.2f} of {os.cpu_count()} cores; machine load average {load_before:.1f} "
        "before, "
        f"{load_after:.1f} after (above {os.cpu_count()}, other processes hold the cores and every wait "
        "grows)"
    )
    print(
        f"  double submits: {len(stats['double'])}, all answered with the first judgment: "
        f"{all(stats['double'])}"
    )
    results.append(
        ("no errors in annotator threads", not stats["errors"], "; ".join(stats["errors"][:3]) or "none")
    )
    results.append(("double submits create nothing", all(stats["double"]), f"{len(stats['double'])} sent"))
    results += checks(con, cid, args.k, stats["created"])
    results.append((f"at least {args.submissions} submissions", n >= args.submissions, f"{n}"))
    results.append(
        ("p99 submit < 100 ms (goal)", np.percentile(sub, 99) < 100, f"{np.percentile(sub, 99):.1f} ms")
    )
    results.append(
        ("p99 next item < 250 ms (goal)", np.percentile(nxt, 99) < 250, f"{np.percentile(nxt, 99):.1f} ms")
    )
    con.close()

    print("\nchecks:")
    for name, ok, detail in results:
        print(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}")
    hard = [r for r in results if not r[1] and not r[0].startswith("p99") and not r[0].endswith("(reported)")]
    return 1 if hard else 0


if __name__ == "__main__":
    sys.exit(main())
