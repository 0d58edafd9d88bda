"""The machine's GPUs and ports: GPUs held outside the app, named by index, UUID or MIG id (a fake nvidia-smi
on PATH reports them), and ports for `accelerate launch` that nothing else holds."""

from __future__ import annotations

import os
import socket

import pandas as pd
import pytest
from helpers.fake_jobs import fake_nvidia_smi, py, set_gpu_rows, wait_for_line

from jobs import machine, queue, scheduler

UUID_0 = "GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77"
UUID_1 = "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"
TOTAL = 81559  # MiB, as nvidia-smi reports an 80 GB card


def test_a_gpu_held_outside_the_app_counts_as_busy():
    memory = pd.DataFrame(
        {"gpu": ["0", "1", "2"], "used_gib": [70.0, 0.5, 60.0], "total_gib": [80.0, 80.0, 80.0]}
    )
    assert machine.busy_gpus(memory, ours={"2"}, threshold=0.5) == {"0"}  # GPU 2 is ours: already counted
    assert machine.busy_gpus(memory, ours=set(), threshold=0.9) == set()


def test_gpu_ids_map_to_nvidia_smis_rows_by_index_or_uuid():
    memory = pd.DataFrame(
        {"gpu": ["0", "1"], "uuid": [UUID_0, UUID_1], "used_gib": [70.0, 60.0], "total_gib": [80.0, 80.0]}
    )
    assert [machine.gpu_index(g, memory) for g in ("1", UUID_1, "GPU-8932f937", "GPU-")] == [
        "1",
        "1",
        "1",
        None,
    ]
    assert machine.gpu_index("MIG-c7384736-a75d-5afc-978f-d2f1294409fd", memory) is None
    # ours named by UUID, the machine by index, and the other way round
    assert machine.busy_gpus(memory, ours={UUID_1}, threshold=0.5) == {"0"}
    assert machine.busy_gpus(memory, ours={"1"}, threshold=0.5, ids=[UUID_0, UUID_1]) == {UUID_0}
    # a MIG instance: the whole GPU's memory says nothing about it, so it is never held to be busy
    mig = ["MIG-c7384736-a75d-5afc-978f-d2f1294409fd"]
    assert machine.busy_gpus(memory, ours=set(), threshold=0.5, ids=mig) == set()


@pytest.fixture
def gpu_machine(tmp_path, monkeypatch):
    """A machine whose nvidia-smi reports GPU 0 nearly full (someone else's process) and GPU 1 free."""
    bin_dir = fake_nvidia_smi(tmp_path / "smi", [(0, UUID_0, 70000, TOTAL), (1, UUID_1, 500, TOTAL)])
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("FT_JOB_GPUS", raising=False)
    monkeypatch.setattr(machine, "_GPU_CACHE", {})
    return tmp_path / "smi" / "gpus.csv"


CODE = "import os, time; print('on', os.environ['CUDA_VISIBLE_DEVICES'], flush=True); time.sleep(1)"


def test_fault_injection_gpus_by_index_a_job_goes_to_the_free_one(con, log_dir, gpu_machine):
    assert machine.detect_gpus() == ["0", "1"]
    assert list(machine.gpu_memory().uuid) == [UUID_0, UUID_1]
    job = scheduler.launch(con, "fake", py(CODE), log_dir=log_dir, needs_gpu=True)
    assert wait_for_line(job, "on ") == "on 1"


def test_fault_injection_gpus_by_uuid_a_job_goes_to_the_free_one_and_waits_for_a_busy_one(
    con, log_dir, gpu_machine, monkeypatch
):
    """CUDA_VISIBLE_DEVICES (or FT_JOB_GPUS) naming GPUs by UUID: nvidia-smi's rows are matched by UUID, so
    the GPU someone else holds is still seen as busy (matching indices only, both looked free)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{UUID_0},{UUID_1}")
    first = scheduler.launch(con, "fake", py(CODE), log_dir=log_dir, needs_gpu=True)
    assert wait_for_line(first, "on ") == f"on {UUID_1}"
    set_gpu_rows(gpu_machine, [(0, UUID_0, 70000, TOTAL), (1, UUID_1, 60000, TOTAL)])  # our job's memory now
    second = scheduler.launch(con, "fake", py(CODE), log_dir=log_dir, needs_gpu=True)
    assert second.status == "queued"  # GPU 1 is ours, GPU 0 someone else's: wait, do not fail
    set_gpu_rows(gpu_machine, [(0, UUID_0, 100, TOTAL), (1, UUID_1, 60000, TOTAL)])  # the other process ended
    scheduler.reconcile(con)
    assert queue.get_job(con, second.job_id).gpus == UUID_0


def test_ports_for_accelerate_skip_those_held_and_those_given():
    first = machine.free_port(set())
    assert first in machine.PORTS
    with socket.socket() as held:  # something outside the app listens there
        held.bind(("", first))
        held.listen()
        second = machine.free_port(set())
        assert second not in (None, first)
        third = machine.free_port({second})  # given to a running job whose processes do not listen yet
        assert third not in (None, first, second)
