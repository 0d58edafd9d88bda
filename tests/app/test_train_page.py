"""Train page with AppTest: the form covers every TrainConfig field, validates with the CLI's own errors,
presets fill it, and a real CPU training job on a tiny model is launched through it."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.login_as import open_as

from annotations.campaigns import runs
from ft_core import data_files
from ft_core.config import TrainConfig, field_specs
from jobs import logs, queue, scheduler
from pages.plain_text import escape_markdown

APP = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """A data folder (FT_DATA_DIR) with two data sets: toy (train/dev/test JSONL) and wide (one CSV)."""
    root = tmp_path / "data"
    (root / "toy").mkdir(parents=True)
    for split in ("train", "dev", "test"):
        rows = [{"source": f"text {i}", "target": f"sum {i}", "paper_id": f"p{i}"} for i in range(3)]
        (root / "toy" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "toy" / "README.md").write_text("not a data file")
    (root / "wide").mkdir()
    (root / "wide" / "abstract.csv").write_text("abstract,tldr\nlong text,short\nmore text,less\n")
    monkeypatch.setenv("FT_DATA_DIR", str(root))
    return root


def test_the_form_has_every_field_of_the_training_config(app_env, researcher, data_root):
    at = open_as("train", researcher)
    assert not at.exception
    keys = {w.key for w in at.text_input} | {w.key for w in at.number_input} | {w.key for w in at.checkbox}
    keys |= {w.key for w in at.selectbox} | {w.key for w in at.text_area}
    picked = {"train_file", "validation_file", "test_file", "run_dir"}  # the data picker and the run name
    assert {f"cfg_{f.name}" for f in dataclasses.fields(TrainConfig) if f.name not in picked} <= keys
    assert {"pick_train_file", "pick_validation_file", "pick_test_file", "run_name"} <= keys
    assert [t.label for t in at.tabs] == ["Model", "Data", "LoRA", "Optimization", "Validation", "Hardware"]
    assert "Ready to launch" in at.success[0].value
    assert re.search(r"python -m ft_core train --config toy-smollm2-135m\.yaml", at.code[0].value)


def test_fields_show_the_labels_and_help_of_the_config_metadata(app_env, researcher, data_root):
    at = open_as("train", researcher)
    widgets = [*at.text_input, *at.number_input, *at.checkbox, *at.selectbox, *at.text_area]
    by_key = {w.key: w for w in widgets}
    for spec in field_specs(TrainConfig):
        if spec.name in ("train_file", "validation_file", "test_file", "run_dir"):
            continue
        widget = by_key[f"cfg_{spec.name}"]
        assert widget.label == spec.label and widget.help == spec.help, spec.name
        assert widget.label != spec.name or spec.name == "task"  # words, not field names
    # the advanced fields are folded away in expanders; the everyday ones are not
    advanced = {s.name for s in field_specs(TrainConfig) if s.advanced}
    folded = {w.key.removeprefix("cfg_") for e in at.expander for w in _widgets_in(e)}
    assert advanced - {"references_column", "id_column"} <= folded
    assert not folded & {"learning_rate", "lora_r", "epochs", "base_model"}


def _widgets_in(block):
    found = []
    for child in getattr(block, "children", {}).values():
        if getattr(child, "key", None):
            found.append(child)
        found += _widgets_in(child)
    return found


def test_the_run_name_comes_first_with_a_readable_default(app_env, researcher, data_root, tmp_path):
    at = open_as("train", researcher)
    assert at.text_input[0].key == "run_name" and at.text_input[0].value == "toy-smollm2-135m"
    runs_root = tmp_path / "runs"  # FT_RUNS_DIR of app_env
    (runs_root / "toy-smollm2-135m").mkdir(parents=True)
    (runs_root / "toy-smollm2-135m" / "config.json").write_text("{}")
    fresh = open_as("train", researcher)
    assert fresh.text_input(key="run_name").value == "toy-smollm2-135m-2"  # never an existing run
    fresh.text_input(key="run_name").input("toy-smollm2-135m").run()
    assert any(escape_markdown("exists already; choose another run name") in e.value for e in fresh.error)
    assert fresh.button(key="launch").disabled
    fresh.text_input(key="run_name").input("my run/../x").run()
    assert any("may hold only letters" in e.value for e in fresh.error)
    assert fresh.button(key="launch").disabled


def test_the_data_picker_shows_rows_and_real_columns(app_env, researcher, data_root):
    at = open_as("train", researcher)
    assert at.radio(key="data_mode").value == "A data set found here"
    assert at.selectbox(key="data_set").options == ["toy", "wide"]
    assert at.selectbox(key="pick_train_file").value == "train.jsonl"
    assert at.selectbox(key="pick_validation_file").value == "dev.jsonl"
    assert f"{escape_markdown('train.jsonl')}: 3 rows; the first 3:" in [c.value for c in at.caption]
    assert at.dataframe[0].value.shape == (3, 3)
    assert at.selectbox(key="cfg_source_column").options == ["source", "target", "paper_id"]
    assert at.selectbox(key="cfg_id_column").options == ["(none)", "source", "target", "paper_id"]
    at.selectbox(key="cfg_id_column").set_value("paper_id").run()
    assert not at.error and not at.button(key="launch").disabled
    assert "id_column: paper_id" in at.code[1].value
    # another data set whose columns differ: the old column is flagged, Launch is off until one is picked
    at.selectbox(key="data_set").set_value("wide").run()
    assert any(
        escape_markdown("abstract.csv has no column 'source' (source column)") in e.value for e in at.error
    )
    assert at.button(key="launch").disabled
    at.selectbox(key="cfg_source_column").set_value("abstract").run()
    at.selectbox(key="cfg_target_column").set_value("tldr").run()
    at.selectbox(key="cfg_id_column").set_value("").run()
    at.selectbox(key="pick_validation_file").set_value("").run()
    at.selectbox(key="pick_test_file").set_value("").run()
    assert not at.error, [e.value for e in at.error]
    assert not at.button(key="launch").disabled


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "nowhere.jsonl not found"),
        (b"", "empty.jsonl is empty"),
        (b"\x00\x01binary", "empty.jsonl is not a text file"),
        (b'{"source": "a", "target": "b"}\nnot json\n', "empty.jsonl line 2 is not valid JSON"),
    ],
)
def test_a_missing_empty_or_unreadable_file_disables_launch(
    app_env, researcher, data_root, tmp_path, content, message
):
    at = open_as("train", researcher)
    at.radio(key="data_mode").set_value("Hub id or path").run()
    path = tmp_path / ("nowhere.jsonl" if content is None else "empty.jsonl")
    if content is not None:
        path.write_bytes(content)
    at.text_input(key="cfg_train_file").input(str(path)).run()
    assert any(escape_markdown(message) in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key="launch").disabled and at.button(key="check").disabled
    assert not at.success


def test_a_header_only_csv_is_called_empty(app_env, researcher, data_root, tmp_path):
    at = open_as("train", researcher)
    at.radio(key="data_mode").set_value("Hub id or path").run()
    path = tmp_path / "header.csv"
    path.write_text("source,target\n")
    at.text_input(key="cfg_train_file").input(str(path)).run()
    assert any(escape_markdown("header.csv has no rows (only a header)") in e.value for e in at.error)
    assert at.button(key="launch").disabled


def test_a_hub_id_is_taken_as_typed(app_env, researcher, data_root):
    at = open_as("train", researcher)
    at.radio(key="data_mode").set_value("Hub id or path").run()
    at.text_input(key="cfg_train_file").input("allenai/scitldr:train").run()
    at.text_input(key="cfg_validation_file").input("").run()
    at.text_input(key="cfg_test_file").input("").run()
    assert any("hub id" in i.value for i in at.info)
    assert not at.error and not at.button(key="launch").disabled


def test_an_upload_is_kept_under_the_data_folder_and_listed_again(app_env, researcher, data_root):
    at = open_as("train", researcher)
    at.radio(key="data_mode").set_value("Upload a file").run()
    assert at.button(key="launch").disabled
    # AppTest cannot drive a file_uploader (tests/e2e/test_train_browser.py uploads through Chromium); the
    # page keeps an upload with data_files.save_upload, which is what lists it again here
    kept = data_files.save_upload(data_root / "uploads", "my data.jsonl", b'{"doc": "x", "sum": "y"}\n')
    assert kept == data_root / "uploads" / "my-data.jsonl" and kept.read_bytes().startswith(b'{"doc"')
    fresh = open_as("train", researcher)
    assert fresh.selectbox(key="data_set").options == ["toy", "wide", "uploads"]
    fresh.selectbox(key="data_set").set_value("uploads").run()
    assert fresh.selectbox(key="pick_train_file").value == "my-data.jsonl"
    assert fresh.selectbox(key="cfg_source_column").options == ["doc", "sum", "source (not in the file)"]
    assert any(escape_markdown("my-data.jsonl has no column 'source'") in e.value for e in fresh.error)


def test_a_missing_data_folder_says_so(app_env, researcher, tmp_path, monkeypatch):
    monkeypatch.setenv("FT_DATA_DIR", str(tmp_path / "no-data-here"))
    at = open_as("train", researcher)
    assert at.radio(key="data_mode").value == "Hub id or path"
    at.radio(key="data_mode").set_value("A data set found here").run()
    assert any("No data set found" in w.value and "does not exist" in w.value for w in at.warning)
    assert at.button(key="launch").disabled


def test_a_bad_value_gives_the_error_the_cli_gives(app_env, researcher, tmp_path):
    at = open_as("train", researcher)
    at.text_input(key="cfg_learning_rate").input("fast").run()
    shown = at.error[0].value
    cli = subprocess.run(
        [sys.executable, "-m", "ft_core", "train", "--set", "learning_rate=fast", "--check"],
        capture_output=True,
        text=True,
        cwd=APP,
        timeout=120,
    )
    cli_error = cli.stderr.strip().splitlines()[-1]
    assert cli.returncode != 0 and cli_error.startswith("error: ")
    assert shown == escape_markdown(cli_error.removeprefix("error: "))  # the same words, shown as text
    assert at.button(key="launch").disabled
    at.text_input(key="cfg_learning_rate").input("1e-4").run()
    at.number_input(key="cfg_lora_r").set_value(0).run()
    assert at.error[0].value == escape_markdown("lora_r must be positive, got 0")


def test_presets_fill_the_form(app_env, researcher):
    at = open_as("train", researcher)
    at.selectbox(key="preset").set_value("Sanity overfit (32 examples, loss must reach ~0)").run()
    assert at.checkbox(key="cfg_sanity_overfit").value is True
    assert at.text_input(key="cfg_max_train_examples").value == "32"
    at.selectbox(key="preset").set_value("3-5 epochs with validation and early stopping").run()
    assert at.checkbox(key="cfg_sanity_overfit").value is False
    assert at.number_input(key="cfg_early_stopping_patience").value == 2
    at.selectbox(key="preset").set_value("lr x r sweep over {3e-5, 1e-4, 3e-4} x {8, 16, 32}").run()
    assert at.text_input(key="sweep_lrs").value == "3e-5, 1e-4, 3e-4"
    assert re.search(
        r"sweep train --config [\w.-]+-smollm2-135m\.yaml --lr 3e-05,0.0001,0.0003 --r 8,16,32",
        at.code[0].value,
    )


@pytest.mark.slow
def test_a_real_cpu_training_job_through_the_page(app_env, researcher, tmp_path, tiny_causal_dir, tiny_jsonl):
    at = open_as("train", researcher)
    run_dir = tmp_path / "runs" / "tiny"
    at.radio(key="data_mode").set_value("Hub id or path").run()
    fill = {
        "cfg_base_model": str(tiny_causal_dir),
        "cfg_train_file": str(tiny_jsonl / "train.jsonl"),
        "cfg_validation_file": str(tiny_jsonl / "dev.jsonl"),
        "cfg_test_file": str(tiny_jsonl / "test.jsonl"),
        "run_name": "tiny",
        "cfg_max_source_length": 16,
    }
    for key, value in fill.items():
        widget = at.number_input(key=key) if isinstance(value, int) else at.text_input(key=key)
        widget.set_value(value)
    at.number_input(key="cfg_max_steps").set_value(3)
    at.number_input(key="cfg_batch_size").set_value(4)
    at.number_input(key="cfg_eval_every_steps").set_value(2)
    at.number_input(key="cfg_log_every_steps").set_value(1)
    at.run()
    assert not at.error, at.error[0].value

    at.button(key="check").click().run(timeout=180)
    assert not at.error, at.error[0].value
    labels = {m.label: m.value for m in at.metric}
    assert labels["Training examples"] == "16" and labels["Validation examples"] == "4"
    assert labels["Sources truncated"] == "100.0%"  # every tiny source is longer than 16 tokens

    at.button(key="launch").click().run()
    assert not at.exception and "started" in at.success[-1].value
    at.button(key="launch").click().run()  # a second launch of the same run folder while it runs
    assert "already has a queued or running job" in at.error[0].value

    (job,) = queue.list_jobs(app_env)
    deadline = time.monotonic() + 240
    while job.status in queue.ACTIVE and time.monotonic() < deadline:
        time.sleep(0.5)
        scheduler.reconcile(app_env)
        job = queue.get_job(app_env, job.job_id)
    assert job.status == "finished", logs.log_tail(job)
    status = runs.read_status(run_dir)
    assert status.state == "finished" and status.step == 3
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    assert runs.read_log(run_dir).loss.notna().sum() == 3


def test_several_gpus_launch_through_accelerate(app_env, researcher, monkeypatch):
    monkeypatch.setenv(
        "FT_JOB_GPUS", "0,1"
    )  # what detect_gpus reads before CUDA_VISIBLE_DEVICES / nvidia-smi
    at = open_as("train", researcher)
    assert at.number_input(key="n_gpus").value == 2
    assert "accelerate launch --multi_gpu --num_processes 2 -m ft_core train --config" in at.code[0].value
    assert "#SBATCH --gres=gpu:2" in at.code[2].value
    at.number_input(key="n_gpus").set_value(1).run()
    assert at.code[0].value.startswith(".venv/bin/python -m ft_core train --config")


def test_the_chosen_columns_and_files_survive_a_visit_to_the_upload_tab(app_env, researcher, data_root):
    """Streamlit drops the state of widgets a run does not draw; the picker keeps the researcher's choices
    (this once came back as source column '(none)' with the form still 'ready')."""
    at = open_as("train", researcher)
    at.selectbox(key="cfg_id_column").set_value("paper_id").run()
    at.selectbox(key="pick_test_file").set_value("").run()
    at.radio(key="data_mode").set_value("Upload a file").run()
    at.radio(key="data_mode").set_value("A data set found here").run()
    assert at.selectbox(key="cfg_source_column").value == "source"
    assert at.selectbox(key="cfg_target_column").value == "target"
    assert at.selectbox(key="cfg_id_column").value == "paper_id"
    assert at.selectbox(key="pick_validation_file").value == "dev.jsonl"
    assert at.selectbox(key="pick_test_file").value == ""
    assert "source_column: source" in at.code[1].value and "id_column: paper_id" in at.code[1].value
    at.radio(key="data_mode").set_value("Hub id or path").run()
    assert at.text_input(key="cfg_train_file").value.endswith("train.jsonl")
    assert at.selectbox(key="cfg_source_column").value == "source"
    # another data set: its own split files are picked again
    at.radio(key="data_mode").set_value("A data set found here").run()
    at.selectbox(key="data_set").set_value("wide").run()
    assert at.selectbox(key="pick_train_file").value == "abstract.csv"


def test_an_empty_training_file_is_an_error_not_a_valid_configuration(app_env, researcher, data_root):
    at = open_as("train", researcher)
    at.radio(key="data_mode").set_value("Hub id or path").run()
    at.text_input(key="cfg_train_file").input("").run()
    assert any(escape_markdown("Training data file: no file chosen") in e.value for e in at.error)
    assert not at.success and at.button(key="launch").disabled
