"""Training jobs from typed configs: the config object the page built is what the job reads, and a run folder
that cannot take the run is refused before anything is queued. (A job holding the one CPU slot keeps the
training jobs queued: only their command lines and config files are looked at.)"""

from __future__ import annotations

import pytest

from ft_core.config import SweepConfig, TrainConfig, load_config
from jobs import logs, queue, training
from jobs.errors import JobError


def test_a_finished_run_folder_is_refused_before_queueing(con, tmp_path):
    run_dir = tmp_path / "runs" / "done"
    run_dir.mkdir(parents=True)
    (run_dir / "status.json").write_text('{"state": "finished"}')
    with pytest.raises(JobError, match="exists already; choose another run_dir or set resume=true"):
        training.train_job(con, TrainConfig(run_dir=str(run_dir)), tmp_path / "runs")
    with pytest.raises(JobError, match="cannot resume: .* has no checkpoint/"):
        training.train_job(con, TrainConfig(run_dir=str(run_dir), resume=True), tmp_path / "runs")
    assert queue.list_jobs(con) == []


def test_the_job_reads_the_config_the_page_built(con, tmp_path, busy_cpu):
    runs = tmp_path / "runs"
    config = TrainConfig(
        run_dir=str(runs / "typed"),
        prompt_template="Summarize:\n\n{source}",
        learning_rate=1.5e-4,
        validation_file=None,
        target_modules=["q_proj", "v_proj"],
    )
    job = training.train_job(con, config, runs, label="typed")
    assert job.status == "queued" and job.run_dir == config.run_dir
    assert job.command[-4:-1] == ["ft_core", "train", "--config"]
    config_file = job.command[-1]
    assert config_file.startswith(str(logs.job_files_dir(runs)))
    assert load_config(TrainConfig, config_file) == config  # the same object, field for field
    with pytest.raises(JobError, match="already has a queued or running job \\(typed\\)"):
        training.train_job(con, config, runs)


def test_a_sweep_job_runs_the_grid_of_its_sweep_config(con, tmp_path, busy_cpu):
    runs = tmp_path / "runs"
    config = TrainConfig(run_dir=str(runs / "grid"))
    grid = SweepConfig(learning_rates=[1e-4, 3e-4], lora_ranks=[8, 16, 32], alpha_per_r=True)
    job = training.sweep_job(con, config, grid, runs)
    assert job.status == "queued" and job.label == "sweep grid (2x3)"
    at = job.command.index("sweep")
    assert job.command[at : at + 3] == ["sweep", "train", "--config"]
    assert job.command[at + 4 :] == ["--lr", "0.0001,0.0003", "--r", "8,16,32", "--alpha-per-r", "true"]
    assert load_config(TrainConfig, job.command[at + 3]) == config


def test_a_dpo_job_reads_its_config_and_refuses_a_taken_folder(con, tmp_path, busy_cpu):
    from ft_core.config import DPOTrainConfig

    runs = tmp_path / "runs"
    taken = runs / "taken"
    taken.mkdir(parents=True)
    (taken / "status.json").write_text('{"state": "finished"}')
    with pytest.raises(JobError, match="exists already"):
        training.dpo_job(con, DPOTrainConfig(sft_run="runs/a", preferences="p", run_dir=str(taken)), runs)
    with pytest.raises(JobError, match="has no checkpoint/checkpoint-<step>/"):
        training.dpo_job(
            con, DPOTrainConfig(sft_run="runs/a", preferences="p", run_dir=str(taken), resume=True), runs
        )
    config = DPOTrainConfig(sft_run="runs/a", preferences="prefs", run_dir=str(runs / "dpo"), beta=0.2)
    job = training.dpo_job(con, config, runs)
    assert job.kind == "train" and job.label == "dpo dpo" and job.run_dir == config.run_dir
    assert job.command[-4:-1] == ["ft_core", "dpo", "--config"]
    assert load_config(DPOTrainConfig, job.command[-1]) == config
