"""A job's log: where it is written, its last lines for the pages, the one-line reason a failed job gave, and the
copy kept with its run.

While a job runs, its output goes to `<runs>/.jobs/<job_id>.log` (not into the run folder: `ft_core train`
refuses a folder that is not empty), with its exit code beside it in `<job_id>.log.exit`. The config files of
launched jobs live in the same folder. When the job ends, its log is appended to the run folder's `job.log`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ft_core import runfolder
from jobs.queue import Job


def job_files_dir(runs_root: str | Path) -> Path:
    """Where job logs and the config files of launched jobs live: `<runs>/.jobs/` (not a run folder)."""
    return Path(runs_root) / ".jobs"


def log_tail(job: Job, lines: int = 40) -> str:
    """The last lines of the job's log (progress bars collapsed to their latest state); '' when unreadable."""
    if not job.log_path:
        return ""
    try:
        with open(job.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64_000))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    kept = [
        line.split("\r")[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r") for line in text.split("\n")
    ]
    return "\n".join(kept[-lines:]).strip("\n")


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
