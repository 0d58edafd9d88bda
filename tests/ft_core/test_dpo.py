"""Preference tuning on tiny models: a tiny SFT run, a hand-made preferences export (TRL's conversational
format, as `python -m annotations preferences` writes it for a run with a chat template), DPO for a few steps
on CPU. The reference is the SFT policy (checked against the SFT model computed apart), chosen rewards rise
over rejected ones, the run folder is complete, cancel and resume work, and each bad input fails before any
run folder exists."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ft_core import runfolder
from ft_core.__main__ import main as cli
from ft_core.config import DPOTrainConfig, TrainConfig
from ft_core.dpo import check_versions, dpo, finish, prepare_run, run_training
from ft_core.errors import ModelError
from ft_core.train import train

ROOT = Path(__file__).resolve().parents[2]
TOPICS = ["graphs", "proteins", "robots", "language", "vision", "markets", "climate", "music"]
TEMPLATE = "Summarize the following scientific abstract in one sentence.\n\n{source}"


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory, tiny_causal_dir, tiny_jsonl) -> Path:
    run_dir = tmp_path_factory.mktemp("sft") / "run"
    cfg = TrainConfig(
        base_model=str(tiny_causal_dir),
        train_file=str(tiny_jsonl / "train.jsonl"),
        validation_file=None,
        run_dir=str(run_dir),
        max_steps=2,
        batch_size=4,
        max_source_length=48,
        max_target_length=16,
        prompt_template=TEMPLATE,
    )
    return train(cfg, progress=False)


def write_export(
    folder: Path, n: int, conversational: bool = True, template: str = TEMPLATE, **summary
) -> Path:
    """A preferences export as annotations.report.preferences writes it: preferences.jsonl + summary.json."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        text = template.replace("{source}", f"We study {topic} with method number {i}.")
        chosen, rejected = f"A new method for {topic}.", f"Bananas {i} are purple on Tuesdays, said nobody."
        if conversational:
            row = {
                "prompt": [{"role": "user", "content": text}],
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
            }
        else:
            row = {"prompt": text, "chosen": chosen, "rejected": rejected}
        rows.append({**row, "split": "train", "item_id": f"p{i}", "n_raters": 3, "margin": 1.0})
    (folder / "preferences.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = {"campaign_id": "c-test", "written": n, "disagreement_rate": 0.2, **summary}
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    return write_export(tmp_path_factory.mktemp("prefs") / "export", 20)


def _cfg(sft_run, export, run_dir, **kw) -> DPOTrainConfig:
    values = dict(
        sft_run=str(sft_run),
        preferences=str(export),
        run_dir=str(run_dir),
        max_steps=6,
        batch_size=4,
        eval_share=0.2,
        eval_every_steps=3,
        learning_rate=5e-3,
        warmup_ratio=0.0,
        max_length=128,
        precision="fp32",
    )
    values.update(kw)
    return DPOTrainConfig(**values)


def sft_logps(sft_run: Path, batch: dict) -> tuple:
    """Sum of the SFT model's log-probabilities of the completion tokens, computed apart from TRL: the base
    model with the SFT run's adapter merged in (as generation loads a fine-tuned run)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    sft = runfolder.load_train_config(sft_run)
    model = AutoModelForCausalLM.from_pretrained(sft.base_model, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(runfolder.adapter_dir(sft_run))).merge_and_unload().eval()
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    targets = batch["input_ids"][:, 1:]
    per_token = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    logps = (per_token * batch["completion_mask"][:, 1:]).sum(dim=1)
    return logps.chunk(2, dim=0)


@pytest.mark.slow
def test_dpo_starts_from_the_sft_policy_and_raises_chosen_over_rejected(tmp_path, sft_run, export):
    import torch
    from datasets import Dataset

    run = prepare_run(_cfg(sft_run, export, tmp_path / "dpo"), progress=False)
    trainer = run.trainer
    batch = next(iter(trainer.get_train_dataloader()))
    # the reference is exactly the SFT policy, before and after training
    expected_chosen, expected_rejected = sft_logps(sft_run, batch)
    ref_chosen, ref_rejected = trainer.compute_ref_log_probs(trainer.model, batch)
    assert torch.allclose(ref_chosen, expected_chosen, atol=1e-4)
    assert torch.allclose(ref_rejected, expected_rejected, atol=1e-4)

    train_pairs = Dataset.from_list(run.inputs.preferences.train)
    before = trainer.evaluate(train_pairs.select(range(4)), metric_key_prefix="pairs")
    assert before["eval_rewards/margins"] == pytest.approx(0.0, abs=1e-5)  # policy == reference at the start
    cancelled = run_training(run)
    finish(run, cancelled)
    after = trainer.evaluate(train_pairs, metric_key_prefix="pairs")
    run.train_log.close()
    assert after["eval_rewards/margins"] > 0.05
    assert after["eval_rewards/chosen"] > after["eval_rewards/rejected"]
    assert after["eval_rewards/accuracies"] > 0.5
    ref_chosen_after, _ = trainer.compute_ref_log_probs(trainer.model, batch)
    assert torch.allclose(ref_chosen_after, expected_chosen, atol=1e-4)

    # the run folder
    run_dir = tmp_path / "dpo"
    status = runfolder.read_status(run_dir)
    assert status.state == "finished" and status.step == 6 and status.best_eval_loss is not None
    assert runfolder.load_train_config(run_dir).base_model == runfolder.load_train_config(sft_run).base_model
    assert runfolder.is_dpo_run(run_dir)
    source = runfolder.read_preference_source(run_dir)
    assert source["campaign_id"] == "c-test" and source["train_pairs"] == 16 and source["held_out_pairs"] == 4
    rows = runfolder.read_log_rows(run_dir)
    trained = [r for r in rows if "rewards_margins" in r and "loss" in r]
    assert [r["step"] for r in trained] == [1, 2, 3, 4, 5, 6] and all("lr" in r for r in trained)
    assert any("eval_loss" in r and "eval_rewards_accuracies" in r for r in rows)
    assert runfolder.has_adapter(run_dir) and not (runfolder.adapter_dir(run_dir) / "ref").exists()


@pytest.mark.slow
def test_the_adapter_changes_the_sft_model(tmp_path, sft_run, export, real_tokenizer):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run_dir = dpo(_cfg(sft_run, export, tmp_path / "dpo", max_steps=3, eval_share=0.0), progress=False)
    base_model = runfolder.load_train_config(sft_run).base_model
    ids = real_tokenizer("A new method for graphs.", return_tensors="pt")["input_ids"]

    def logits(adapter):
        model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)
        with torch.no_grad():
            return PeftModel.from_pretrained(model, str(adapter)).eval()(input_ids=ids).logits

    assert not torch.allclose(logits(runfolder.adapter_dir(sft_run)), logits(runfolder.adapter_dir(run_dir)))
    assert runfolder.read_status(run_dir).best_eval_loss is None  # no held-out pairs: the last policy
    from annotations.campaigns.runs import list_runs

    listed = list_runs(tmp_path).set_index("run")  # what the Runs page shows
    assert listed.loc["dpo", "state"] == "finished" and listed.loc["dpo", "adapter"]
    assert listed.loc["dpo", "base_model"] == base_model


@pytest.mark.slow
def test_early_stopping_keeps_the_best_held_out_adapter(tmp_path, sft_run, export):
    # a learning rate far too high: the held-out loss soon stops improving
    cfg = _cfg(sft_run, export, tmp_path / "dpo", max_steps=30, eval_every_steps=1, learning_rate=0.5)
    run_dir = dpo(replace(cfg, early_stopping_patience=1), progress=False)
    status = runfolder.read_status(run_dir)
    evals = [r for r in runfolder.read_log_rows(run_dir) if "eval_loss" in r]
    assert status.state == "finished" and status.stopped_early and status.step < 30
    best = min(evals, key=lambda r: r["eval_loss"])
    assert (status.best_step, status.best_eval_loss) == (best["step"], pytest.approx(best["eval_loss"]))
    assert evals[-1]["eval_loss"] >= best["eval_loss"]


@pytest.mark.slow
def test_sigterm_saves_and_cancels_then_resume_finishes(tmp_path, sft_run, export):
    run_dir = tmp_path / "dpo"
    config = tmp_path / "dpo.yaml"
    config.write_text(
        f"sft_run: {sft_run}\npreferences: {export}\nrun_dir: {run_dir}\nmax_steps: 100000\nbatch_size: 2\n"
        "eval_share: 0\nmax_length: 128\nprecision: fp32\neval_every_steps: 100000\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ft_core", "dpo", "--config", str(config)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 180
    while time.time() < deadline and (runfolder.read_status(run_dir).step or 0) < 1:
        time.sleep(0.2)
    assert runfolder.read_status(run_dir).state == "running"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err
    status = runfolder.read_status(run_dir)
    assert status.state == "cancelled" and 1 <= status.step < 100000
    checkpoint = runfolder.last_dpo_checkpoint(run_dir)
    assert checkpoint is not None and checkpoint.name == f"checkpoint-{status.step}"
    assert runfolder.has_adapter(run_dir)

    saved = json.loads(runfolder.dpo_config_path(run_dir).read_text())
    resumed = dpo(DPOTrainConfig(**{**saved, "resume": True, "max_steps": status.step + 2}), progress=False)
    final = runfolder.read_status(resumed)
    assert final.state == "finished" and final.step == status.step + 2 and final.error is None


def test_check_reports_the_pairs_and_takes_the_robust_smoothing_from_the_export(
    capsys, tmp_path, sft_run, export
):
    run_dir = tmp_path / "dpo"
    base = [
        "dpo",
        "--check",
        "--sft-run",
        str(sft_run),
        "--preferences",
        str(export),
        "--run-dir",
        str(run_dir),
    ]
    assert cli([*base, "--loss-type", "robust"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["campaign_id"] == "c-test"
    assert (report["train_pairs"], report["held_out_pairs"]) == (18, 2)  # eval_share 0.1 of 20
    assert report["label_smoothing"] == 0.2  # the export's disagreement rate
    assert cli([*base, "--loss-type", "robust", "--label-smoothing", "0.05"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["label_smoothing"] == 0.05
    assert cli(base) == 0  # the sigmoid loss: no smoothing
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["label_smoothing"] == 0.0
    assert not run_dir.exists()


def _fails(capsys, args: list[str]) -> str:
    assert cli(["dpo", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


@pytest.mark.parametrize(
    "export_kw, extra, message",
    [
        ({"n": 12}, [], "leaving 10 to train on, fewer than min_pairs 16"),
        ({"n": 20, "conversational": False}, [], "the prompt is plain text, but the run"),
        ({"n": 20, "template": "Translate: {source}"}, [], "not the run's prompt_template"),
        ({"n": 20, "disagreement_rate": None}, ["--loss-type", "robust"], "records no disagreement rate"),
    ],
)
def test_bad_inputs_fail_before_any_run_folder(capsys, tmp_path, sft_run, export_kw, extra, message):
    folder = write_export(tmp_path / "export", **export_kw)
    run_dir = tmp_path / "dpo"
    err = _fails(
        capsys,
        ["--sft-run", str(sft_run), "--preferences", str(folder), "--run-dir", str(run_dir), *extra],
    )
    assert message in err
    assert not run_dir.exists()


def test_an_sft_run_without_adapter_or_export_fails_before_any_run_folder(capsys, tmp_path, sft_run, export):
    run_dir = tmp_path / "dpo"
    no_adapter = tmp_path / "sft-copy"
    no_adapter.mkdir()
    (no_adapter / "config.json").write_text(runfolder.config_path(sft_run).read_text())
    err = _fails(
        capsys, ["--sft-run", str(no_adapter), "--preferences", str(export), "--run-dir", str(run_dir)]
    )
    assert "has no adapter/" in err
    err = _fails(
        capsys, ["--sft-run", str(sft_run), "--preferences", str(tmp_path), "--run-dir", str(run_dir)]
    )
    assert "preferences export not found" in err
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "versions, message",
    [
        ({"trl": "0.29.0", "peft": "0.21.2"}, "trl 0.29.0 is outside the supported range trl>=1.16,<2"),
        ({"trl": "2.0.0", "peft": "0.21.2"}, "trl 2.0.0 is outside"),
        ({"trl": "1.16.0", "peft": "0.17.1"}, "peft 0.17.1 is outside the supported range peft>=0.18,<1"),
        ({"trl": None, "peft": "0.21.2"}, "trl is not installed"),
    ],
)
def test_a_trl_or_peft_version_outside_the_range_is_refused(versions, message):
    with pytest.raises(ModelError, match=re.escape(message)):
        check_versions(versions)
    check_versions({"trl": "1.16.0", "peft": "0.21.2"})  # the pinned ones pass
    check_versions()  # and so do the installed ones


def test_dpo_config_reads_yaml_and_refuses_unknown_keys(tmp_path, capsys):
    from ft_core.config import load_config

    path = tmp_path / "dpo.yaml"
    path.write_text("sft_run: runs/a\npreferences: prefs/\nloss_type: robust\nbeta: 0.2\n")
    cfg = load_config(DPOTrainConfig, path)
    assert (cfg.loss_type, cfg.beta, cfg.label_smoothing) == ("robust", 0.2, None)
    path.write_text("sft_run: runs/a\npreferences: prefs/\nmax_prompt_length: 128\n")
    assert "unknown DPOTrainConfig field: max_prompt_length" in _fails(capsys, ["--config", str(path)])
