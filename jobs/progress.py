"""A running job's progress in words, for Home's demo steps and the Jobs page: read from the job's log, with
no raw progress bar and no command line (those stay in the log file, `jobs.logs`).

Generation prints its plan first (`plan: 2 outputs files of 20 items: base__greedy__seed0.jsonl, ...`, then
`<file>: 5/20 items, ...` per batch; ft_core/generate.py), so its fraction covers every outputs file: base and
fine-tuned, and reaches 1 only when the last one is written. Training reads its run folder instead
(`annotations.campaigns.runs.train_progress`, which the pages call).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ft_core import runfolder
from jobs import logs
from jobs.queue import Job

_PLAN = re.compile(r"^plan: (\d+) outputs files of (\d+) items: (.*)$")
_FILE = re.compile(r"^(\S+\.jsonl): (?:resuming, )?(\d+)/(\d+) items")
_KEPT = re.compile(r"^(\S+\.jsonl): complete already, kept")
SYSTEM_WORDS = {"base": "base model", "finetuned": "fine-tuned model"}


@dataclass
class JobProgress:
    """How far a job is: the share done (None where the job does not say) and a sentence for people."""

    fraction: float | None
    text: str


def _file_words(name: str, per_system: dict[str, int]) -> str:
    """'fine-tuned model' for `finetuned__greedy__seed0.jsonl`; decoding and seed only where a system has
    several."""
    parsed = runfolder.parse_output_name(name)
    if parsed is None:
        return name
    words = SYSTEM_WORDS.get(parsed.system, parsed.system)
    if per_system.get(parsed.system, 0) > 1:
        words += f" ({parsed.decoding}, seed {parsed.seed})"
    return words


def generation_progress(log: str) -> JobProgress:
    """Progress of `ft_core generate` over all its planned outputs files, from its whole log."""
    lines = log.splitlines()
    planned: list[str] = []
    n_items = 0
    done: dict[str, tuple[int, int]] = {}  # file -> (items written, items in all)
    merging = False
    for line in lines:
        if plan := _PLAN.match(line):
            planned, n_items = [n.strip() for n in plan[3].split(",") if n.strip()], int(plan[2])
        elif kept := _KEPT.match(line):
            done[kept[1]] = (n_items, n_items)
        elif item := _FILE.match(line):
            done[item[1]] = (int(item[2]), int(item[3]))
        elif line.startswith("merging the fine-tuned adapter"):
            merging = True
    files = planned or list(done)  # no plan line (an older ft_core): the files seen so far
    if not files:
        return JobProgress(None, "loading the model" if "loading the model" in lines else "starting")
    counts = {f: done.get(f, (0, n_items)) for f in files}
    total = sum(n for _, n in counts.values())
    fraction = min(1.0, sum(min(d, n) for d, n in counts.values()) / total) if total else None
    systems = [p.system for p in map(runfolder.parse_output_name, files) if p is not None]
    per_system = {s: systems.count(s) for s in systems}
    # "items written: base model 20/20, ..." (no count before a noun, so no "1/1 items")
    text = "items written: " + ", ".join(
        f"{_file_words(f, per_system)} {d}/{n}" for f, (d, n) in counts.items()
    )
    if not done:
        text = f"loading the model; {text}"
    elif merging and not any(f in done for f in files if f.startswith("finetuned__")):
        text = f"adding the fine-tuned adapter; {text}"
    return JobProgress(fraction, text)


def score_progress(log: str) -> JobProgress:
    """Progress of `ft_core score`: it says nothing until its table, so only whether it is still at work."""
    if any(line.startswith("wrote ") for line in log.splitlines()):
        return JobProgress(1.0, "writing the scores")
    return JobProgress(None, "computing the scores and their paired intervals")


_JUDGING = re.compile(r"^judging ([\d,]+) pairs in both orders")
_JUDGED = re.compile(r"^\s*([\d,]+)/([\d,]+) pairs judged")
_RESUMING = re.compile(r"^resuming \S+: ([\d,]+) of ([\d,]+) pairs judged already")


def judge_progress(log: str) -> JobProgress:
    """Progress of `ft_core judge` (ft_core/judge/run.py): its estimate line, then `k/n pairs judged`."""
    done, total = 0, None
    for line in log.splitlines():
        if match := _JUDGED.match(line) or _RESUMING.match(line):
            done, total = int(match[1].replace(",", "")), int(match[2].replace(",", ""))
        elif match := _JUDGING.match(line):
            total = done + int(match[1].replace(",", ""))
    if total is None:
        return JobProgress(None, "loading the judge")
    return JobProgress(
        min(1.0, done / total) if total else 1.0, f"pairs judged (both orders): {done}/{total}"
    )


def log_progress(kind: str, log: str) -> JobProgress:
    """Progress in words of a running job of this kind from its log (not for training: see the module doc)."""
    if kind == "generate":
        return generation_progress(log)
    if kind == "score":
        return score_progress(log)
    if kind == "judge":
        return judge_progress(log)
    lines = logs.readable_lines(log)
    match = re.findall(r"(\d+)/(\d+)", lines[-1]) if lines else []
    fraction = None
    if match and int(match[-1][1]):
        fraction = min(1.0, int(match[-1][0]) / int(match[-1][1]))
    return JobProgress(fraction, lines[-1][:160] if lines else "starting")


def job_progress(job: Job) -> JobProgress:
    """Progress in words of a running generation, scoring or other job, from its whole log."""
    return log_progress(job.kind, logs.log_text(job))
