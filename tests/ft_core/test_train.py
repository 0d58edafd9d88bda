"""Training end to end on tiny models: the CLI, the run folder, resume, early stopping, sanity overfit, and
one test per bad input (each leaves no run folder that looks finished)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.tiny_runs import set_args, tiny_settings

from ft_core import runfolder
from ft_core.__main__ import main as cli
from ft_core.batching import length_grouped_batches
from ft_core.config import TrainConfig
from ft_core.runfolder import read_status
from ft_core.train import train

ROOT = Path(__file__).resolve().parents[2]


def _cfg(tiny_causal_dir, tiny_jsonl, run_dir, **kw):
    values = dict(max_steps=4, batch_size=4, eval_every_steps=2)
    return TrainConfig(**tiny_settings(tiny_causal_dir, tiny_jsonl, run_dir, **{**values, **kw}))


def _log(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "train_log.jsonl").read_text().splitlines()]


def _run(command: list[str], timeout: float, **env: str) -> subprocess.CompletedProcess:
    """Run `command` from the checkout as the app runs a job (PYTHONPATH, extra `env`), output captured."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_cli_trains_and_writes_the_run_folder(tmp_path, tiny_causal_dir, tiny_jsonl):
    run_dir = tmp_path / "run"
    config = tmp_path / "train.yaml"
    config.write_text(
        f"base_model: {tiny_causal_dir}\ntrain_file: {tiny_jsonl / 'train.jsonl'}\nvalidation_file: "
        f"{tiny_jsonl / 'dev.jsonl'}\nmax_steps: 4\nbatch_size: 4\neval_every_steps: 2\nlog_every_steps: "
        "1\nmax_source_length: 48\n"
    )
    settings = {"run_dir": run_dir, "lora_r": 4}
    proc = _run([sys.executable, "-m", "ft_core", "train", "--config", str(config), *set_args(settings)], 300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "truncation:" in proc.stdout and "finished:" in proc.stdout
    assert "train:" in proc.stderr  # tqdm progress bar
    # no warnings from our own calls in a job's log (peft 0.21 reading transformers' deprecated attribute was
    # one)
    assert "Warning" not in proc.stderr, [line for line in proc.stderr.splitlines() if "Warning" in line]
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["lora_r"] == 4 and saved["max_steps"] == 4
    status = read_status(run_dir)
    assert status.state == "finished" and status.step == 4
    rows = _log(run_dir)
    train_rows = [r for r in rows if "loss" in r]
    assert [r["step"] for r in train_rows] == [1, 2, 3, 4]
    for key in ("epoch", "loss", "lr", "grad_norm", "tokens_per_s", "target_tokens_per_s", "time"):
        assert key in train_rows[0]
    assert [r["step"] for r in rows if "eval_loss" in r] == [2, 4]
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    assert json.loads((run_dir / "truncation.json").read_text())["examples"] == 16


def test_adapter_loads_and_changes_the_model(tmp_path, tiny_causal_dir, tiny_jsonl):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run_dir = train(_cfg(tiny_causal_dir, tiny_jsonl, tmp_path / "run", learning_rate=0.05), progress=False)
    base = AutoModelForCausalLM.from_pretrained(tiny_causal_dir)
    ids = torch.tensor([[1, 200, 300, 400]])
    before = base(ids).logits
    tuned = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_causal_dir), run_dir / "adapter"
    )
    assert not torch.allclose(before, tuned(ids).logits)


def test_resume_continues_from_the_checkpoint(tmp_path, tiny_causal_dir, tiny_jsonl):
    run_dir = tmp_path / "run"
    train(_cfg(tiny_causal_dir, tiny_jsonl, run_dir, max_steps=3, save_every_steps=1), progress=False)
    state = json.loads((run_dir / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 3
    train(_cfg(tiny_causal_dir, tiny_jsonl, run_dir, max_steps=6, resume=True), progress=False)
    steps = [r["step"] for r in _log(run_dir) if "loss" in r]
    assert steps == [1, 2, 3, 4, 5, 6]  # nothing recomputed, nothing skipped
    assert read_status(run_dir).step == 6


def test_early_stopping_keeps_the_best_adapter(tmp_path, tiny_causal_dir, tiny_jsonl):
    run_dir = tmp_path / "run"
    # min_delta so large that no validation after the first counts as an improvement
    cfg = _cfg(
        tiny_causal_dir,
        tiny_jsonl,
        run_dir,
        max_steps=20,
        eval_every_steps=1,
        early_stopping_patience=2,
        early_stopping_min_delta=1e6,
    )
    train(cfg, progress=False)
    status = read_status(run_dir)
    assert status.stopped_early is True
    assert status.step == 3 and status.best_step == 1


def test_seq2seq_model_trains_through_the_same_config(tmp_path, tiny_seq2seq_dir, tiny_jsonl):
    run_dir = train(
        _cfg(tiny_seq2seq_dir, tiny_jsonl, tmp_path / "run", task="seq2seq", target_modules=["q", "v"]),
        progress=False,
    )
    assert read_status(run_dir).state == "finished"
    assert (
        json.loads((run_dir / "adapter" / "adapter_config.json").read_text())["task_type"] == "SEQ_2_SEQ_LM"
    )


@pytest.mark.slow
def test_sanity_overfit_reaches_near_zero_loss(tmp_path, tiny_causal_dir):
    # Sources differ (item numbers nobody can predict), targets are the same sentence. Only a loss restricted
    # to target tokens can reach near zero here: if prompt tokens leaked into the labels, or the labels were
    # misaligned, the loss would stay far above it. (A random 2-layer model cannot learn to copy from the
    # prompt in a test's budget, so the target does not depend on the source.)
    data = tmp_path / "sanity.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {"source": [f"Finding {i * 7919 % 1000} about item {i}."], "target": ["A short summary."]}
            )
            + "\n"
            for i in range(40)
        )
    )
    run_dir = tmp_path / "run"
    cfg = TrainConfig(
        base_model=str(tiny_causal_dir),
        train_file=str(data),
        validation_file=None,
        run_dir=str(run_dir),
        sanity_overfit=True,
        prompt_template="{source}",
        use_chat_template=False,  # short sequences keep this test quick
        max_steps=60,
        batch_size=16,
        learning_rate=3e-3,
        lora_r=16,
        lora_alpha=32,
        target_modules=["all-linear"],
        eval_every_steps=30,
        log_every_steps=10,
    )
    train(cfg, progress=False)
    status = read_status(run_dir)
    losses = [r["loss"] for r in _log(run_dir) if "loss" in r]
    assert (
        json.loads((run_dir / "truncation.json").read_text())["examples"] == 32
    )  # sanity mode keeps 32 of 40
    assert losses[0] > 3 and status.final_train_loss < 0.1
    assert status.sanity_overfit_passed is True


def test_length_grouping_keeps_every_example_once_and_cuts_padding():
    lengths = [5, 100, 7, 98, 6, 99, 8, 97] * 8
    grouped = length_grouped_batches(lengths, 4, seed=1, group_by_length=True)
    plain = length_grouped_batches(lengths, 4, seed=1, group_by_length=False)
    for batches in (grouped, plain):
        assert sorted(i for b in batches for i in b) == list(range(len(lengths)))

    def padding(batches):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    assert padding(grouped) < padding(plain) / 5
    assert grouped == length_grouped_batches(lengths, 4, seed=1, group_by_length=True)


# --- bad input: one-line error, non-zero exit, no run folder that looks finished
# -------------------------------


def _run_cli(capsys, args):
    code = cli(["train", *args])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


@pytest.fixture
def base_args(tiny_causal_dir, tiny_jsonl, tmp_path):
    return set_args(tiny_settings(tiny_causal_dir, tiny_jsonl, tmp_path / "run", max_steps=1))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--set", "train_file=/nonexistent/train.jsonl"], "data file not found: /nonexistent/train.jsonl"),
        (
            ["--set", "source_column=abstract"],
            "column 'abstract' not found in train.jsonl; columns are: paper_id, source, target",
        ),
        (["--set", "base_model=./no-such-model"], "model folder ./no-such-model does not exist"),
        (["--set", "base_model=nobody-here/no-such-model"], "is neither a local folder"),
        (
            ["--set", "target_modules=query,value"],
            "target_modules query, value not found in the model; its linear layers are:",
        ),
        (["--set", "learning_rate=-0.001"], "learning_rate must be in (0, 1)"),
        (["--set", "lora_r=0"], "lora_r must be positive"),
    ],
)
def test_bad_input_fails_cleanly(capsys, tmp_path, base_args, extra, message):
    code, last_line = _run_cli(capsys, base_args + extra)
    assert code == 1
    assert last_line.startswith("error: ") and message in last_line
    assert not (tmp_path / "run").exists()


def test_empty_data_set(capsys, tmp_path, base_args):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    code, last_line = _run_cli(capsys, base_args + ["--set", f"train_file={empty}"])
    assert code == 1 and "holds no examples" in last_line
    assert not (tmp_path / "run").exists()


def test_existing_run_folder_is_never_overwritten(capsys, tmp_path, base_args):
    run = tmp_path / "run"
    run.mkdir()
    (run / "precious.txt").write_text("keep me")
    code, last_line = _run_cli(capsys, base_args)
    assert code == 1 and "exists already" in last_line
    assert (run / "precious.txt").read_text() == "keep me" and sorted(p.name for p in run.iterdir()) == [
        "precious.txt"
    ]


def test_check_validates_without_training(capsys, tmp_path, base_args):
    assert cli(["train", *base_args, "--check"]) == 0
    out = capsys.readouterr().out
    assert "truncation:" in out and json.loads(out.strip().splitlines()[-1])["train_examples"] == 16
    report = runfolder.CheckReport.from_output(out)  # what the app reads, typed
    assert report.train_examples == 16 and report.examples == 16 and report.sources_truncated is not None
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_ddp_through_torchrun_needs_no_code_change(tmp_path, tiny_causal_dir, tiny_jsonl):
    """Two processes over gloo on the CPU: the same command that runs on several GPUs."""
    run_dir = tmp_path / "run"
    settings = tiny_settings(
        tiny_causal_dir,
        tiny_jsonl,
        run_dir,
        epochs=2,
        max_train_examples=10,
        batch_size=2,
        eval_every_steps=2,
        lr_scheduler="linear",
        warmup_ratio=0,
    )
    # --standalone: a free port, other launches on this machine may hold the default 29500
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    proc = _run([*torchrun, "-m", "ft_core", "train", *set_args(settings)], 400, OMP_NUM_THREADS="1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("finished:") == 1  # only the first process reports
    status = read_status(run_dir)
    assert status.num_processes == 2 and status.state == "finished"
    steps = [r for r in _log(run_dir) if "loss" in r]
    # 10 examples / batch 2 = 5 batches; each process takes 2 of them (the odd one is left out, or DDP would
    # wait forever), so 2 optimizer steps make an epoch and 2 epochs are 4 steps
    assert [r["step"] for r in steps] == [1, 2, 3, 4] and steps[-1]["epoch"] == 2.0
    assert steps[-1]["lr"] == 0.0  # the linear schedule ends exactly at the last step


def test_validation_can_report_generation_metrics(tmp_path, tiny_causal_dir, tiny_jsonl):
    run_dir = train(
        _cfg(
            tiny_causal_dir,
            tiny_jsonl,
            tmp_path / "run",
            max_steps=2,
            eval_generation_samples=3,
            max_target_length=8,
        ),
        progress=False,
    )
    evals = [r for r in _log(run_dir) if "eval_loss" in r]
    assert [r["step"] for r in evals] == [2]
    for key in ("eval_bleu", "eval_rouge1", "eval_rouge2", "eval_rougeL", "eval_rougeLsum"):
        assert 0.0 <= evals[0][key] <= 1.0


def test_sigterm_marks_the_run_cancelled(tmp_path, tiny_causal_dir, tiny_jsonl):
    import signal
    import time

    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    settings = tiny_settings(
        tiny_causal_dir, tiny_jsonl, run_dir, validation_file="none", max_steps=100000, batch_size=2
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ft_core", "train", *set_args(settings)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and (read_status(run_dir).step or 0) < 1:
        time.sleep(0.2)
    assert read_status(run_dir).state == "running"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    status = read_status(run_dir)
    assert status.state == "cancelled" and 1 <= status.step < 100000
