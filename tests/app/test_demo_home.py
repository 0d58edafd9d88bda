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
STATE_ICON_FAILED = ":material/error:"
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


def finished_demo(app_env, tmp_path, job_logs) -> tuple[str, dict[str, str]]:
    """A finished first part (stand-in jobs, a real demo campaign over app_env's run folder, no judgments
    yet); returns (its campaign, the stand-in job ids)."""
    from annotations.campaigns import CampaignConfig, create_campaign

    ids = {}
    for kind in ("train", "generate", "score", "judge"):  # the judge's stand-in imports nothing: "fake"
        job_kind = "fake" if kind == "judge" else kind
        job = scheduler.launch(
            app_env, job_kind, printing(tmp_path / f"{kind}.txt", ["ok"]), log_dir=job_logs
        )
        ids[kind] = wait_for(app_env, job.job_id, ("finished",)).job_id
    demo.demo_accounts(app_env)
    campaign_id = create_campaign(
        app_env, CampaignConfig(name="Demo study", run_dir=str(tmp_path / "runs" / "run-1"), k=3)
    )
    demo_manifest(tmp_path, ids)
    manifest = demo._read_manifest(tmp_path / "runs")
    demo._write_manifest(tmp_path / "runs", {**manifest, "campaign_id": campaign_id})
    return campaign_id, ids


def test_the_dpo_part_says_why_a_campaign_cannot_be_exported_and_queues_nothing(
    app_env, researcher, tmp_path, job_logs, open_page
):
    finished_demo(app_env, tmp_path, job_logs)  # its campaign has no judgment yet
    at = login_as(open_page("home"), researcher).run()
    assert not at.exception
    assert buttons(at)["demo_dpo"] == "Tune on the simulated preferences (DPO)"
    assert any("SIMULATED preferences" in c.value for c in at.caption)
    before = len(queue.list_jobs(app_env))
    at.button(key="demo_dpo").click().run()
    assert not at.exception
    texts = [b.proto.text.replace("\\", "") for b in at.get("progress")]
    assert len(texts) == 5 and texts[0].startswith(STATE_ICON_FAILED)
    # the export's one-line reason (app_env's run folder has no config.json: its prompts are unknown)
    assert "prompt format cannot be recovered" in texts[0] and "\n" not in texts[0], texts[0]
    assert all(text.endswith("not started") for text in texts[1:])
    assert len(queue.list_jobs(app_env)) == before  # nothing queued, nothing half-written
    assert buttons(at.run())["demo_dpo"] == "Start the DPO part again"  # the next rerun offers a new try


def test_a_finished_dpo_part_makes_the_three_system_campaign_and_offers_its_ranking(
    app_env, researcher, tmp_path, job_logs, open_page, run_writer
):
    _, ids = finished_demo(app_env, tmp_path, job_logs)
    study = run_writer(tmp_path / "runs" / "demo-three-systems", n_items=6, systems=tuple(demo.THREE_SYSTEMS))
    manifest = demo._read_manifest(tmp_path / "runs")
    manifest["dpo"] = {  # a second part whose three jobs finished (stand-ins): the campaign is the app's turn
        "started_at": "20261203-074510",
        "export_dir": str(tmp_path / "runs" / "prefs-simulated"),
        "run_dir": str(tmp_path / "runs" / "demo-dpo-simulated"),
        "study_dir": str(study),
        "jobs": {"dpo": ids["train"], "generate": ids["generate"], "score": ids["score"]},
        "campaign_id": None,
        "pairs": 12,
    }
    demo._write_manifest(tmp_path / "runs", manifest)
    at = login_as(open_page("streamlit_app"), researcher).run()  # Home in the app, to switch pages
    assert not at.exception
    state = demo.status(app_env, tmp_path / "runs")
    assert state.dpo_finished and state.dpo_campaign_id
    at.run()
    assert "demo_dpo" not in buttons(at)  # finished: its results instead
    assert buttons(at)["demo_dpo_results"] == "See the three-system ranking"
    texts = [b.proto.text.replace("\\", "") for b in at.get("progress")]
    assert texts[0].endswith("12 simulated pairs") and len(texts) == 5
    assert any("simulated judgments" in s.value for s in at.success)
    at.button(key="demo_dpo_results").click().run()
    assert not at.exception
    assert at.title[0].value == "Results"
    assert at.selectbox(key="campaign").value == state.dpo_campaign_id
    assert "Ranking of the systems" in [h.value for h in at.subheader]
    shown = at.selectbox(key="campaign")
    assert "simulated" in shown.format_func(shown.value)  # Results names it a study of simulated judgments
    table = next(d.value for d in at.dataframe if "strength" in d.value.columns)
    assert sorted(table.system) == sorted(demo.THREE_SYSTEMS)
