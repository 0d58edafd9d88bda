"""ft_core.runfolder, the one owner of the run-folder layout: names that round-trip, atomic writes that a
reader never sees half of, readers that never raise for the app, and the rules training and generation rely
on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from ft_core import runfolder
from ft_core.config import TrainConfig
from ft_core.errors import RunFolderError


def test_output_names_round_trip_and_odd_names_are_refused(tmp_path):
    path = runfolder.output_path(tmp_path, "finetuned", "beam-n4-lp0.8", 3)
    assert path == tmp_path / "outputs" / "finetuned__beam-n4-lp0.8__seed3.jsonl"
    name = runfolder.parse_output_name(path)
    assert name == ("finetuned", "beam-n4-lp0.8", 3) and name.decoding == "beam-n4-lp0.8"
    for odd in ("base__greedy.jsonl", "a__b__c__seed0.jsonl", "base__greedy__seedx.jsonl", "x__y__seed1.csv"):
        assert runfolder.parse_output_name(odd) is None, odd
    assert runfolder.parse_output_name("base__greedy__seed-1.jsonl").seed == -1
    path.parent.mkdir(parents=True)
    for p in (path, path.parent / "notes__here.jsonl", runfolder.partial_path(path)):
        p.write_text('{"item_id": "1"}\n')
    assert runfolder.partial_path(path).name == ".finetuned__beam-n4-lp0.8__seed3.jsonl.partial"
    assert [f.name for f in runfolder.list_outputs(tmp_path)] == [name]  # misnamed and hidden files skipped
    assert len(runfolder.output_files(tmp_path / "outputs")) == 2


def test_sweep_member_names_round_trip():
    for lr, r in ((3e-5, 8), (1e-4, 16), (0.001, 2)):
        assert runfolder.parse_sweep_member(runfolder.sweep_member_name(lr, r)) == (lr, r)
    assert runfolder.sweep_member_name(3e-5, 8) == "lr3e-05_r8"
    assert runfolder.parse_sweep_member("lr1e-4e_r8") is None and runfolder.parse_sweep_member("run") is None


def test_readers_return_empty_values_for_missing_and_half_written_files(tmp_path):
    gone = tmp_path / "deleted-meanwhile"
    assert runfolder.read_status(gone) == runfolder.RunStatus() and runfolder.read_config(gone) is None
    assert runfolder.read_log(gone).empty and list(runfolder.read_log(gone).columns)[:2] == ["step", "loss"]
    assert runfolder.read_comparison(gone).empty and runfolder.read_sweep(gone) is None
    run = tmp_path / "run"
    run.mkdir()
    (run / "status.json").write_text('{"state": "runn')  # a writer that does not write atomically
    (run / "train_log.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "lo')
    assert runfolder.read_status(run) == runfolder.RunStatus()
    assert runfolder.read_log_rows(run) == [{"step": 1, "loss": 2.0}]
    assert runfolder.last_train_loss(run) == 2.0
    with pytest.raises(RunFolderError, match="no config.json"):
        runfolder.load_train_config(run)
    with pytest.raises(RunFolderError, match="does not exist"):
        runfolder.load_train_config(gone)


def test_jsonl_reading_stops_at_a_cut_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{"a": 3, "b"\n{"a": 4}\n')
    read = runfolder.read_jsonl(path)
    assert read.records == [{"a": 1}, {"a": 2}] and read.bad_line == 4 and read.error
    assert runfolder.count_records(path) == 4
    runfolder.write_jsonl_atomic(path, [{"text": "Résumé"}])
    assert "Résumé" in path.read_text(encoding="utf-8") and runfolder.read_jsonl(path).bad_line is None


def test_status_is_merged_and_written_atomically_while_a_reader_polls(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    runfolder.write_status(run, state="running", step=0, traceback="x" * 20000)
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(runfolder.read_status(run))

    thread = threading.Thread(target=reader)
    thread.start()
    for step in range(1, 200):
        runfolder.write_status(run, step=step)
    stop.set()
    thread.join()
    assert seen and all(s.state == "running" for s in seen)  # never empty, never half a file
    final = runfolder.read_status(run)
    assert final.step == 199 and final.pid == os.getpid() and final.traceback == "x" * 20000
    assert sorted(p.name for p in run.iterdir()) == ["status.json"]  # no staging file left behind


def test_mark_ended_only_touches_a_run_that_still_says_running(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    runfolder.write_status(run, state="finished", step=3)
    assert runfolder.mark_ended(run, "failed", "killed") is False
    assert runfolder.read_status(run).state == "finished"
    runfolder.write_status(run, state="running")
    assert runfolder.mark_ended(run, "cancelled", "cancelled from the Jobs page") is True
    status = runfolder.read_status(run)
    assert status.state == "cancelled" and status.error == "cancelled from the Jobs page"
    assert runfolder.mark_ended(tmp_path / "gone", "failed", None) is False


def test_run_dir_rules_of_training(tmp_path):
    run = tmp_path / "run"
    assert runfolder.run_dir_problem(run, resume=False) is None
    run.mkdir()
    assert runfolder.run_dir_problem(run, resume=False) is None  # empty: fine
    (run / "precious.txt").write_text("keep")
    assert "exists already" in runfolder.run_dir_problem(run, resume=False)
    assert "cannot resume" in runfolder.run_dir_problem(run, resume=True)
    state = runfolder.TrainState(step=3, epoch=1, batch_in_epoch=2, best_eval_loss=1.5, best_step=2)
    runfolder.checkpoint_dir(run).mkdir()
    runfolder.write_trainer_state(runfolder.checkpoint_dir(run), state)
    assert runfolder.run_dir_problem(run, resume=True) is None
    assert runfolder.read_trainer_state(run) == state
    saved = json.loads((run / "checkpoint" / "trainer_state.json").read_text())
    assert list(saved) == [
        "step",
        "epoch",
        "batch_in_epoch",
        "best_eval_loss",
        "best_step",
        "bad_evals",
        "epoch_float",
    ]


def test_folders_are_swapped_in_whole(tmp_path):
    final = tmp_path / "adapter"
    final.mkdir()
    (final / "weights").write_text("old")
    staging = runfolder.staging_dir(final)
    staging.mkdir()
    (staging / "weights").write_text("new")
    runfolder.swap_in(staging, final)
    assert (final / "weights").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]


def test_config_round_trips_through_the_run_folder(tmp_path):
    cfg = TrainConfig(run_dir=str(tmp_path / "run"), lora_r=4, target_modules=["q_proj"])
    runfolder.create(cfg.run_dir, cfg, {"examples": 3})
    assert runfolder.load_train_config(cfg.run_dir) == cfg
    assert runfolder.read_config(cfg.run_dir) == cfg
    assert runfolder.read_truncation(cfg.run_dir) == {"examples": 3}
    assert runfolder.is_run(cfg.run_dir) and not runfolder.is_sweep(tmp_path)


def test_pid_alive_tells_a_crashed_writer_from_a_live_one():
    assert runfolder.pid_alive(os.getpid())
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    assert not runfolder.pid_alive(int(dead.stdout))
    assert not runfolder.pid_alive(None) and not runfolder.pid_alive("123") and not runfolder.pid_alive(0)
    assert runfolder.writer_alive(runfolder.RunStatus(state="running", pid=os.getpid()))
    assert not runfolder.writer_alive(runfolder.RunStatus(state="finished", pid=os.getpid()))


# --- how a run that did not finish ended: a requested cancel, a process's error, or neither
# ---------------------


def test_a_process_error_makes_a_sigterm_a_failure_and_a_requested_cancel_wins(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    # nothing recorded: an interrupt (Ctrl-C, a plain SIGTERM) is a cancel, any other error a failure
    assert runfolder.ending(run, interrupted=True, error="Terminated: signal 15") == (
        "cancelled",
        "Terminated: signal 15",
    )
    assert runfolder.ending(run, interrupted=False, error="RuntimeError: x").state == "failed"
    # process 1 died first of an out-of-memory error, process 0 then of the broken connection: the first is
    # the cause
    runfolder.write_process_error(run, 1, "out of GPU memory at batch_size=8: lower batch_size", "oom")
    runfolder.write_process_error(run, 0, "RuntimeError: Connection closed by peer", "RuntimeError")
    assert [e["rank"] for e in runfolder.process_errors(run)] == [1, 0]
    for interrupted in (True, False):
        outcome = runfolder.ending(run, interrupted=interrupted, error="Terminated: signal 15")
        assert outcome == ("failed", "process 1: out of GPU memory at batch_size=8: lower batch_size")
    # the app asked for the cancel before it signalled: cancelled, whatever the processes wrote
    assert runfolder.request_cancel(run) and runfolder.cancel_requested(run)
    assert runfolder.ending(run, interrupted=True, error="Terminated: signal 15").state == "cancelled"
    assert runfolder.ending(run, interrupted=False, error="RuntimeError: x").state == "cancelled"
    # a resumed run starts clean
    runfolder.clear_run_signals(run)
    assert not runfolder.cancel_requested(run) and runfolder.process_errors(run) == []
    assert sorted(p.name for p in run.iterdir()) == []


def test_request_cancel_writes_nothing_where_no_run_folder_exists(tmp_path):
    assert runfolder.request_cancel(tmp_path / "not-started") is False
    assert not (tmp_path / "not-started").exists()  # a later `train` would refuse an existing folder


def test_mark_ended_records_the_failing_process_unless_a_cancel_was_requested(tmp_path):
    # the app marks a run whose process 0 was killed before it could write (NCCL blocks it in a CUDA call
    # until torchrun's SIGKILL): the folder's evidence decides, as in the job itself
    run = tmp_path / "run"
    run.mkdir()
    runfolder.write_status(run, state="running")
    runfolder.write_process_error(run, 2, "out of GPU memory at batch_size=8: lower batch_size", "oom")
    assert runfolder.mark_ended(run, "cancelled", "killed by signal 9")
    status = runfolder.read_status(run)
    assert status.state == "failed" and status.error.startswith("process 2: out of GPU memory")

    other = tmp_path / "other"
    other.mkdir()
    runfolder.write_status(other, state="running")
    runfolder.write_process_error(other, 1, "RuntimeError: Connection closed by peer", "RuntimeError")
    runfolder.request_cancel(other)
    assert runfolder.mark_ended(other, "cancelled", "cancelled by the user")
    assert runfolder.read_status(other).state == "cancelled"


def test_run_status_is_typed_and_reads_old_and_odd_files_tolerantly(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    # an older run's status.json: a key this version does not know, a field of the wrong type, one missing
    (run / "status.json").write_text(
        json.dumps({"state": "finished", "step": 4.0, "best_eval_loss": "n/a", "phase": "old", "pid": True})
    )
    status = runfolder.read_status(run)
    assert (status.state, status.step, status.best_eval_loss, status.pid) == ("finished", 4, None, None)
    assert status.final_train_loss is None and status.extra == {"phase": "old"}
    # a rewrite merges and keeps what it does not know
    runfolder.write_status(run, final_train_loss=0.5)
    written = json.loads((run / "status.json").read_text())
    assert written["phase"] == "old" and written["final_train_loss"] == 0.5 and written["state"] == "finished"
    with pytest.raises(TypeError):
        runfolder.write_status(run, no_such_field=1)  # fields are typed: a typo is an error, not a new key
    for odd in ("[1, 2]", "null", '{"state": "runn'):
        (run / "status.json").write_text(odd)
        assert runfolder.read_status(run) == runfolder.RunStatus()


def test_read_config_returns_the_config_and_tolerates_old_and_odd_files(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(
        json.dumps({"base_model": "smollm2-135m", "lora_r": 8, "retired_field": 1, "task": "no-such-task"})
    )
    cfg = runfolder.read_config(run)
    assert isinstance(cfg, TrainConfig) and cfg.lora_r == 8 and cfg.task == TrainConfig().task
    (run / "config.json").write_text("[]")
    assert runfolder.read_config(run) is None and runfolder.read_config(None) is None


def test_the_check_report_is_one_typed_json_line():
    report = runfolder.CheckReport(train_examples=16, validation_examples=4, model_path="m", examples=16)
    report.sources_truncated, report.sources_truncated_share = 16, 1.0
    printed = f"loading the tokenizer\ntruncation: 16/16 sources cut ...\n{report.to_json()}\n"
    assert runfolder.CheckReport.from_output(printed) == report
    # an older or newer check: unknown keys ignored, missing ones None; text lines and broken JSON skipped
    other = runfolder.CheckReport.from_output('{"train_examples": 3, "new_figure": 1}\n{"cut\nbye\n')
    assert other == runfolder.CheckReport(train_examples=3)
    assert runfolder.CheckReport.from_output("no report here\n") is None
