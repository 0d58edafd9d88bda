"""JudgeConfig checks itself: a template without its placeholders, an endpoint without a URL or model, a
key where its variable's name belongs: one line each, from the config and from the command line, nothing
written."""

from __future__ import annotations

import pytest
from helpers.run_folders import write_run_folder

from ft_core import runfolder
from ft_core.__main__ import main as cli
from ft_core.config import config_to_args, parse_cli
from ft_core.errors import ConfigError
from ft_core.judge.config import DEFAULT_PROMPT, JudgeConfig, fill_template


def test_the_default_prompt_asks_to_ignore_position_and_length_and_for_strict_labels():
    text = DEFAULT_PROMPT.lower()
    assert "position" in text and "length" in text
    assert all(label in DEFAULT_PROMPT for label in ("[[A]]", "[[B]]", "[[C]]"))
    filled = fill_template(DEFAULT_PROMPT, "Q?", "the {source} text", "first {output_b}", "second")
    assert (
        "the {source} text" in filled and "first {output_b}" in filled
    )  # texts with braces stay as they are
    assert "{question}" not in filled and "Q?" in filled


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"prompt_template": "Which is better? {output_a} {output_b}"}, "prompt_template lacks {source}"),
        (
            {"prompt_template": "Compare {source}: {output_a} vs {output_b} for {audience}"},
            "unknown placeholder",
        ),
        ({"backend": "endpoint", "model_name": "m"}, "needs base_url"),
        ({"backend": "endpoint", "base_url": "localhost:8000"}, "needs base_url"),
        ({"backend": "endpoint", "base_url": "http://x/v1"}, "needs model_name"),
        ({"api_key_env": "sk-live-123abc"}, "NAME of an environment variable"),
        ({"backend": "cloud"}, "backend must be one of local, endpoint"),
        ({"concurrency": 0}, "concurrency must be positive"),
        ({"name": "../escape"}, "must be a folder name"),
        ({"system_b": "base"}, "compare two systems"),
    ],
)
def test_bad_values_are_one_line_errors(values, message):
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")) as caught:
        JudgeConfig(run_dir="runs/x", **values)
    assert "\n" not in str(caught.value)


def test_a_template_without_placeholders_on_the_command_line_writes_nothing(tmp_path, capsys):
    run = write_run_folder(tmp_path / "run", n_items=2)
    config = tmp_path / "judge.yaml"
    config.write_text(f"run_dir: {run}\nprompt_template: Which answer is better?\n")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    assert cli(["judge", "--config", str(config)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: prompt_template lacks {source}")
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    assert not runfolder.judges_dir(run).exists()


def test_a_run_folder_without_outputs_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli(["judge", "--run-dir", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "has no outputs/" in err


def test_the_job_queue_can_say_a_judge_config_on_a_command_line():
    cfg = JudgeConfig(
        run_dir="runs/x",
        backend="endpoint",
        base_url="http://127.0.0.1:8000/v1",
        model_name="qwen",
        api_key_env="JUDGE_KEY",
        decodings=["greedy"],
        question="Which is more faithful?",
        prompt_template="Q: {question}\nS: {source}\nA: {output_a}\nB: {output_b}\n[[A]]/[[B]]/[[C]]",
    )
    assert parse_cli(JudgeConfig, config_to_args(cfg), "judge") == cfg
    assert cfg.name == "endpoint-qwen"


def test_a_damaged_outputs_file_is_one_line_and_nothing_is_written(tmp_path, capsys):
    run = write_run_folder(tmp_path / "run", n_items=2)
    runfolder.output_path(run, "finetuned", "greedy", 0).write_bytes(bytes(range(256)) * 4)
    assert cli(["judge", "--run-dir", str(run)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "finetuned__greedy__seed0.jsonl is not valid UTF-8 JSONL" in err
    assert not runfolder.judges_dir(run).exists()
