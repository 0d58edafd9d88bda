"""Home's demo panel with AppTest and stand-in jobs (tiny `python -c` processes in place of ft_core, the
demo's own manifest and campaign code): the steps in words, generation counting both models, and a finished
demo offering its results (the Results page on the demo campaign) instead of "Run the demo". The real demo
on a tiny model runs in tests/jobs/test_demo.py."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers.fake_jobs import wait_for
from helpers.judge_verdicts import write_judge
from helpers.login_as import login_as

from annotations.campaigns import judge_runs, list_campaigns
from jobs import demo, judging, logs, queue, scheduler

PLAN = "plan: 2 outputs files of 20 items: base__greedy__seed0.jsonl, finetuned__greedy__seed0.jsonl"
BASE_DONE = [f"base__greedy__seed0.jsonl: {n}/20 items, 95 new tokens/s" for n in (10, 20)]
BAR = "Loading checkpoint shards: 100%|##########| 2/2 [00:01<00:00,  1.23it/s]"


def printing(path, lines: list[str], then_sleep: float = 0) -> list[str]:
    """A stand-in job that prints `lines` (kept in a file, off its command line) and then sleeps."""
    path.write_text("".join(f"{line}\n" for line in lines))
    code = (
        "import sys, time; print(open(sys.argv[1]).read(), end='', flush=True); "
        "time.sleep(float(sys.argv[2]))"
    )
    return [sys.executable, "-c", code, str(path), str(then_sleep)]


def demo_manifest(tmp_path, jobs: dict[str, str]) -> None:
    demo._write_manifest(
        tmp_path / "runs",
        {
            "run_dir": str(tmp_path / "runs" / "run-1"),  # app_env's run folder stands for the demo's run
            "pipeline": "demo-test",
            "jobs": jobs,
            "campaign_id": None,
            "accounts": {},
            "started_at": "20261203-064510",
        },
    )


def buttons(at) -> dict[str, str]:
    return {b.key: b.label for b in at.button}


@pytest.fixture
def job_logs(tmp_path):
    return tmp_path / "runs" / ".jobs"


def test_a_running_demo_shows_its_steps_in_words_and_generation_counts_both_models(
    app_env, researcher, tmp_path, job_logs, open_page
):
    train = scheduler.launch(app_env, "train", printing(tmp_path / "t.txt", ["trained"]), log_dir=job_logs)
    wait_for(app_env, train.job_id, ("finished",))
    lines = [PLAN, "loading the model", BAR, *BASE_DONE, "merging the fine-tuned adapter into the model"]
    generate = scheduler.launch(
        app_env, "generate", printing(tmp_path / "g.txt", lines, then_sleep=60), log_dir=job_logs
    )
    score = scheduler.launch(
        app_env,
        "score",
        printing(tmp_path / "s.txt", ["scored"]),
        log_dir=job_logs,
        depends_on=generate.job_id,
    )
    demo_manifest(tmp_path, {"train": train.job_id, "generate": generate.job_id, "score": score.job_id})
    try:
        deadline = time.monotonic() + 20
        while "merging" not in logs.log_tail(queue.get_job(app_env, generate.job_id)):
            assert time.monotonic() < deadline, "the stand-in generation printed nothing"
            time.sleep(0.1)
        at = login_as(open_page("home"), researcher).run()
        assert not at.exception
        bars = at.get("progress")
        texts = [b.proto.text.replace("\\", "") for b in bars]  # Markdown escapes dropped
        assert len(bars) == 5, texts
        assert texts[4].endswith(
            "Judge the pairs with the embedded LLM judge (both orders): after the campaign"
        )
        assert "Generate base and fine-tuned outputs" in texts[1]
        assert bars[1].proto.value == 50  # the base model is done, the fine-tuned one has not started
        assert texts[1].endswith("items written: base model 20/20, fine-tuned model 0/20")
        for text in texts:
            assert "$" not in text and "python" not in text and "%|" not in text and "ft_core" not in text
        assert "demo_start" not in buttons(at)  # running: nothing to start
        # the Jobs page shows the same words, and its log view neither the command line nor the bar
        jobs_page = login_as(open_page("jobs"), researcher).run()
        generation = [b.proto for b in jobs_page.get("progress") if "fine\\-tuned model" in b.proto.text]
        assert generation and generation[0].value == 50
        jobs_page.selectbox(key="job_detail").set_value(generate.job_id).run()
        log_view = jobs_page.code[0].value
        assert "base__greedy__seed0.jsonl: 20/20 items" in log_view
        assert "$ " not in log_view and "%|" not in log_view and sys.executable not in log_view
    finally:
        scheduler.cancel(app_env, generate.job_id)


def test_a_finished_demo_offers_its_results_instead_of_run_the_demo(
    app_env, researcher, tmp_path, job_logs, open_page, monkeypatch
):
    def stand_in_judge(config_file):
        """The demo's judge as a stand-in: the verdicts ft_core judge would write, then a process doing
        nothing; the demo's own finishing step imports them."""
        values = yaml.safe_load(open(config_file).read())
        write_judge(Path(values["run_dir"]), values["name"], 6)
        return [sys.executable, "-c", "pass", "--config", str(config_file)]

    monkeypatch.setattr(judging, "judge_command", stand_in_judge)
    ids = {}
    for kind in ("train", "generate", "score"):
        job = scheduler.launch(app_env, kind, printing(tmp_path / f"{kind}.txt", ["ok"]), log_dir=job_logs)
        ids[kind] = wait_for(app_env, job.job_id, ("finished",)).job_id
    demo_manifest(tmp_path, ids)
    at = login_as(open_page("streamlit_app"), researcher).run()  # Home, whose panel makes the demo campaign
    assert not at.exception
    state = demo.status(app_env, tmp_path / "runs")
    assert state.campaign_id and state.steps[-1].state in ("waiting", "running", "done")  # the judge's turn
    deadline = time.monotonic() + 30
    while not (state := demo.advance(app_env, tmp_path / "runs")).over:  # what Home's fragment does
        assert time.monotonic() < deadline, state.steps[-1]
        time.sleep(0.2)
    assert state.finished, state.steps[-1]
    assert list(judge_runs(app_env, state.campaign_id).judge) == ["local-smollm2-135m"]
    at.run()
    # the demo campaign's name says what the study is about, never which system is which
    campaigns = list_campaigns(app_env)
    row = campaigns[campaigns.campaign_id == state.campaign_id].iloc[0]
    assert row["name"] == "Demo study: SciTLDR summaries (2026-12-03 06:45)"
    for word in {row.system_a, row.system_b, "base", "fine", "tuned"}:
        assert word.lower() not in row["name"].lower()
    shown = buttons(at)
    assert "Run the demo" not in shown.values() and "demo_start" not in shown
    assert shown["demo_results"] == "See the demo's results"
    at.button(key="demo_results").click().run()
    assert not at.exception
    assert at.title[0].value == "Results"
    assert at.selectbox(key="campaign").value == state.campaign_id
    # the newcomer's first Results page, without a click: the judge's card, the prediction-powered interval
    # (the demo's judge as the proxy) beside the human-only one, and the sequential state
    assert "LLM judges" in [h.value for h in at.subheader]
    assert "Order flip rate" in [m.label for m in at.metric]
    assert at.toggle(key=f"certainty:{state.campaign_id}").value is True
    assert at.selectbox(key="certainty_proxy").value == "judge 'local-smollm2-135m'"
    labels = [m.label for m in at.metric]
    assert any(label.startswith("Prediction-powered") for label in labels), labels
    assert any(label.startswith("Human-only") for label in labels)
    assert any("confidence sequence of the win rate" in c.value for c in at.caption)
    states = [m.value for m in list(at.success) + list(at.info)]
    assert any("you may stop" in s or "Keep going" in s for s in states), states
