"""ft_core.sweep: a decoding grid generated and scored in one command; a training grid with sweep.json."""

from __future__ import annotations

import json

import pytest
from test_generate import NO_REPEAT, make_run, write_eval_file

from ft_core.config import SweepConfig, TrainConfig
from ft_core.errors import ConfigError
from ft_core.sweep import main, run_name, sweep_train


def test_decoding_sweep_generates_scores_and_prints_the_table(tmp_path, tiny_causal_dir, capsys):
    run = make_run(tmp_path, tiny_causal_dir, write_eval_file(tmp_path, n=4))
    code = main(
        [
            "decoding",
            "--run-dir",
            str(run),
            "--decodings",
            "greedy",
            "--decodings",
            "beam:num_beams=2|3",
            "--metrics",
            "bleu,rouge",
            "--no-repeat-ngram-size",
            str(NO_REPEAT),
            "--n-boot",
            "200",
            "--batch-size",
            "4",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    names = ["greedy-nr1", "beam-n2-nr1", "beam-n3-nr1"]
    for name in names:
        assert (run / "outputs" / f"base__{name}__seed0.jsonl").is_file()
        assert (run / "outputs" / f"finetuned__{name}__seed0.jsonl").is_file()
        assert any(line.startswith(name) and "rougeL" in line for line in out.splitlines())
    assert "decoding settings by fine-tuned rougeL:" in out
    rows = json.loads((run / "scores" / "comparison.json").read_text())
    assert {r["decoding"] for r in rows} == set(names)
    assert all(r["n"] == 4 for r in rows if r["metric"] == "rougeL")


def test_train_sweep_writes_one_run_per_grid_point_and_sweep_json(
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
        log_every_steps=1,
        max_source_length=32,
        max_target_length=8,
        lora_r=4,
        lora_alpha=8,
    )
    summary = sweep_train(base, SweepConfig(learning_rates=[1e-3, 3e-2], lora_ranks=[2], alpha_per_r=True))
    names = [run_name(1e-3, 2), run_name(3e-2, 2)]
    assert names == ["lr0.001_r2", "lr0.03_r2"]
    saved = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert saved["runs"] == json.loads(json.dumps(summary.to_json()["runs"]))
    for run, name in zip(saved["runs"], names):
        folder = tmp_path / "sweep" / name
        assert run["run_dir"] == str(folder) and run["state"] == "finished"
        assert (folder / "adapter" / "adapter_config.json").is_file()
        config = json.loads((folder / "config.json").read_text())
        assert config["learning_rate"] == run["learning_rate"] and config["lora_r"] == 2
        assert config["lora_alpha"] == 4  # alpha / r kept at 8 / 4
        assert run["best_eval_loss"] == json.loads((folder / "status.json").read_text())["best_eval_loss"]
    best = min(saved["runs"], key=lambda r: r["best_eval_loss"])
    assert saved["best"] == best["name"]
    # Started again: finished runs are kept, not retrained.
    capsys.readouterr()
    sweep_train(base, SweepConfig(learning_rates=[1e-3], lora_ranks=[2], alpha_per_r=True))
    assert "lr0.001_r2: finished before, kept" in capsys.readouterr().out
    # The trained adapter generates: base and fine-tuned outputs differ.
    from ft_core.generate import GenerateConfig, generate

    paths = generate(
        GenerateConfig(
            run_dir=str(tmp_path / "sweep" / names[1]), max_new_tokens=4, no_repeat_ngram_size=NO_REPEAT
        )
    )
    outputs = [[json.loads(x)["output"] for x in p.read_text().splitlines()] for p in paths]
    assert outputs[0] != outputs[1]


def test_bad_grid_values(capsys):
    from ft_core.__main__ import main as cli

    with pytest.raises(ConfigError, match=r"learning_rates \(--lr\) must be of type float, got 'fast'"):
        SweepConfig(learning_rates="1e-4,fast", lora_ranks=[8])
    with pytest.raises(ConfigError, match=r"lora_ranks \(--r\) is empty"):
        SweepConfig(learning_rates=[1e-4], lora_ranks=",")
    # The command line names the flag in one line, exit code 1.
    assert cli(["sweep", "train", "--lr", "1e-4,fast", "--r", "8"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: learning_rates (--lr) must be of type float, got 'fast'"
    assert cli(["sweep", "train", "--lr", "1e-4"]) == 1
    assert capsys.readouterr().err.strip() == "error: SweepConfig needs lora_ranks (--r)"
    assert main(["nothing"]) == 2


def test_train_sweep_cli_reports_bad_config_in_one_line(tmp_path, capsys):
    from ft_core.__main__ import main as cli

    args = ["sweep", "train", "--config", str(tmp_path / "missing.yaml"), "--lr", "1e-4", "--r", "8"]
    assert cli(args) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: config file not found: {tmp_path / 'missing.yaml'}"


def test_each_point_records_its_own_peak_memory_fake_gpu_counter(monkeypatch, tmp_path):
    # Fault injection: a fake GPU memory counter (torch.cuda's functions) and a stand-in for training that
    # allocates 5 GiB at the first point and 1 GiB at the second and records the peak, as train_log's
    # gpu_mem_gb does. Without a reset per point, the second would record the first's 5 GiB.
    import torch

    import ft_core.train

    counter = {"peak": 0.0}
    recorded = {}

    def fake_train(cfg, progress=True):
        counter["peak"] = max(counter["peak"], 5.0 if cfg.learning_rate == 1e-3 else 1.0)
        recorded[cfg.learning_rate] = torch.cuda.max_memory_allocated()

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: counter["peak"])
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: counter.update(peak=0.0))
    monkeypatch.setattr(ft_core.train, "train", fake_train)
    base = TrainConfig(run_dir=str(tmp_path / "sweep"))
    sweep_train(base, SweepConfig(learning_rates=[1e-3, 3e-2], lora_ranks=[2]))
    assert recorded == {1e-3: 5.0, 3e-2: 1.0}
