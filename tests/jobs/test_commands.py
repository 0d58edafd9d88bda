"""Command lines of jobs: ft_core's from typed configs, `accelerate launch` rewritten for the GPUs and port
a job gets when it starts, and the same command for a terminal and a SLURM cluster."""

from __future__ import annotations

import socket
import subprocess
import sys

from ft_core.config import GenerateConfig, ScoreConfig, SweepConfig, parse_cli
from jobs import commands


def test_commands_for_several_gpus_and_for_a_cluster():
    one = commands.ft_core_command("train", ["--config", "c.yaml"])
    assert one == [sys.executable, "-m", "ft_core", "train", "--config", "c.yaml"]
    four = commands.ft_core_command("train", ["--config", "c.yaml"], n_gpus=4)
    assert (
        commands.shell_command(four)
        == "accelerate launch --multi_gpu --num_processes 4 -m ft_core train --config c.yaml"
    )
    script = commands.slurm_script(one, n_gpus=2, job_name="lora")
    assert "#SBATCH --gres=gpu:2" in script
    assert (
        'accelerate launch --multi_gpu --num_processes 2 --main_process_port "$MAIN_PROCESS_PORT" -m ft_core '
        "train --config c.yaml" in script
    )


def test_the_slurm_script_picks_a_port_free_on_the_node_when_it_runs():
    """Two batch jobs on one node must not both take accelerate's default 29500: the script asks the node."""
    script = commands.slurm_script(commands.train_command("c.yaml", 2), n_gpus=2)
    assert "export CUDA_DEVICE_ORDER=PCI_BUS_ID" in script
    port_line = next(line for line in script.splitlines() if line.startswith("MAIN_PROCESS_PORT="))
    run = subprocess.run(
        ["bash", "-c", f"{port_line.replace('python', sys.executable, 1)}; echo $MAIN_PROCESS_PORT"],
        capture_output=True,
        text=True,
        check=True,
    )
    with socket.socket() as probe:  # the port it printed is free: the job's main process can bind it
        probe.bind(("", int(run.stdout.strip())))


def test_a_queued_launch_is_rewritten_for_the_gpus_and_port_it_gets():
    queued = commands.train_command("c.yaml", n_gpus=4)
    two = commands.for_processes(queued, 2, 29517)
    assert two[two.index("--num_processes") + 1] == "2" and commands.main_process_port(two) == 29517
    assert two[-5:] == ["-m", "ft_core", "train", "--config", "c.yaml"]
    assert commands.for_processes(queued, 1, None) == [
        sys.executable,
        "-m",
        "ft_core",
        "train",
        "--config",
        "c.yaml",
    ]
    assert commands.for_processes(queued, 0, None) == commands.for_processes(queued, 1, None)  # a CPU slot
    plain = [sys.executable, "-c", "print(1)"]
    assert commands.for_processes(plain, 2, 29517) == plain and not commands.launches_processes(plain)
    assert commands.main_process_port(queued) is None


def test_generate_and_score_commands_are_their_configs():
    generate = GenerateConfig(
        run_dir="runs/a", limit=20, decodings=["greedy", "beam:num_beams=4,length_penalty=0.8"]
    )
    command = commands.generate_command(generate)
    assert command[:6] == [sys.executable, "-m", "ft_core", "generate", "--run-dir", "runs/a"]
    assert (
        parse_cli(GenerateConfig, command[4:], "generate") == generate
    )  # ft_core reads back the same config
    score = ScoreConfig(run_dir="runs/a", metrics=["bleu", "rouge"])
    assert commands.score_command(score)[3:] == ["score", "--run-dir", "runs/a", "--metrics", "bleu,rouge"]


def test_a_sweep_command_says_its_grid_and_its_size():
    grid = SweepConfig(learning_rates=[3e-5, 1e-4, 3e-4], lora_ranks=[8, 16])
    command = commands.sweep_command("s.yaml", grid)
    assert commands.shell_command(command) == (
        "python -m ft_core sweep train --config s.yaml --lr 3e-05,0.0001,0.0003 --r 8,16"
    )
    assert commands.sweep_size(command) == 6
    assert commands.sweep_size(["python", "-m", "ft_core", "sweep", "train", "--lr"]) is None


def test_a_sweep_over_any_field_reads_back_as_its_config_and_counts_its_points():
    grid = SweepConfig(
        grid={"max_target_length": [320, 441, 512], "max_new_tokens": [64, 128]},
        evaluate=True,
        generate={"limit": 10},
        executor="slurm",
        slurm_partition="gpu",
    )
    command = commands.sweep_command("s.yaml", grid)
    at = command.index("train")
    assert parse_cli(SweepConfig, command[at + 3 :], "sweep train") == grid
    assert commands.sweep_size(command) == 6
    random = SweepConfig(grid=grid.grid, evaluate=True, search="random", n_points=4, search_seed=3)
    assert commands.sweep_size(commands.sweep_command("s.yaml", random)) == 4
