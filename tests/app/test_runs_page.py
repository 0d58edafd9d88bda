"""Runs page with AppTest: overlaid curves, configs side by side, metric tables, a sweep heatmap, and
carrying a run on (generate + score jobs, a campaign); a run folder deleted while listed does not break it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from helpers.login_as import open_as

from annotations.campaigns import list_campaigns
from jobs import queue, scheduler


def write_run(folder: Path, lr: float, r: int, delta: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"base_model": "tiny", "learning_rate": lr, "lora_r": r}))
    (folder / "status.json").write_text(
        json.dumps({"state": "finished", "step": 3, "total_steps": 3, "best_eval_loss": lr * 1e3 + r})
    )
    rows = [{"step": s, "loss": 3.0 / s} for s in (1, 2, 3)] + [{"step": 3, "eval_loss": 1.0}]
    (folder / "train_log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    (folder / "adapter").mkdir()
    (folder / "adapter" / "adapter_config.json").write_text("{}")
    if delta is not None:
        (folder / "scores").mkdir()
        rec = {
            "decoding": "greedy",
            "metric": "rougeL",
            "base": 0.2,
            "finetuned": 0.2 + delta,
            "delta": delta,
        }
        (folder / "scores" / "comparison.json").write_text(json.dumps([rec]))
    return folder


def test_compare_runs_curves_configs_metrics(app_env, researcher, tmp_path):
    root = tmp_path / "runs"
    write_run(root / "a", 1e-4, 8, delta=0.02)
    write_run(root / "b", 3e-4, 8, delta=0.05)
    at = open_as("runs", researcher)
    assert not at.exception
    assert set(at.dataframe[0].value.run) == {"a", "b", "run-1"}
    assert at.multiselect(key="chosen").value == ["a", "b"]
    assert len(at.get("vega_lite_chart")) == 2  # loss and eval_loss, both runs overlaid in each
    configs = at.dataframe[1].value
    assert configs.index.tolist() == ["learning_rate"] and configs.loc["learning_rate", "b"] == "0.0003"
    scores = at.dataframe[2].value
    assert scores.set_index("run").loc["b", "delta"] == 0.05


def test_sweep_heatmap(app_env, researcher, tmp_path):
    sweep = tmp_path / "runs" / "grid"
    for lr in (3e-5, 1e-4):
        for r in (8, 16):
            write_run(sweep / f"lr{lr}_r{r}", lr, r, delta=lr * 100 + r / 100)
    at = open_as("runs", researcher)
    at.selectbox(key="sweep_metric").set_value("delta_rougeL").run()
    assert not at.exception
    grid = at.dataframe[-1].value
    assert grid.shape == (2, 2) and abs(grid.loc[1e-4, 16] - (1e-2 + 0.16)) < 1e-12
    assert "eval_sweep" not in [b.key for b in at.button]  # every member is scored


def test_a_sweep_over_any_field_compares_its_points_in_a_table_and_a_chart_per_field(
    app_env, researcher, tmp_path
):
    sweep = tmp_path / "runs" / "lengths"
    values = [(320, 64), (320, 128), (441, 64), (441, 128), (512, 64), (512, 128)]
    entries = []
    for length, tokens in values:
        name = f"max_target_length{length}_max_new_tokens{tokens}"
        folder = write_run(sweep / name, 1e-4, 8, delta=length / 1e4 + tokens / 1e5)
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "max_target_length": length}))
        loss = 2.0 - length / 1000  # longer targets: lower loss in this made-up sweep
        status = json.loads((folder / "status.json").read_text())
        (folder / "status.json").write_text(json.dumps({**status, "best_eval_loss": loss}))
        values_ = {"max_target_length": length, "generate.max_new_tokens": tokens}
        entries.append({"name": name, "run_dir": str(folder), "values": values_})
    fields = ["max_target_length", "generate.max_new_tokens"]
    grid = {"max_target_length": [320, 441, 512], "generate.max_new_tokens": [64, 128]}
    (sweep / "sweep.json").write_text(json.dumps({"grid": grid, "fields": fields, "runs": entries}))
    at = open_as("runs", researcher)
    at.selectbox(key="sweep").set_value(sweep)
    at.selectbox(key="sweep_metric").set_value("best_eval_loss").run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "max_target_length" in d.value.columns)
    assert len(table) == 6 and list(table.columns[:3]) == ["run", *fields]
    row = table.set_index("run").loc["max_target_length441_max_new_tokens128"]
    assert row["generate.max_new_tokens"] == 128 and abs(row["best_eval_loss"] - 1.559) < 1e-12
    assert abs(row["finetuned_rougeL"] - (0.2 + 0.0441 + 0.00128)) < 1e-12
    charts = [c for c in at.get("vega_lite_chart") if "best_eval_loss by" in str(c.proto.spec)]
    assert len(charts) == 2  # one per swept field, and no lr x r heatmap
    spec = json.loads(next(c for c in charts if "by max_target_length" in c.proto.spec).proto.spec)
    assert (
        spec["encoding"]["x"]["field"] == "max_target_length"
        and spec["encoding"]["x"]["type"] == "quantitative"
    )
    assert "best_eval_loss" in at.selectbox(key="sweep_metric").options
    assert "max_target_length" not in at.selectbox(key="sweep_metric").options


def test_sweep_members_get_generated_and_scored_from_the_heatmap_tab(app_env, researcher, tmp_path):
    sweep = tmp_path / "runs" / "grid"
    write_run(sweep / "lr0.0001_r8", 1e-4, 8, delta=0.1)
    write_run(sweep / "lr0.0001_r16", 1e-4, 16)
    write_run(sweep / "lr0.0003_r8", 3e-4, 8)
    at = open_as("runs", researcher)
    at.button(key="eval_sweep").click().run()
    assert not at.exception and "Queued 4 jobs" in at.success[0].value
    queued = queue.list_jobs(app_env)
    assert sorted(Path(j.run_dir).name for j in queued if j.kind == "generate") == [
        "lr0.0001_r16",
        "lr0.0003_r8",
    ]
    for job in queued:
        if queue.get_job(app_env, job.job_id).active:
            scheduler.cancel(app_env, job.job_id)


def test_generate_and_score_then_campaign(app_env, researcher, tmp_path):
    root = tmp_path / "runs"
    write_run(root / "a", 1e-4, 8)
    at = open_as("runs", researcher)
    at.selectbox(key="continue_run").set_value("a").run()
    at.number_input(key="eval_limit").set_value(20).run()
    at.button(key="evaluate").click().run()
    assert not at.exception and "Queued" in at.success[0].value
    gen, score = sorted(queue.list_jobs(app_env), key=lambda j: j.kind)
    assert (gen.kind, score.kind) == ("generate", "score") and score.depends_on == gen.job_id
    assert gen.command[-5:] == ["generate", "--run-dir", str(root / "a"), "--limit", "20"]
    for job in (score, gen):
        if queue.get_job(app_env, job.job_id).active:
            scheduler.cancel(app_env, job.job_id)
    # a second click while they ran would have been refused; now: the campaign from run-1's outputs
    at.selectbox(key="continue_run").set_value("run-1").run()
    at.number_input(key="camp_k").set_value(2).run()
    at.button(key="campaign").click().run()
    assert not at.exception and "created" in at.success[0].value
    campaigns = list_campaigns(app_env)
    assert len(campaigns) == 1 and campaigns.k.iloc[0] == 2


def test_a_run_folder_deleted_while_listed(app_env, researcher, tmp_path):
    root = tmp_path / "runs"
    write_run(root / "a", 1e-4, 8)
    write_run(root / "b", 3e-4, 8)
    at = open_as("runs", researcher)
    shutil.rmtree(root / "b")
    at.run()
    assert not at.exception
    assert "b" not in set(at.dataframe[0].value.run)


def test_the_metric_table_says_which_bleu_is_which(app_env, researcher, tmp_path):
    folder = write_run(tmp_path / "runs" / "a", 1e-4, 8)
    (folder / "scores").mkdir()
    rows = [
        {"decoding": "greedy", "metric": "bleu", "base": 0.062, "finetuned": 0.077, "delta": 0.015},
        {"decoding": "greedy", "metric": "sentence_bleu", "base": 0.028, "finetuned": 0.031, "delta": 0.003},
    ]
    (folder / "scores" / "comparison.json").write_text(json.dumps(rows))
    at = open_as("runs", researcher)
    assert not at.exception
    (help_line,) = [c.value for c in at.caption if "`sentence_bleu`" in c.value]
    assert "`bleu`: corpus BLEU on the 0-1 scale" in help_line
    assert "a table of systems shows its mean over items, which is not corpus BLEU" in help_line


def test_a_dpo_run_shows_its_own_config_and_what_it_learnt_from(app_env, researcher, tmp_path):
    from ft_core import runfolder
    from ft_core.config import DPOTrainConfig

    root = tmp_path / "runs"
    sft = write_run(root / "a", 1e-4, 8)
    dpo = write_run(root / "b", 2e-4, 8)  # config.json: the SFT config the DPO run inherits, its own lr
    dpo_config = DPOTrainConfig(
        sft_run=str(sft), preferences="prefs", run_dir=str(dpo), beta=0.25, loss_type="robust"
    )
    dpo_config.learning_rate = 5e-6
    runfolder.write_config(runfolder.dpo_config_path(dpo), dpo_config)
    runfolder.write_json_atomic(
        runfolder.preference_source_path(dpo),
        {
            "preferences": "/exports/prefs/preferences.jsonl",
            "campaign_id": "camp-123",
            "train_pairs": 14,
            "label_smoothing": 0.2,
            "export_summary": {"note": "SIMULATED preferences: the demo's"},
        },
    )
    at = open_as("runs", researcher)
    assert not at.exception and at.multiselect(key="chosen").value == ["a", "b"]
    configs = at.dataframe[1].value  # only the fields that differ, by default
    b = configs["b"]
    assert b["run_type"] == "DPO" and configs.loc["run_type", "a"] == "SFT"
    assert b["beta"] == "0.25" and b["loss_type"] == "robust" and b["sft_run"] == str(sft)
    assert b["campaign_id"] == "camp-123" and b["preferences_file"] == "/exports/prefs/preferences.jsonl"
    assert b["label_smoothing_used"] == "0.2" and "SIMULATED" in b["preferences_note"]
    # the DPO run's own learning rate, not its SFT config's; that one stays visible, named as such
    assert b["learning_rate"] == "5e-06" and b["sft.learning_rate"] == "0.0002"
    assert configs.loc["learning_rate", "a"] == "0.0001"
