"""Tiny jobs for the queue tests, and stand-ins for a GPU machine's tools on this CPU machine: a fake
`accelerate launch` that prints the command line it was given and binds its main process port (as torch's
rendezvous store does, so two launches on one port collide as they would), and a fake `nvidia-smi` on PATH."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from jobs import logs, queue, scheduler

CPU = {"gpus": [], "max_cpu_jobs": 1}  # reconcile as a CPU-only machine with one slot

FAKE_LAUNCH = """
import json, os, socket, sys, time
args = sys.argv[1:]
port = int(args[args.index("--main_process_port") + 1]) if "--main_process_port" in args else 29500
store = socket.socket()
store.bind(("", port))  # a port already held fails here, as accelerate's rendezvous would
store.listen()
print("launch " + json.dumps(args), flush=True)
time.sleep(float(os.environ.get("FAKE_LAUNCH_HOLD_S", "2")))
"""


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def cpu(**kw):
    return {**CPU, **kw}


def wait_for(
    con,
    job_id: str,
    states=("finished", "failed", "cancelled"),
    timeout: float = 20.0,
    poll: float = 0.05,
    **kw,
):
    """Reconcile (with `kw` standing for the machine) every `poll` seconds, as the app's watcher does,
    until the job is in one of `states` (by default: it has ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scheduler.reconcile(con, **kw)
        job = queue.get_job(con, job_id)
        if job.status in states:
            return job
        time.sleep(poll)
    raise AssertionError(f"job {job_id} still {queue.get_job(con, job_id).status} after {timeout} s")


def wait_for_line(job, start: str, timeout: float = 10.0) -> str:
    """The first line the job printed that starts with `start` (the log's `$ command` header excluded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in logs.log_tail(job).splitlines():
            if line.startswith(start):
                return line
        time.sleep(0.05)
    raise AssertionError(f"the job never printed {start!r}")


def fake_accelerate(folder: Path) -> dict[str, str]:
    """Write the fake `accelerate` package into `folder`; returns the job environment that puts it first."""
    package = folder / "accelerate" / "commands"
    package.mkdir(parents=True)
    (folder / "accelerate" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "launch.py").write_text(FAKE_LAUNCH)
    return {"PYTHONPATH": str(folder)}


def launched_args(job) -> list[str]:
    """The command-line arguments the fake `accelerate launch` of a job received."""
    return json.loads(wait_for_line(job, "launch ").removeprefix("launch "))


def fake_nvidia_smi(folder: Path, rows: list[tuple[int, str, int, int]]) -> Path:
    """A fake `nvidia-smi` in `folder/bin` answering the queries the job queue makes from `rows` (index, uuid,
    used MiB, total MiB); `set_gpu_rows` changes them later. Returns the folder to put first on PATH."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    table = folder / "gpus.csv"
    set_gpu_rows(table, rows)
    script = bin_dir / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f'  *--query-gpu=index,uuid,memory.used,memory.total*) cat "{table}" ;;\n'
        f'  *--query-gpu=index\\ *) cut -d, -f1 "{table}" ;;\n'
        "  *) echo 'unexpected query' >&2; exit 9 ;;\n"
        "esac\n"
    )
    script.chmod(0o755)
    return bin_dir


def set_gpu_rows(table: Path, rows: list[tuple[int, str, int, int]]) -> None:
    table.write_text("".join(f"{i}, {uuid}, {used}, {total}\n" for i, uuid, used, total in rows))
