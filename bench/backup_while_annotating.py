"""What a backup costs the annotators: submit latency with and without backups running, side by side in one
run.

    python bench/backup_while_annotating.py                   # 8 annotators, 3,000 items, 20 s per phase
    python bench/backup_while_annotating.py --seconds 5       # quick

One store file, one campaign. Phase "quiet": N annotator threads take pairs and submit them (no think time)
for `--seconds`. Phase "backing up": the same, while another thread takes backups back to back through the
app's connection (annotations/store/backup.py: EXPORT DATABASE in the write queue's own lane). Prints, per
phase, submits/s and p50/p95 of `submit`, the ratio of the two, the backups taken and their mean time, and
checks that each backup holds every judgment acknowledged before it started (restored into a new file).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers.run_folders import write_run_folder  # noqa: E402

from annotations import store  # noqa: E402
from annotations.campaigns import CampaignConfig, create_campaign  # noqa: E402
from annotations.judging import assignment, judgments  # noqa: E402
from annotations.store import backup  # noqa: E402


def phase(con, cid, annotators: int, seconds: float, offset: int, with_backups: Path | None) -> dict:
    latencies: list[float] = []
    acknowledged: list[str] = []
    lock, stop = threading.Lock(), threading.Event()
    checks: list[tuple[backup.Backup, set[str]]] = []
    backup_seconds: list[float] = []

    def annotate(name: str) -> None:
        while not stop.is_set() and (pair := assignment.next_item(con, cid, name)) is not None:
            started = time.perf_counter()
            judgments.submit(con, pair.token, name, "A", {"fluency": {"A": 3, "B": 4}})
            with lock:
                latencies.append(time.perf_counter() - started)
                acknowledged.append(pair.token)

    def back_up() -> None:
        while not stop.is_set():
            with lock:
                before = set(acknowledged)
            started = time.perf_counter()
            checks.append((backup.take_backup(con, with_backups, trigger="manual"), before))
            backup_seconds.append(time.perf_counter() - started)

    threads = [threading.Thread(target=annotate, args=(f"ann-{offset + i}",)) for i in range(annotators)]
    if with_backups is not None:
        threads.append(threading.Thread(target=back_up))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    ms = np.array(latencies) * 1000
    return {
        "submits_per_s": len(ms) / seconds,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "backups": len(backup_seconds),
        "backup_s": float(np.mean(backup_seconds)) if backup_seconds else 0.0,
        "checks": checks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        con = store.connect(folder / "app.duckdb")
        run = write_run_folder(folder / "runs" / "r", n_items=args.items)
        cid = create_campaign(con, CampaignConfig(name="bench", run_dir=str(run), k=2 * args.annotators))
        quiet = phase(con, cid, args.annotators, args.seconds, 0, None)
        busy = phase(con, cid, args.annotators, args.seconds, args.annotators, folder / "backups")
        print(f"{'phase':<12} {'submits/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'backups':>8} {'s/backup':>9}")
        for name, r in (("quiet", quiet), ("backing up", busy)):
            print(
                f"{name:<12} {r['submits_per_s']:>10.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
                f"{r['backups']:>8} {r['backup_s']:>9.2f}"
            )
        print(
            f"ratio backing up / quiet: submits/s {busy['submits_per_s'] / quiet['submits_per_s']:.2f}, "
            f"p50 {busy['p50_ms'] / quiet['p50_ms']:.2f}, p95 {busy['p95_ms'] / quiet['p95_ms']:.2f}"
        )
        failures = 0
        for n, (taken, before) in enumerate(
            busy["checks"][:5]
        ):  # restore a few: every acknowledged one is there
            backup.restore(taken.path, folder / f"restored-{n}.duckdb")
            restored = store.connect(folder / f"restored-{n}.duckdb", read_only=True)
            held = {t for (t,) in restored.execute("SELECT assignment_id FROM judgments").fetchall()}
            restored.close()
            failures += not before <= held
        print(
            f"restored {min(5, len(busy['checks']))} backups: {'every' if not failures else 'NOT every'} "
            "acknowledged judgment present"
        )
        con.close()
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
