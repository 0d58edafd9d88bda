"""A job's log: where it is written, its last lines for the pages, the one-line reason a failed job gave, and
the copy kept with its run.

While a job runs, its output goes to `<runs>/.jobs/<job_id>.log` (not into the run folder: `ft_core train`
refuses a folder that is not empty), with its exit code beside it in `<job_id>.log.exit`. The config files of
launched jobs live in the same folder. When the job ends, its log is appended to the run folder's `job.log`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ft_core import runfolder
from jobs.queue import Job

# tqdm's bars ("Loading checkpoint shards:  50%|#####     | 1/2 [00:01<00:01, 1.2it/s]", with or without a
# total)
_BAR = re.compile(r"\d+%\|.*\||\[\d+:\d+(?::\d+)?(?:<[\d:?]+)?, *[\d.?]+ ?\S*/s\]")


def job_files_dir(runs_root: str | Path) -> Path:
    """Where job logs and the config files of launched jobs live: `<runs>/.jobs/` (not a run folder)."""
    return Path(runs_root) / ".jobs"


def _collapse_bars(text: str) -> list[str]:
    """Lines of a log with each progress bar (rewritten in place with \\r) at its latest state."""
    return [
        line.split("\r")[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r") for line in text.split("\n")
    ]


def _read(path: str, head: int, tail: int) -> str:
    """The first `head` and last `tail` bytes of a file (all of it when small); '' when unreadable."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(0)
            first = f.read(min(head, size))
            f.seek(max(len(first), size - tail))
            rest = f.read()
    except OSError:
        return ""
    # a line cut at the seam is dropped rather than glued to another
    if len(first) + len(rest) < size:
        first = first[: first.rfind(b"\n") + 1]
        rest = rest[rest.find(b"\n") + 1 :]
    return (first + rest).decode("utf-8", errors="replace")


def log_tail(job: Job, lines: int = 40) -> str:
    """The last lines of the job's log (progress bars collapsed to their latest state); '' when unreadable."""
    if not job.log_path:
        return ""
    kept = _collapse_bars(_read(job.log_path, 0, 64_000))
    return "\n".join(kept[-lines:]).strip("\n")


def log_text(job: Job) -> str:
    """The job's whole log with progress bars collapsed (its first and last 1 MB when longer); '' when
    unreadable. Generation's plan sits at the top (jobs.progress)."""
    if not job.log_path:
        return ""
    return "\n".join(_collapse_bars(_read(job.log_path, 1_000_000, 1_000_000))).strip("\n")


def is_noise(line: str) -> bool:
    """A line people need not read: the job's `$ command` header (processes.py writes it) or a progress
    bar."""
    return line.startswith("$ ") or bool(_BAR.search(line))


def readable_lines(log: str) -> list[str]:
    """The log's lines without the command line and progress bars (the file keeps them), for the pages."""
    return [line for line in log.splitlines() if line.strip() and not is_noise(line)]


def readable_tail(job: Job, lines: int = 30) -> str:
    """The last `lines` readable lines of the job's log (see `readable_lines`); '' when there are none."""
    return "\n".join(readable_lines(log_tail(job, 400))[-lines:])


def error_from_log(job: Job) -> str | None:
    """The one-line reason an ft_core command prints on failure (`error: ...`), or the last traceback line."""
    tail = log_tail(job, 60).splitlines()
    for line in reversed(tail):
        if line.startswith("error: "):
            return line[len("error: ") :]
    for line in reversed(tail):
        if line and not line.startswith((" ", "\t")) and ("Error" in line or "Exception" in line):
            return line.strip()
    for line in reversed(tail):
        if "FAILED" in line:  # e.g. "sanity overfit: final train loss 1.2 -> FAILED (loss not near zero ...)"
            return line.strip()
    return None


def keep_with_run(job: Job) -> None:
    """Append the ended job's log to its run folder's `job.log`, so the log stays with the run."""
    if not job.run_dir or not job.log_path or not Path(job.run_dir).is_dir():
        return
    try:
        if not any(Path(job.run_dir).iterdir()):
            return  # an empty folder stays empty, so the same run_dir can be launched again
        text = Path(job.log_path).read_bytes()
        with open(runfolder.job_log_path(job.run_dir), "ab") as out:
            out.write(text if text.endswith(b"\n") else text + b"\n")
    except OSError:
        pass  # folder deleted or disk full: the log stays under .jobs/
