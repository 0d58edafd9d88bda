"""The Results page's "Preference data" block (pages/results_preferences.py) with AppTest on a real judged
store: off until asked; a one-line error when the run's prompt format cannot be recovered; then the counts,
the evaluation-split option and the download, whose zip holds the files the CLI writes."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from helpers import synthetic
from helpers.login_as import open_as

from ft_core import runfolder
from ft_core.config import GenerateConfig, TrainConfig


@pytest.fixture
def judged(app_env, tmp_path, run_writer):
    run_dir = run_writer(tmp_path / "runs" / "run-2", n_items=24)
    return run_dir, synthetic.fill_store(app_env, run_dir, n_annotators=4, name="judged campaign")


def test_preference_block_counts_and_downloads_the_pairs(researcher, judged):
    run_dir, campaign_id = judged
    at = open_as("results", researcher)
    assert not at.exception, at.exception
    assert any("as TRL preference data" in c.value for c in at.caption)
    at.toggle(key=f"preferences:{campaign_id}").set_value(True).run()
    assert not at.exception, at.exception
    assert any("prompt format cannot be recovered" in e.value for e in at.error)  # no config.json yet
    runfolder.write_config(runfolder.config_path(run_dir), TrainConfig(prompt_template="Summarize: {source}"))
    generated = GenerateConfig(run_dir=str(run_dir), split="test")
    runfolder.write_config(runfolder.outputs_dir(run_dir) / runfolder.GENERATE_CONFIG, generated)
    at.checkbox(key="preferences_kto").check().run()  # a new option: computed again, the run folder reread
    assert any("from an evaluation split" in e.value and "nothing written" in e.value for e in at.error)
    at.checkbox(key="preferences_eval").check().run()
    assert not at.exception and not at.error
    summary = next(m.value for m in at.markdown if "pairs (plain prompts)" in m.value)
    written = int(summary.split()[0])
    assert written >= 10
    button = at.get("download_button")
    assert any("preference data" in b.proto.label for b in button)


def test_preferences_zip_holds_the_cli_files(app_env, judged):
    from annotations.report.preferences import PreferenceOptions, campaign_preferences, preferences_zip

    run_dir, campaign_id = judged
    runfolder.write_config(runfolder.config_path(run_dir), TrainConfig(prompt_template="Summarize: {source}"))
    data = campaign_preferences(app_env, campaign_id, PreferenceOptions(include_eval_split=True, kto=True))
    archive = zipfile.ZipFile(io.BytesIO(preferences_zip(data)))
    assert sorted(archive.namelist()) == sorted(
        ["preferences.jsonl", "preferences.parquet", "kto.jsonl", "kto.parquet", "summary.json"]
    )
    assert json.loads(archive.read("summary.json"))["written"] == len(data.pairs)
    lines = archive.read("preferences.jsonl").decode().splitlines()
    assert len(lines) == len(data.pairs) and json.loads(lines[0])["split"] == "unknown"
