"""Evaluation jobs from typed configs: generate then score, the second waiting for the first, each command the
config it was given; a sweep's members queued one pipeline each, those already busy left alone."""

from __future__ import annotations

from helpers.fake_jobs import py

from ft_core.config import GenerateConfig, ScoreConfig, parse_cli
from jobs import evaluation, queue


def test_generate_then_score_from_their_configs(con, tmp_path, busy_cpu):
    run_dir = str(tmp_path / "runs" / "a")
    generate = GenerateConfig(run_dir=run_dir, limit=20, max_new_tokens=48)
    score = ScoreConfig(run_dir=run_dir, metrics=["bleu", "rouge"], n_boot=200)
    first, second = evaluation.evaluate_jobs(con, generate, score, tmp_path / "runs", env={"X": "1"})
    assert (first.kind, second.kind) == ("generate", "score") and second.depends_on == first.job_id
    assert first.pipeline == second.pipeline and first.run_dir == second.run_dir == run_dir
    assert first.env == {"X": "1"} and (first.label, second.label) == ("generate a", "score a")
    assert parse_cli(GenerateConfig, first.command[4:], "generate") == generate
    assert parse_cli(ScoreConfig, second.command[4:], "score") == score


def test_a_sweeps_members_are_queued_except_those_busy(con, tmp_path, busy_cpu, log_dir):
    members = [tmp_path / "runs" / "grid" / name for name in ("lr0.0001_r8", "lr0.0001_r16", "lr0.0003_r8")]
    queue.submit(con, "generate", py("pass"), log_dir=log_dir, run_dir=members[1])  # busy already
    queued = evaluation.evaluate_sweep(con, members, tmp_path / "runs", limit=100)
    assert [(j.kind, j.run_dir) for j in queued] == [
        ("generate", str(members[0])),
        ("score", str(members[0])),
        ("generate", str(members[2])),
        ("score", str(members[2])),
    ]
    assert all(j.command[-2:] == ["--limit", "100"] for j in queued if j.kind == "generate")
