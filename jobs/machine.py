"""The machine jobs run on: its GPUs (as `CUDA_VISIBLE_DEVICES` names them, and as nvidia-smi reports them),
which of them something outside the app holds, how many jobs may share the CPU, and free ports for `accelerate
launch`.

GPU ids are whatever the machine is told to use: `FT_JOB_GPUS`, else the app's own `CUDA_VISIBLE_DEVICES`,
else nvidia-smi's indices. The first two may hold indices (`0,1`), UUIDs (`GPU-8932f937-...`, or a unique
prefix) or MIG instances (`MIG-...`). nvidia-smi numbers GPUs in PCI bus order; every job runs with
`CUDA_DEVICE_ORDER=PCI_BUS_ID` (see `processes.job_environment`) so that CUDA numbers them the same way.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pandas as pd

ACCELERATE_PORT = 29500  # accelerate's default `--main_process_port`; ports are handed out from here up
PORTS = range(ACCELERATE_PORT, ACCELERATE_PORT + 500)
_GPU_CACHE: dict[str, tuple[float, list[str]]] = {}
_MEMORY_COLUMNS = ["gpu", "uuid", "used_gib", "total_gib"]


def _nvidia_smi(*args: str) -> str:
    """nvidia-smi's output, or '' without nvidia-smi or when it fails (no driver, a hung GPU)."""
    if shutil.which("nvidia-smi") is None:
        return ""
    try:
        out = subprocess.run(["nvidia-smi", *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout if out.returncode == 0 else ""


def detect_gpus() -> list[str]:
    """GPU ids jobs may use: `FT_JOB_GPUS` ("0,1", or "" for none), else CUDA_VISIBLE_DEVICES, else
    nvidia-smi."""
    for name in ("FT_JOB_GPUS", "CUDA_VISIBLE_DEVICES"):
        if name in os.environ:
            return [g.strip() for g in os.environ[name].split(",") if g.strip() and g.strip() != "-1"]
    cached = _GPU_CACHE.get("ids")
    if cached is not None and time.monotonic() - cached[0] < 30:  # reconcile runs every few seconds
        return list(cached[1])
    out = _nvidia_smi("--query-gpu=index", "--format=csv,noheader")
    found = [line.strip() for line in out.splitlines() if line.strip()]
    _GPU_CACHE["ids"] = (time.monotonic(), found)
    return list(found)


def gpu_memory() -> pd.DataFrame:
    """Used and total memory per GPU from nvidia-smi (empty without a GPU): gpu (index), uuid, used_gib,
    total_gib."""
    out = _nvidia_smi("--query-gpu=index,uuid,memory.used,memory.total", "--format=csv,noheader,nounits")
    rows = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4 and parts[2].isdigit() and parts[3].isdigit():
            used, total = int(parts[2]) / 1024, int(parts[3]) / 1024
            rows.append({"gpu": parts[0], "uuid": parts[1], "used_gib": used, "total_gib": total})
    return pd.DataFrame(rows, columns=_MEMORY_COLUMNS)


def gpu_index(gpu_id: str, memory: pd.DataFrame) -> str | None:
    """nvidia-smi's index of a GPU id: an index itself, or a GPU UUID (or the unique prefix CUDA accepts).
    None for a MIG instance (nvidia-smi's per-GPU figures say nothing about one instance) or an unknown id."""
    gpu_id = gpu_id.strip()
    indices = [str(g) for g in memory.gpu]
    if gpu_id in indices:
        return gpu_id
    if not gpu_id.startswith("GPU-") or "uuid" not in memory:
        return None
    matches = [str(r.gpu) for r in memory.itertuples() if str(r.uuid).startswith(gpu_id)]
    return matches[0] if len(matches) == 1 else None


def _busy_share() -> float:
    try:
        return float(os.environ.get("FT_GPU_BUSY_SHARE", "0.5"))
    except ValueError:
        return 0.5


def busy_gpus(
    memory: pd.DataFrame, ours: set[str], threshold: float | None = None, ids: list[str] | None = None
) -> set[str]:
    """GPUs that something outside the app holds: more than `threshold` (FT_GPU_BUSY_SHARE, default 0.5) of
    their memory used while none of our jobs runs there. A GPU job waits for them instead of failing.

    `ours` and `ids` (the machine's GPU ids; default: nvidia-smi's indices) may name GPUs by index or UUID:
    both are matched to nvidia-smi's rows, and the busy ones are returned as `ids` names them.
    """
    threshold = _busy_share() if threshold is None else threshold
    ids = [str(g) for g in memory.gpu] if ids is None else ids
    held_by_us = {gpu_index(g, memory) for g in ours}
    busy_rows = {
        str(r.gpu)
        for r in memory.itertuples()
        if str(r.gpu) not in held_by_us and r.total_gib > 0 and r.used_gib / r.total_gib > threshold
    }
    return {g for g in ids if gpu_index(g, memory) in busy_rows}


def cpu_slots() -> int:
    """Jobs that may run at once without a GPU: `FT_CPU_JOBS`, default 1."""
    try:
        return max(1, int(os.environ.get("FT_CPU_JOBS", "1")))
    except ValueError:
        return 1


def _port_is_free(port: int) -> bool:
    """Can a process bind this TCP port now (as the main process of `accelerate launch` will)?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("", port))
        except OSError:
            return False
    return True


def free_port(taken: set[int]) -> int | None:
    """The first port from 29500 up that no running job of ours was given (`taken`: a job's processes may not
    have bound it yet) and that nothing else holds now; None when all of PORTS are in use."""
    return next((p for p in PORTS if p not in taken and _port_is_free(p)), None)
