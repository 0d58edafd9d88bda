"""A job's progress in words (jobs.progress) and its readable log (jobs.logs): generation counts every
planned outputs file, base and fine-tuned, so it reaches 100% only when both are written; no command line
and no tqdm bar reaches a page. The lines parsed here are the ones ft_core/generate.py prints (pinned
against a real generation in tests/ft_core/test_generate.py)."""

from __future__ import annotations

import sys
import time

import pytest
from helpers.fake_jobs import wait_for

from jobs import demo, logs, progress, queue, scheduler

PLAN = "plan: 2 outputs files of 20 items: base__greedy__seed0.jsonl, finetuned__greedy__seed0.jsonl"
COMMAND = "$ python -m ft_core generate --config /tmp/runs/.jobs/abc.json"
BAR = "Loading checkpoint shards:  50%|#####     | 1/2 [00:01<00:01,  1.23it/s]"


def base_lines(done: int, total: int = 20) -> list[str]:
    return [f"base__greedy__seed0.jsonl: {n}/{total} items, 95 new tokens/s" for n in range(4, done + 1, 4)]


def test_generation_reaches_half_when_the_base_model_is_done_and_all_only_with_both():
    log = "\n".join([COMMAND, PLAN, "loading the model", BAR, *base_lines(20)])
    now = progress.generation_progress(log)
    assert now.fraction == pytest.approx(0.5)  # not 1.0: the fine-tuned model has not started
    assert now.text == "items written: base model 20/20, fine-tuned model 0/20"
    merging = progress.generation_progress(log + "\nmerging the fine-tuned adapter into the model")
    assert merging.fraction == pytest.approx(0.5) and merging.text.startswith("adding the fine-tuned adapter")
    log += "\n" + "\n".join(
        [
            "merging the fine-tuned adapter into the model",
            "finetuned__greedy__seed0.jsonl: 5/20 items, 80 new tokens/s",
        ]
    )
    assert progress.generation_progress(log).fraction == pytest.approx(25 / 40)
    log += (
        "\nfinetuned__greedy__seed0.jsonl: 20/20 items, 80 new tokens/s\nwrote 2 outputs files under "
        "runs/x/outputs"
    )
    done = progress.generation_progress(log)
    assert done.fraction == 1.0 and done.text == "items written: base model 20/20, fine-tuned model 20/20"


def test_generation_before_any_item_and_with_kept_resumed_and_several_seeds():
    assert progress.generation_progress(COMMAND).text == "starting"
    loading = progress.generation_progress("\n".join([COMMAND, PLAN, "loading the model", BAR]))
    assert loading.fraction == 0.0 and loading.text.startswith("loading the model")
    resumed = "\n".join(
        [
            PLAN,
            "base__greedy__seed0.jsonl: complete already, kept",
            "finetuned__greedy__seed0.jsonl: resuming, 10/20 items done before",
        ]
    )
    assert progress.generation_progress(resumed).fraction == pytest.approx(30 / 40)
    names = [f"{s}__sample__seed{k}.jsonl" for s in ("base", "finetuned") for k in (0, 1)]
    seeds = f"plan: 4 outputs files of 10 items: {', '.join(names)}\n{names[0]}: 10/10 items, 50 new tokens/s"
    now = progress.generation_progress(seeds)
    assert now.fraction == pytest.approx(0.25)
    assert (
        "base model (sample, seed 0) 10/10," in now.text and "fine-tuned model (sample, seed 1)" in now.text
    )


def test_scoring_and_other_jobs_in_words_without_commands_or_bars():
    assert progress.log_progress("score", COMMAND).fraction is None
    assert "$" not in progress.log_progress("score", COMMAND).text
    other = progress.log_progress("fake", "\n".join([COMMAND, "step two of it: 3/4", BAR]))
    assert other.text == "step two of it: 3/4" and other.fraction == 0.75
    assert progress.log_progress("fake", COMMAND).text == "starting"


def test_readable_lines_drop_the_command_line_and_every_tqdm_bar():
    lines = [
        COMMAND,
        "plan: 2 outputs files",
        BAR,
        "Map: 100%|██████████| 32/32 [00:00<00:00, 1024.00 examples/s]",
        "Generating: 12 examples [00:02, 5.31 examples/s]",
        "  3%|▎         | 1/32 [00:00<?, ?it/s]",
        "error: data file not found: x.jsonl",
    ]
    assert logs.readable_lines("\n".join(lines)) == [
        "plan: 2 outputs files",
        "error: data file not found: x.jsonl",
    ]


def test_the_plan_line_is_read_from_a_long_log(con, log_dir):
    """The whole log is read (head and tail): the plan line at the top counts even after 2 MB of warnings."""
    code = (
        f"print({PLAN!r})\n"
        "for _ in range(12000): print('some warning ' + 'x' * 200)\n"
        "print('base__greedy__seed0.jsonl: 20/20 items, 95 new tokens/s', flush=True)\n"
    )
    job = scheduler.launch(con, "generate", [sys.executable, "-c", code], log_dir=log_dir)
    job = wait_for(con, job.job_id, timeout=60)
    assert job.status == "finished"
    assert PLAN not in logs.log_tail(job, 400)  # the tail alone misses it ...
    assert progress.job_progress(job).fraction == pytest.approx(0.5)  # ... the progress does not


def test_the_demo_step_of_a_running_generation_says_both_models_in_words(con, log_dir, tmp_path):
    """Home's step (demo._job_step) of a generation job whose base model is done: half, in words."""
    printed = (
        tmp_path / "printed.txt"
    )  # what the fake job prints (not on its command line, which the log heads)
    lines = [PLAN, "loading the model", BAR, *base_lines(20), "merging the fine-tuned adapter into the model"]
    printed.write_text("\n".join(lines) + "\n")
    code = "import sys, time; print(open(sys.argv[1]).read(), end='', flush=True); time.sleep(60)"
    job = scheduler.launch(con, "generate", [sys.executable, "-c", code, str(printed)], log_dir=log_dir)
    try:
        deadline = time.monotonic() + 20
        while "merging" not in logs.log_tail(job) and time.monotonic() < deadline:
            time.sleep(0.1)
        step = demo._job_step("Generate base and fine-tuned outputs", queue.get_job(con, job.job_id))
        assert step.state == "running" and step.fraction == pytest.approx(0.5)
        assert step.detail.endswith("items written: base model 20/20, fine-tuned model 0/20")
        assert "$" not in step.detail and "%|" not in step.detail and "python" not in step.detail
    finally:
        scheduler.cancel(con, job.job_id)


def test_a_judge_counts_its_pairs_from_the_estimate_on_and_resumed_ones_too():
    """The lines ft_core/judge/run.py prints (its estimate, `k/n pairs judged` about ten times a run)."""
    assert progress.judge_progress(f"{COMMAND}\n{BAR}").text == "loading the judge"
    estimate = (
        "judging 20 pairs in both orders (40 requests) with local-smollm2-135m: about 17,712 prompt tokens "
        "+ at most 40 answer tokens; 12 sources cut to 192 tokens"
    )
    now = progress.log_progress("judge", f"{COMMAND}\n{estimate}")
    assert (now.fraction, now.text) == (0.0, "pairs judged (both orders): 0/20")
    now = progress.log_progress("judge", f"{COMMAND}\n{estimate}\n  2/20 pairs judged\n  4/20 pairs judged")
    assert now.fraction == pytest.approx(0.2) and now.text.endswith("4/20")
    resumed = "resuming local-x: 1,000 of 1,200 pairs judged already\n" + estimate.replace(
        "20 pairs", "200 pairs"
    )
    assert progress.judge_progress(resumed).text.endswith("1000/1200")
