"""A crowd study's launch burst: many participants arrive through the study link within a short window and go
entry → consent → instructions → training → first pair → judgments, at the store and page-logic level
(the calls pages/study.py makes, in threads on one store, as bench/annotation_load.py drives annotators).

    python bench/crowd_burst.py                                    # 200 participants within 2 minutes
    python bench/crowd_burst.py --participants 6 --window-s 1 --think-ms 0 --pairs 2   # quick

Each participant: arrives (the link's parameters read and checked, `crowd.arrive`), reloads once (the same
browser session: resumed, never a new account), consents, reads the instructions, answers the training item
and gets its feedback, then judges `--pairs` pairs (attention checks answered on the way) and finishes with
the completion code. Two hostile arrivals ride along: a share of participants open the link twice at the same
instant in two fresh browsers (exactly one may be admitted and bound), and the link copied into a stranger's
browser after the start is refused. Prints p50/p95 of each step, then checks: nothing lost (every returned
judgment and every phase outcome stored), no participant with a second account, each participant bound once,
every copied link refused. Exits 1 when a check fails. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotation_load import write_outputs  # noqa: E402  (bench/ is on the path when run as a script)

from annotations import crowd, store  # noqa: E402
from annotations.campaigns import CampaignConfig, create_campaign  # noqa: E402
from annotations.judging import assignment, judgments  # noqa: E402

STEPS = ("entry", "reload", "consent", "instructions", "training", "first pair", "judgment")


def open_burst_study(con, folder: Path, participants: int, pairs: int, k: int, attention_every: int):
    """A campaign with room for every participant's quota, opened as a Prolific study with one training item;
    (study, secret)."""
    n_items = math.ceil(participants * pairs / k) + pairs + 1
    csv = write_outputs(folder / "burst.csv", n_items)
    cid = create_campaign(con, CampaignConfig(name="burst", source_file=str(csv), k=k, gold_rate=0.0))
    config = crowd.StudyConfig(
        platform="prolific",
        consent_text="This study compares short texts. Your answers are stored without your name.",
        completion_code="BURST1",
        screen_out_code="BURST0",
        training=[{"item_id": "item-00000", "gold": "tie", "explanation": "Either answer is fine here."}],
        qualification=0.0,
        quota=pairs,
        attention_every=attention_every,
    )
    opened = crowd.open_study(con, cid, config)
    return crowd.get_study(con, opened.study_id), opened.secret


def link_params(study_id: str, secret: str, number: int) -> dict[str, str]:
    """The parameters Prolific puts in the study link for participant `number`."""
    return {
        "study": study_id,
        "key": secret,
        "PROLIFIC_PID": f"5f{number:022x}",
        "STUDY_ID": "burst",
        "SESSION_ID": f"se{number}",
    }


def enter(con, params: dict[str, str], session_id: str | None):
    """What the study page does with a link: read and check it, then admit or resume the participant."""
    study, arrival = crowd.read_link(con, params)
    return crowd.arrive(con, study, arrival, session_id=session_id, client="bench")


class Burst:
    """The shared record of one run: per-step times, returned judgments and what each arrival got."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {step: [] for step in STEPS}
        self.judgment_ids: list[str] = []
        self.admitted: dict[int, list[str]] = {}  # participant number -> user ids of accepted first arrivals
        self.refused_twins = 0
        self.copied_refused = 0
        self.copied_admitted = 0
        self.resumed_same = 0
        self.finished: dict[int, str] = {}  # participant number -> phase at the end
        self.errors: list[str] = []

    def timed(self, step: str, action, *args):
        t0 = time.perf_counter()
        result = action(*args)
        with self.lock:
            self.times[step].append(time.perf_counter() - t0)
        return result


def participant_path(con, study, secret: str, number: int, think_s: float, twin: bool, burst: Burst) -> None:
    """One participant from the link to the completion code."""
    rng = random.Random(number)
    params = link_params(study.study_id, secret, number)

    def think() -> None:
        if think_s:
            time.sleep(rng.expovariate(1 / think_s))

    def arrival(session_id: str | None):
        try:
            return enter(con, params, session_id)
        except crowd.CrowdLinkError as e:
            return e

    if twin:  # the link opened twice at once in two fresh browsers: one admitted, the other refused
        results: list = [None, None]
        barrier = threading.Barrier(2)

        def open_link(slot: int) -> None:
            barrier.wait()
            t0 = time.perf_counter()
            results[slot] = arrival(None)
            with burst.lock:
                burst.times["entry"].append(time.perf_counter() - t0)

        tabs = [threading.Thread(target=open_link, args=(slot,)) for slot in (0, 1)]
        for tab in tabs:
            tab.start()
        for tab in tabs:
            tab.join()
        entries = [r for r in results if isinstance(r, crowd.Entry)]
        with burst.lock:
            burst.refused_twins += sum(
                isinstance(r, crowd.CrowdLinkError) and r.reason == "bound_elsewhere" for r in results
            )
    else:
        entries = [burst.timed("entry", arrival, None)]
        entries = [e for e in entries if isinstance(e, crowd.Entry)]
    with burst.lock:
        burst.admitted[number] = [e.participant.user_id for e in entries]
    if len(entries) != 1:
        raise RuntimeError(f"participant {number}: {len(entries)} first arrivals admitted")
    session_id = entries[0].new_session.session_id

    think()  # a reload: the same browser, the same session: resumed
    again = burst.timed("reload", arrival, session_id)
    if isinstance(again, crowd.Entry) and again.new_session is None:
        if again.participant.user_id == entries[0].participant.user_id:
            with burst.lock:
                burst.resumed_same += 1

    def me():
        return crowd.participant_of_session(con, session_id)

    think()
    burst.timed("consent", lambda: crowd.record_consent(con, me(), True))
    think()
    burst.timed("instructions", lambda: crowd.record_instructions_read(con, me(), study))

    def training() -> None:
        participant = me()
        pair = crowd.next_training_item(con, participant, study)
        crowd.answer_training(con, participant, study, pair.item_id, rng.choice(["A", "B", "tie"]))
        crowd.finish_training(con, participant, study)

    think()
    burst.timed("training", training)

    copied = arrival(None)  # the link copied into a stranger's browser: refused, acts in nobody's name
    with burst.lock:
        if isinstance(copied, crowd.CrowdLinkError) and copied.reason == "bound_elsewhere":
            burst.copied_refused += 1
        else:
            burst.copied_admitted += 1

    def next_screen():
        """What the task phase shows next: an attention check, a pair, or the end (as pages/study.py)."""
        participant = me()
        state = crowd.task_state(con, participant, study)
        if state.over:
            return participant, "over", None
        check = crowd.next_attention_check(con, participant, study, state.done)
        if check is not None:
            return participant, "check", check
        pair = assignment.next_item(con, study.campaign_id, participant.user_id)
        return participant, ("pair" if pair else "over"), pair

    participant, kind, shown = burst.timed("first pair", next_screen)
    while kind != "over":
        think()

        def answer(participant=participant, kind=kind, shown=shown):
            choice = rng.choice(["A", "B", "tie", "both_bad"])
            if kind == "check":
                crowd.answer_attention(con, participant, shown.check_id, choice)
            else:
                result = judgments.submit(con, shown.token, participant.user_id, choice)
                with burst.lock:
                    burst.judgment_ids.append(result.judgment_id)
            return next_screen()

        participant, kind, shown = burst.timed("judgment", answer)
    crowd.finish_task(con, participant, "completed")
    with burst.lock:
        burst.finished[number] = me().phase


def run_burst(con, study, secret: str, args: argparse.Namespace) -> tuple[Burst, float]:
    """Every participant in a thread of their own, started at a uniform random time within the window."""
    burst = Burst()
    rng = random.Random(args.seed)
    starts = sorted(rng.uniform(0, args.window_s) for _ in range(args.participants))
    twins = set(rng.sample(range(args.participants), round(args.twin_share * args.participants)))

    def worker(number: int, start: float, t0: float) -> None:
        time.sleep(max(0.0, t0 + start - time.perf_counter()))
        try:
            participant_path(con, study, secret, number, args.think_ms / 1000, number in twins, burst)
        except Exception as e:  # reported as a failed check
            with burst.lock:
                burst.errors.append(f"participant {number}: {e!r}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n, s, t0)) for n, s in enumerate(starts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return burst, time.perf_counter() - t0


def checks(con, study, args: argparse.Namespace, burst: Burst) -> list[tuple[str, bool, str]]:
    """(name, passed, detail): nothing lost, one account and one binding per participant, copies refused."""
    n = args.participants
    cur = store.read(con)
    accounts = cur.execute("SELECT count(*) FROM crowd_accounts WHERE platform = 'prolific'").fetchone()[0]
    rows = cur.execute(
        "SELECT participant_id, count(*), count(DISTINCT user_id), count(DISTINCT bound_session_id), "
        "max(refused_arrivals) FROM crowd_participants WHERE study_id = ? GROUP BY participant_id",
        [study.study_id],
    ).fetchall()
    stored = {
        r[0]
        for r in cur.execute(
            "SELECT judgment_id FROM judgments WHERE campaign_id = ? AND version = 1", [study.campaign_id]
        ).fetchall()
    }
    lost = set(burst.judgment_ids) - stored
    outcomes = cur.execute(
        "SELECT phase, count(*) FROM crowd_phase_outcomes WHERE study_id = ? GROUP BY phase", [study.study_id]
    ).fetchall()
    outcomes = dict(outcomes)
    per_participant = cur.execute(
        "SELECT max(c) FROM (SELECT count(*) c FROM judgments j JOIN crowd_participants p "
        "ON p.user_id = j.annotator_id WHERE p.study_id = ? AND j.version = 1 GROUP BY j.annotator_id)",
        [study.study_id],
    ).fetchone()[0]
    twins = round(args.twin_share * n)
    admitted_once = sum(len(users) == 1 for users in burst.admitted.values())
    return [
        ("no errors in participant threads", not burst.errors, "; ".join(burst.errors[:3]) or "none"),
        (
            "nothing lost: every returned judgment stored",
            not lost and len(stored) == len(burst.judgment_ids),
            f"{len(burst.judgment_ids)} returned, {len(stored)} stored, {len(lost)} lost",
        ),
        (
            "nothing lost: every phase's outcome stored for every participant",
            all(outcomes.get(phase, 0) == n for phase in ("consent", "instructions", "training", "task")),
            ", ".join(f"{phase} {count}" for phase, count in sorted(outcomes.items())),
        ),
        (
            "every participant completed with their quota",
            sum(phase == "complete" for phase in burst.finished.values()) == n
            and per_participant == args.pairs,
            f"{sum(phase == 'complete' for phase in burst.finished.values())}/{n} complete, "
            f"max {per_participant} judgments each (quota {args.pairs})",
        ),
        (
            "no participant gets a second account",
            accounts == n and len(rows) == n and all(r[1] == 1 and r[2] == 1 for r in rows),
            f"{accounts} accounts, {len(rows)} participants for {n} ids",
        ),
        (
            "each arrival bound once",
            admitted_once == n and all(r[3] == 1 for r in rows) and burst.refused_twins == twins,
            f"{admitted_once}/{n} admitted once; {twins} links opened twice at once, "
            f"{burst.refused_twins} second opens refused",
        ),
        (
            "a reload in the bound browser resumes the same participant",
            burst.resumed_same == n,
            f"{burst.resumed_same}/{n}",
        ),
        (
            "a copied link is refused",
            burst.copied_refused == n and burst.copied_admitted == 0,
            f"{burst.copied_refused} refused, {burst.copied_admitted} admitted; refusals counted "
            f"{sum(r[4] for r in rows)}",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=200, help="participants in the burst (threads)")
    parser.add_argument("--window-s", type=float, default=120.0, help="they arrive within this many seconds")
    parser.add_argument("--pairs", type=int, default=5, help="pairs each judges (the study's quota)")
    parser.add_argument("--k", type=int, default=3, help="judgments per item")
    parser.add_argument(
        "--attention-every", type=int, default=3, help="an attention check after every N pairs"
    )
    parser.add_argument(
        "--think-ms", type=float, default=1000.0, help="mean pause before each action (0: flat out)"
    )
    parser.add_argument("--twin-share", type=float, default=0.1, help="share of links opened twice at once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", default=None, help="store file (default: a new temporary one)")
    args = parser.parse_args(argv)
    if args.participants < 1 or args.pairs < 1 or args.window_s < 0 or not 0 <= args.twin_share <= 1:
        parser.error("--participants and --pairs must be at least 1, --window-s >= 0, --twin-share in [0, 1]")

    folder = Path(tempfile.mkdtemp(prefix="crowd_burst_"))
    path = Path(args.db) if args.db else folder / "burst.duckdb"
    con = store.connect(path)
    study, secret = open_burst_study(con, folder, args.participants, args.pairs, args.k, args.attention_every)
    print(
        f"store: {path}; {args.participants} participants within {args.window_s:g} s, {args.pairs} pairs "
        "each, "
        f"k={args.k}, think {args.think_ms:g} ms; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    cpu0 = time.process_time()
    burst, wall = run_burst(con, study, secret, args)
    cpu = time.process_time() - cpu0
    print(
        f"\nburst: {args.participants} participants done in {wall:.1f} s; CPU of this process {cpu:.1f} s; "
        f"load average {os.getloadavg()[0]:.1f} after"
    )
    for step in STEPS:
        ms = np.array(burst.times[step]) * 1000
        if len(ms):
            print(
                f"  {step:<13} p50 {np.percentile(ms, 50):7.1f} ms   p95 {np.percentile(ms, 95):7.1f} ms   "
                f"(n={len(ms)})"
            )
    results = checks(con, study, args, burst)
    con.close()
    print("\nchecks:")
    for name, ok, detail in results:
        print(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
