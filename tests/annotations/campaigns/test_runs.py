"""Reading run folders: status, curves, configs side by side, metric tables, sweeps; tolerant of half-written
files and of folders deleted while listed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from annotations.campaigns import runs


def write_run(
    folder: Path, lr: float = 1e-4, r: int = 16, state: str = "finished", steps: int = 4, delta=None
):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(
        json.dumps(
            {"base_model": "smollm2-135m", "learning_rate": lr, "lora_r": r, "target_modules": ["q_proj"]}
        )
    )
    (folder / "status.json").write_text(
        json.dumps(
            {
                "state": state,
                "step": steps,
                "total_steps": steps,
                "best_eval_loss": 2.0 - lr * 1000 + r / 100,
                "final_train_loss": 1.5,
                "started_at": 1000.0,
                "updated_at": 1010.0,
            }
        )
    )
    rows = [{"step": s, "loss": 3.0 - 0.5 * s, "tokens_per_s": 100.0 + s} for s in range(1, steps + 1)]
    rows.append({"step": steps, "eval_loss": 2.0})
    (folder / "train_log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    if delta is not None:
        (folder / "scores").mkdir()
        records = [
            {"decoding": "greedy", "metric": "rougeL", "base": 0.2, "finetuned": 0.2 + delta, "delta": delta},
            {"decoding": "greedy", "metric": "bleu", "base": 0.1, "finetuned": 0.1, "delta": 0.0},
        ]
        (folder / "scores" / "comparison.json").write_text(json.dumps(records))
    return folder


def test_list_runs_reads_status_config_and_what_a_run_has(tmp_path):
    write_run(tmp_path / "a", delta=0.05)
    write_run(tmp_path / "b", state="running", steps=2)
    (tmp_path / ".jobs").mkdir()  # job logs and config files are not runs
    (tmp_path / "notes").mkdir()
    table = runs.list_runs(tmp_path)
    assert table.run.tolist() == ["a", "b"]
    a = table.set_index("run").loc["a"]
    assert a.state == "finished" and a.scores and a.lora_r == 16 and a.learning_rate == 1e-4
    assert table.set_index("run").loc["b", "state"] == "running"


def test_readers_tolerate_half_written_and_missing_files(tmp_path):
    run = write_run(tmp_path / "a")
    with open(run / "train_log.jsonl", "a") as f:
        f.write('{"step": 5, "loss": 0.')  # the job is writing this line right now
    (run / "status.json").write_text('{"state": "runn')
    assert runs.read_status(run).state is None
    assert len(runs.read_log(run)) == 5
    assert runs.read_status(tmp_path / "nope").state is None and runs.read_config(tmp_path / "nope") is None
    assert runs.read_log(tmp_path / "nope").empty
    assert runs.comparison(tmp_path / "nope").empty


def test_a_run_folder_deleted_while_listed(tmp_path):
    write_run(tmp_path / "a")
    write_run(tmp_path / "b")
    listed = runs.list_runs(tmp_path)
    shutil.rmtree(tmp_path / "b")
    chosen = dict(zip(listed.run, listed.path))  # what the page still shows
    assert set(runs.curves(chosen).run) == {"a"}
    table = runs.config_table(chosen)
    assert (table["b"] == "").all() and (table["a"] != "").any()
    assert runs.train_progress(chosen["b"]).fraction is None
    assert runs.list_runs(tmp_path).run.tolist() == ["a"]


def test_curves_overlay_and_progress_with_time_left(tmp_path):
    a = write_run(tmp_path / "a", state="running", steps=4)
    status = json.loads((a / "status.json").read_text())
    status.update(total_steps=10, step=4, started_at=1000.0)
    (a / "status.json").write_text(json.dumps(status))
    assert "estimating the time left" in runs.train_progress(a, now=1020.0).text  # no logged times: no guess
    rows = [
        {"step": s, "loss": 3.0 - 0.5 * s, "tokens_per_s": 100.0 + s, "time": 1000.0 + 5 * s}
        for s in (1, 2, 3, 4)
    ]
    rows.append({"step": 4, "eval_loss": 2.0, "time": 1021.0})
    (a / "train_log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    progress = runs.train_progress(a, now=1021.0)
    assert progress.fraction == pytest.approx(0.4)
    assert progress.eta_s == pytest.approx(5.0 * 6)  # 5 s per step (loading and validation left out), 6 left
    assert progress.time_left.low_s < 30 < progress.time_left.high_s  # three intervals: still a range
    assert progress.loss == 1.0 and progress.tokens_per_s == 104.0 and progress.eval_loss == 2.0
    assert "under a minute left" in progress.text
    write_run(tmp_path / "b", steps=2)
    long = runs.curves({"a": a, "b": tmp_path / "b"})
    assert set(long.metric) == {"loss", "eval_loss"}
    assert len(long[(long.run == "b") & (long.metric == "loss")]) == 2


def test_config_table_puts_differing_fields_first(tmp_path):
    a = write_run(tmp_path / "a", lr=1e-4)
    b = write_run(tmp_path / "b", lr=3e-4)
    table = runs.config_table({"a": a, "b": b})
    assert table.index[0] == "learning_rate" and table.loc["learning_rate", "differs"]
    assert not table.loc["base_model", "differs"]
    assert table.loc["target_modules", "a"] == '["q_proj"]'


def test_metric_tables_stack_runs(tmp_path):
    a = write_run(tmp_path / "a", delta=0.1)
    b = write_run(tmp_path / "b")
    table = runs.metric_tables({"a": a, "b": b})
    assert set(table.run) == {"a"} and set(table.metric) == {"rougeL", "bleu"}


def test_sweep_grid_over_lr_and_rank(tmp_path):
    sweep = tmp_path / "sweep"
    lrs, ranks = [3e-5, 1e-4, 3e-4], [8, 16, 32]
    for lr in lrs:
        for r in ranks:
            if (lr, r) != (3e-4, 32):  # one run still missing
                write_run(sweep / f"lr{lr:g}_r{r}", lr=lr, r=r, delta=lr * 100 + r / 1000)
    (sweep / "sweep.json").write_text(json.dumps({"runs": [{"run_dir": str(sweep / "lr0.0003_r32")}]}))
    assert runs.is_sweep(sweep) and runs.list_sweeps(tmp_path) == [sweep]
    members = runs.sweep_members(sweep)
    assert len(members) == 9
    assert "delta_rougeL" in runs.sweep_metrics(members) and "best_eval_loss" in runs.sweep_metrics(members)
    grid = runs.sweep_grid(members, "delta_rougeL")
    assert grid.index.tolist() == lrs and grid.columns.tolist() == ranks
    assert grid.loc[1e-4, 16] == pytest.approx(1e-4 * 100 + 16 / 1000)
    assert pd.isna(grid.loc[3e-4, 32])
    # sweep members are listed as runs too
    assert "sweep/lr0.0001_r16" in runs.list_runs(tmp_path).run.tolist()


def test_sweep_points_of_an_old_lr_by_rank_sweep_json_and_of_a_sweep_over_other_fields(tmp_path):
    old = tmp_path / "old"
    for lr, r in [(1e-4, 8), (1e-4, 16)]:
        write_run(old / f"lr{lr}_r{r}", lr=lr, r=r)
    # sweep.json as sweeps wrote it before any field could be swept: grid = {learning_rate, lora_r}
    saved = {"grid": {"learning_rate": [1e-4], "lora_r": [8, 16]}, "alpha_per_r": False}
    saved["runs"] = [
        {"name": p.name, "run_dir": str(p), "learning_rate": 1e-4, "lora_r": 8} for p in old.iterdir()
    ]
    (old / "sweep.json").write_text(json.dumps(saved))
    assert runs.sweep_fields(old) == ["learning_rate", "lora_r"]
    points = runs.sweep_points(old).set_index("run")
    assert points.loc["lr0.0001_r16", "lora_r"] == 16 and points.loc["lr0.0001_r16", "learning_rate"] == 1e-4
    new = tmp_path / "new"
    runs_ = []
    for tokens in (64, 128):
        folder = write_run(new / f"max_new_tokens{tokens}")
        runs_.append({"run_dir": str(folder), "values": {"generate.max_new_tokens": tokens}})
    (new / "sweep.json").write_text(json.dumps({"fields": ["generate.max_new_tokens"], "runs": runs_}))
    points = runs.sweep_points(new)
    assert points["generate.max_new_tokens"].tolist() == [64, 128]
    metrics = runs.sweep_metrics(points, runs.sweep_fields(new))
    assert "best_eval_loss" in metrics and "generate.max_new_tokens" not in metrics


def test_log_progress_and_durations():
    assert runs.log_progress("loading\nbase__greedy__seed0.jsonl: 40/100 items, 12 new tokens/s") == 0.4
    assert runs.log_progress("nothing yet") is None
    assert runs.format_duration(75) == "1 min 15 s" and runs.format_duration(3 * 3600 + 120) == "3 h 2 min"


def test_runs_trained_outside_the_app_are_found_while_their_writer_lives(tmp_path):
    import os
    import subprocess
    import sys

    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        cases = (("terminal", writer.pid), ("crashed", 2**22 + 12345), ("app", os.getpid()))
        for name, pid in (*cases, ("sweep/lr0.0001_r8", os.getpid())):
            run = write_run(tmp_path / name, state="running")
            status = json.loads((run / "status.json").read_text())
            (run / "status.json").write_text(json.dumps({**status, "pid": pid}))
        found = runs.outside_runs(tmp_path, tracked=[str(tmp_path / "app"), str(tmp_path / "sweep")])
        # the crashed one's pid is gone; the app's job and the member of the app's sweep job are tracked
        assert found.run.tolist() == ["terminal"]
    finally:
        writer.kill()
        writer.wait()


def test_a_running_run_that_went_silent_reads_as_failed_with_the_failing_process_error(tmp_path):
    # What torchrun from a terminal leaves when process 1 dies of an out-of-memory error while process 0 is
    # blocked in a collective until SIGKILL: status.json says running, errors/rank1.json says why, and the
    # heartbeat stopped. Nothing wrote the end; the reader must not show "running" forever.
    from ft_core import runfolder

    run = write_run(tmp_path / "torchrun", state="running", steps=2)
    runfolder.write_heartbeat(run)
    beat = runfolder.last_heartbeat(run)
    assert runfolder.observed_status(run, now=beat + 10).state == "running"  # alive: beats are recent
    runfolder.write_process_error(run, 1, "out of GPU memory at batch_size=2: lower batch_size", "oom")
    later = beat + runfolder.STALE_AFTER_S + 1
    seen = runfolder.observed_status(run, now=later)
    assert (
        seen.state == "failed"
        and seen.error == "process 1: out of GPU memory at batch_size=2: lower batch_size"
    )
    assert seen.step == 2  # the rest of the status as written
    assert runfolder.read_status(run).state == "running"  # a reader writes nothing
    # without an error file: failed, saying it went silent; with a requested cancel: cancelled
    quiet = write_run(tmp_path / "quiet", state="running", steps=2)
    runfolder.write_heartbeat(quiet)
    silent = runfolder.observed_status(quiet, now=later + 60)
    assert silent.state == "failed" and "no heartbeat since" in silent.error
    runfolder.request_cancel(quiet)
    assert runfolder.observed_status(quiet, now=later + 60).state == "cancelled"
    # a finished run, or one of an older version without heartbeat.json, reads as written
    assert runfolder.observed_status(write_run(tmp_path / "done"), now=later).state == "finished"
    assert (
        runfolder.observed_status(write_run(tmp_path / "old", state="running"), now=later).state == "running"
    )


def test_the_runs_table_shows_a_silent_run_as_failed(tmp_path):
    import os
    import time

    from ft_core import runfolder

    run = write_run(tmp_path / "torchrun", state="running", steps=2)
    runfolder.write_process_error(run, 1, "out of GPU memory at batch_size=2: lower batch_size", "oom")
    stale = time.time() - runfolder.STALE_AFTER_S - 5
    runfolder.write_json_atomic(runfolder.heartbeat_path(run), {"time": stale, "pid": os.getpid()})
    table = runs.list_runs(tmp_path).set_index("run")
    assert table.loc["torchrun", "state"] == "failed"
    assert not table.loc["torchrun", "writer_alive"]
