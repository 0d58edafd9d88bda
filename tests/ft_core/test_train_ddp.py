"""Several processes under `torchrun` (gloo on the CPU, the same code path as NCCL on GPUs): fewer batches
than processes must not hang, and a process that dies of an out-of-memory error makes the run "failed" with
the memory hint, not "cancelled" by the SIGTERM torchrun then sends the others, while a cancel the app asked
for stays one.

Each launch gets a free rendezvous port (`--standalone`) and a marker in its environment; a launch that
outlives its timeout fails the test (a hang) and is killed: torchrun by its process group, and its workers,
which torch elastic starts in sessions of their own, by the pids that carry the marker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from helpers.tiny_runs import set_args, tiny_settings

from ft_core import runfolder
from ft_core.train import INJECT_OOM

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _launch(nproc: int, settings: dict, env: dict | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    command += ["-m", "ft_core", "train", *set_args(settings)]
    marker = uuid.uuid4().hex
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", MARKER: marker, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    proc.marker = marker  # type: ignore[attr-defined]
    return proc


MARKER = "FT_CORE_TEST_LAUNCH"


def _kill_launch(proc: subprocess.Popen) -> None:
    """SIGKILL torchrun's process group and every process started with this launch's marker (its workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    needle = f"{MARKER}={proc.marker}".encode()  # type: ignore[attr-defined]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    os.kill(int(entry.name), signal.SIGKILL)


def _finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_launch(proc)
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"torchrun did not end within {timeout} s (a hang); stderr:\n{err[-3000:]}")
    return proc.returncode, out, err


def test_fewer_batches_than_processes_trains_instead_of_hanging(tmp_path, tiny_causal_dir, tiny_jsonl):
    # 4 examples in batches of 2 are 2 batches for 3 processes: the old loop let the third process run out and
    # spin while the other two waited for it in the gradient all-reduce, forever.
    run_dir = tmp_path / "run"
    settings = tiny_settings(
        tiny_causal_dir,
        tiny_jsonl,
        run_dir,
        max_train_examples=4,
        batch_size=2,
        epochs=2,
        eval_every_steps=0,
        learning_rate=0.05,
    )
    code, out, err = _finish(_launch(3, settings), timeout=420)
    assert code == 0, err[-3000:]
    status = runfolder.read_status(run_dir)
    assert status.state == "finished" and status.num_processes == 3
    rows = [r for r in runfolder.read_log_rows(run_dir) if "loss" in r]
    # one step per epoch (each process takes one batch of 1-2 examples), two epochs
    assert [(r["step"], r["epoch"]) for r in rows] == [(1, 1.0), (2, 2.0)]
    evals = [r["eval_loss"] for r in runfolder.read_log_rows(run_dir) if "eval_loss" in r]
    assert len(evals) == 2 and evals[1] < evals[0]  # it trained: the validation loss moved down


def test_an_out_of_memory_error_on_process_1_fails_the_run_with_the_hint_fault_injection(
    tmp_path, tiny_causal_dir, tiny_jsonl
):
    run_dir = tmp_path / "run"
    settings = tiny_settings(
        tiny_causal_dir, tiny_jsonl, run_dir, max_steps=50, batch_size=2, validation_file="none"
    )
    code, out, err = _finish(_launch(2, settings, {INJECT_OOM: "1:2"}), timeout=420)
    assert code != 0
    status = runfolder.read_status(run_dir)
    assert status.state == "failed", status  # torchrun's SIGTERM to process 0 is not a cancel
    assert status.error.startswith("process 1: out of GPU memory at batch_size=2")
    assert "gradient_checkpointing=true" in status.error
    first = runfolder.process_errors(run_dir)[0]
    assert (first["rank"], first["kind"]) == (1, "oom")
    assert status.step == 1  # process 1 failed as it started step 2


def test_a_requested_cancel_of_a_multi_process_run_is_cancelled(tmp_path, tiny_causal_dir, tiny_jsonl):
    run_dir = tmp_path / "run"
    settings = tiny_settings(
        tiny_causal_dir, tiny_jsonl, run_dir, max_steps=100000, batch_size=2, validation_file="none"
    )
    proc = _launch(2, settings)
    deadline = time.time() + 300
    while time.time() < deadline and (runfolder.read_status(run_dir).step or 0) < 1:
        if proc.poll() is not None:
            pytest.fail(f"the run ended early: {proc.stderr.read()[-3000:]}")
        time.sleep(0.3)
    assert runfolder.read_status(run_dir).state == "running"
    # what the app's Cancel does: ask first, then SIGTERM to the job's whole process group
    assert runfolder.request_cancel(run_dir)
    os.killpg(proc.pid, signal.SIGTERM)
    _finish(proc, timeout=120)
    status = runfolder.read_status(run_dir)
    assert status.state == "cancelled", status
    assert 1 <= status.step < 100000


def test_a_sigterm_after_another_process_failed_records_that_failure_fault_injection(
    tmp_path, tiny_causal_dir, tiny_jsonl
):
    """The other way process 0 learns of a failure: torchrun's SIGTERM reaches it outside any collective. One
    training process stands in for process 0; the fault injected is process 1's error file, written as a dying
    process writes it, before the signal."""
    run_dir = tmp_path / "run"
    settings = tiny_settings(
        tiny_causal_dir, tiny_jsonl, run_dir, max_steps=100000, batch_size=2, validation_file="none"
    )
    command = [sys.executable, "-m", "ft_core", "train"]
    for key, value in settings.items():
        command += ["--set", f"{key}={value}"]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and (runfolder.read_status(run_dir).step or 0) < 1:
        time.sleep(0.2)
    runfolder.write_process_error(run_dir, 1, "out of GPU memory at batch_size=2: lower batch_size", "oom")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    status = runfolder.read_status(run_dir)
    assert (
        status.state == "failed"
        and status.error == "process 1: out of GPU memory at batch_size=2: lower batch_size"
    )
