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
    with pytest.raises(ConfigError, match=r"the sweep names no field"):
        SweepConfig(learning_rates=[], lora_ranks=",")
    # The command line names the flag in one line, exit code 1.
    assert cli(["sweep", "train", "--lr", "1e-4,fast", "--r", "8"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: learning_rates (--lr) must be of type float, got 'fast'"
    assert main(["nothing"]) == 2


def test_swept_fields_and_values_are_checked_by_the_fields_own_rules():
    with pytest.raises(ConfigError, match=r"unknown field 'max_target_len' .*did you mean max_target_length"):
        SweepConfig(grid=["max_target_len=320,441"])
    with pytest.raises(ConfigError, match=r"^max_target_length must be positive, got 0$"):
        SweepConfig(grid=["max_target_length=320,0"])
    with pytest.raises(ConfigError, match=r"^lr_scheduler must be one of linear, cosine"):
        SweepConfig(grid={"lr_scheduler": ["cosine", "warp"]})
    with pytest.raises(ConfigError, match=r"generate.max_new_tokens is swept but the points do not generate"):
        SweepConfig(grid=["max_new_tokens=64,128"])
    with pytest.raises(ConfigError, match=r"^max_new_tokens must be positive, got -1$"):
        SweepConfig(grid=["max_new_tokens=64,-1"], evaluate=True)
    with pytest.raises(ConfigError, match=r"run_dir cannot be swept"):
        SweepConfig(grid=["run_dir=a,b"])
    with pytest.raises(ConfigError, match=r"a random search needs n_points"):
        SweepConfig(grid=["max_target_length=320,441"], search="random")
    with pytest.raises(ConfigError, match=r"learning_rate is swept twice"):
        SweepConfig(learning_rates=[1e-4], grid=["learning_rate=1e-3"])
    # A plain generate field name is the generation's; a YAML list gives list values.
    grid = SweepConfig(
        grid=["max_new_tokens=64,128", "target_modules=[[q_proj, v_proj], [all-linear]]"], evaluate=True
    )
    assert grid.values == {
        "generate.max_new_tokens": [64, 128],
        "target_modules": [["q_proj", "v_proj"], ["all-linear"]],
    }


def test_a_bad_point_fails_in_one_line_before_any_run_starts(tmp_path, capsys):
    from ft_core.__main__ import main as cli

    config = tmp_path / "base.yaml"
    # early_stopping_patience needs a validation file: a rule that joins fields, met only at some points.
    config.write_text(
        f"run_dir: {tmp_path / 'sweep'}\nvalidation_file: null\n"
        "sweep:\n  grid: {early_stopping_patience: [0, 2]}\n"
    )
    assert cli(["sweep", "train", "--config", str(config)]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        err == "error: sweep point early_stopping_patience2: early_stopping_patience needs a validation_file"
    )
    assert not (tmp_path / "sweep").exists()  # nothing started, nothing half-written
    assert cli(["sweep", "train", "--config", str(config), "--grid", "max_target_lenght=1,2"]) == 1
    assert capsys.readouterr().err.strip().startswith("error: unknown field 'max_target_lenght' in the sweep")


def test_random_search_draws_n_points_of_the_grid_with_its_seed():
    values = {"learning_rate": [1e-5, 1e-4, 1e-3], "max_target_length": [320, 441, 512], "lora_r": [8, 16]}
    grid = SweepConfig(grid=values)
    every = grid.points()
    assert len(every) == 18 and grid.describe() == "3x3x2"
    assert every[:2] == [
        {"learning_rate": 1e-5, "max_target_length": 320, "lora_r": 8},
        {"learning_rate": 1e-5, "max_target_length": 320, "lora_r": 16},
    ]
    draws = [SweepConfig(grid=values, search="random", n_points=5, search_seed=s).points() for s in (0, 0, 1)]
    assert draws[0] == draws[1] and draws[0] != draws[2]  # seeded
    for draw in draws:
        assert len(draw) == 5 and all(p in every for p in draw)
        assert len({tuple(p.values()) for p in draw}) == 5  # without replacement
    assert len(SweepConfig(grid=values, search="random", n_points=99).points()) == 18


def test_an_old_lr_by_rank_sweep_config_still_loads_and_names_its_folders_as_before(tmp_path):
    from ft_core.config import config_from_dict, parse_cli
    from ft_core.sweep import plan_points

    old = {"learning_rates": [3e-5, 1e-4], "lora_ranks": [8, 16], "alpha_per_r": True}
    grid = config_from_dict(SweepConfig, old)
    assert grid.values == {"learning_rate": [3e-5, 1e-4], "lora_r": [8, 16]} and grid.describe() == "2x2"
    assert parse_cli(SweepConfig, ["--lr", "3e-5,1e-4", "--r", "8,16", "--alpha-per-r"], "sweep") == grid
    base = TrainConfig(run_dir=str(tmp_path / "s"), lora_r=8, lora_alpha=16)
    points = plan_points(base, grid)
    assert [p.name for p in points] == [run_name(lr, r) for lr in (3e-5, 1e-4) for r in (8, 16)]
    assert [(p.train.learning_rate, p.train.lora_r, p.train.lora_alpha) for p in points][-1] == (1e-4, 16, 32)


def test_sweep_over_max_target_length_and_max_new_tokens_trains_generates_and_scores_each_point(
    tmp_path, tiny_causal_dir, tiny_jsonl
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
        lora_r=4,
        lora_alpha=8,
    )
    grid = SweepConfig(
        grid={"max_target_length": [6, 9], "max_new_tokens": [3]},
        evaluate=True,
        generate={"limit": 4, "no_repeat_ngram_size": NO_REPEAT, "decodings": ["greedy"]},
        score={"metrics": ["rouge"], "n_boot": 100},
    )
    summary = sweep_train(base, grid)
    saved = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert saved["grid"] == {"max_target_length": [6, 9], "generate.max_new_tokens": [3]}
    assert [r["name"] for r in saved["runs"]] == [
        "max_target_length6_max_new_tokens3",
        "max_target_length9_max_new_tokens3",
    ]
    for run, length in zip(saved["runs"], (6, 9)):
        folder = tmp_path / "sweep" / run["name"]
        assert run["state"] == "finished" and run["values"]["max_target_length"] == length
        assert json.loads((folder / "config.json").read_text())["max_target_length"] == length
        outputs = sorted((folder / "outputs").glob("*.jsonl"))
        assert len(outputs) == 2  # base and fine-tuned, greedy
        rows = [json.loads(x) for x in outputs[1].read_text().splitlines()]
        assert len(rows) == 4
        assert "rougeL" in run["metrics"] and 0 <= run["metrics"]["rougeL"] <= 1
    assert summary.best in {r["name"] for r in saved["runs"]}


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
