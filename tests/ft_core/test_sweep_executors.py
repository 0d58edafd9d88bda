"""ft_core.sweep_executors: a sweep as a submitit job array. The SLURM executor's settings come from the
SweepConfig; submitit's LocalExecutor runs the array as real processes here, one run folder per point, and
a re-submitted sweep skips its finished points."""

from __future__ import annotations

import json
import shutil

import pytest

from ft_core.config import ConfigError, SweepConfig, TrainConfig
from ft_core.sweep import sweep_train
from ft_core.sweep_executors import slurm_parameters


def test_the_slurm_job_array_takes_partition_time_gpus_cpus_and_memory_from_the_sweep(tmp_path):
    from submitit.slurm.slurm import _make_sbatch_string  # the script SlurmExecutor writes

    grid = SweepConfig(
        grid=["max_target_length=320,441,512"],
        executor="slurm",
        slurm_partition="gpu-long",
        slurm_time_min=90,
        slurm_gpus_per_node=2,
        slurm_cpus_per_task=6,
        slurm_mem_gb=48,
        slurm_array_parallelism=2,
    )
    script = _make_sbatch_string(
        command="run", folder=tmp_path, map_count=3, **slurm_parameters(grid, "sweep-x")
    ).splitlines()
    for line in [
        "#SBATCH --partition=gpu-long",
        "#SBATCH --time=90",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --cpus-per-task=6",
        "#SBATCH --mem=48GB",
        "#SBATCH --array=0-2%2",  # three points, two at once
        "#SBATCH --job-name=sweep-x",
    ]:
        assert line in script
    assert any(line.startswith("export PYTHONPATH=") for line in script)
    with pytest.raises(ConfigError, match="slurm_gpus_per_node must be >= 0, got -1"):
        SweepConfig(grid=["lora_r=4"], executor="slurm", slurm_gpus_per_node=-1)


@pytest.mark.skipif(shutil.which("sbatch") is not None, reason="this machine has SLURM")
def test_a_slurm_sweep_without_slurm_fails_in_one_line_before_anything_is_written(tmp_path):
    base = TrainConfig(run_dir=str(tmp_path / "sweep"))
    with pytest.raises(ConfigError, match=r"^executor slurm needs SLURM's sbatch and srun on this machine"):
        sweep_train(base, SweepConfig(grid=["lora_r=4,8"], executor="slurm"))
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_a_local_job_array_trains_each_point_in_its_folder_and_a_resubmission_skips_finished_points(
    tmp_path, tiny_causal_dir, tiny_jsonl, capsys
):
    base = TrainConfig(
        base_model=str(tiny_causal_dir),
        train_file=str(tiny_jsonl / "train.jsonl"),
        validation_file=str(tiny_jsonl / "dev.jsonl"),
        test_file=str(tiny_jsonl / "test.jsonl"),
        run_dir=str(tmp_path / "sweep"),
        max_steps=2,
        batch_size=8,
        eval_every_steps=1,
        max_source_length=32,
        max_target_length=8,
        lora_r=4,
        lora_alpha=8,
    )
    # One point trained before, in this process: the submitted sweep keeps it and submits the other two.
    sweep_train(base, SweepConfig(grid={"max_target_length": [6]}))
    capsys.readouterr()
    grid = SweepConfig(grid={"max_target_length": [6, 9, 12]}, executor="submitit-local")
    summary = sweep_train(base, grid)
    out = capsys.readouterr().out
    assert "max_target_length6: finished before, kept" in out and "submitted 2 points" in out
    saved = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    names = ["max_target_length6", "max_target_length9", "max_target_length12"]
    assert [r["name"] for r in saved["runs"]] == names
    for run, length in zip(saved["runs"], (6, 9, 12)):
        folder = tmp_path / "sweep" / run["name"]
        assert run["state"] == "finished" and run["error"] is None
        assert json.loads((folder / "config.json").read_text())["max_target_length"] == length
        assert (folder / "adapter" / "adapter_config.json").is_file()
        assert run["best_eval_loss"] == json.loads((folder / "status.json").read_text())["best_eval_loss"]
    assert summary.best in names
    # The two new points ran as two processes of one array (submitit's files beside the run folders).
    job_ids = [r["job_id"] for r in saved["runs"]]
    assert job_ids[0] is None and len(set(job_ids[1:])) == 2
    assert len(list((tmp_path / "sweep" / ".submitit").glob("*_result.pkl"))) == 2
    # Submitted once more: nothing left to run.
    sweep_train(base, grid)
    assert "submitted" not in capsys.readouterr().out


def test_a_sweep_cancelled_while_it_waits_cancels_its_tasks_by_a_sigterm_it_injects(tmp_path):
    """The queue cancels a job with SIGTERM; the waiting sweep must not leave its array running."""
    import os
    import signal
    import threading
    import time
    from types import SimpleNamespace

    from ft_core.sweep_executors import run_array

    grid = SweepConfig(grid=["lora_r=4"], executor="submitit-local")
    submitted: list[str] = []

    def cancel_soon(job_ids: list[str]) -> None:
        submitted.extend(job_ids)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_array(
            [SimpleNamespace(name="slow")],
            grid,
            tmp_path,
            on_submit=cancel_soon,
            task=lambda point: time.sleep(300),
        )
    assert time.monotonic() - started < 60
    pid = int(submitted[0].split("_")[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break  # the task's process is gone
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            break  # reaped here: gone
        time.sleep(0.1)
    else:
        pytest.fail(f"the array task {pid} still runs after the sweep was cancelled")
    assert signal.getsignal(signal.SIGTERM) is not None  # the handler was put back
