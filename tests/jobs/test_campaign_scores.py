"""Reference-free scores of a campaign made from a CSV with a `source` column (issue 18, item 5): creating
it returns while a real `python -m ft_core score` process, started by jobs/, still runs; once it ends, the
scores are in the store, with the values the definitions give by hand (See et al., 2017, novel n-grams;
distinct numbers and capitalised words absent from the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
from helpers.fake_jobs import wait_for

from annotations.campaigns import CampaignConfig, create_campaign, metrics_frame, source_scores
from annotations.stats.faithfulness import FAITHFULNESS_SCORES
from ft_core.metrics.faithfulness import NOVELTY_COLUMNS, UNSUPPORTED_COLUMNS
from jobs import campaign_scores, processes, queue, scheduler
from jobs.errors import JobError

SOURCE = "The committee approved 120 new grants for researchers in Lisbon in 2021."
COPIED = "The committee approved 120 new grants."  # every word, number and name is in the source
INVENTED = "The board approved 450 grants for Porto."  # board, 450, porto are not


@pytest.fixture(autouse=True)
def connected(monkeypatch):
    """What the app does once (pages/shared.py): hand the campaign's two steps to its scoring jobs."""
    monkeypatch.setattr(campaign_scores, "_STEPS", {})
    campaign_scores.connect(source_scores.prepare_scoring, source_scores.store_scores)


def _csv(path, with_source: bool = True):
    rows = []
    for i in range(4):
        for system, output in (("gpt", INVENTED), ("mine", COPIED)):
            row = {"item_id": i, "system": system, "output": output, "references": f"ref {i}", "chrf": 0.5}
            if with_source:
                row["source"] = SOURCE
            rows.append(row)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_creation_returns_before_scoring_and_the_scores_arrive_in_the_store(con, tmp_path, cpu_machine):
    csv = _csv(tmp_path / "outputs.csv")
    runs = tmp_path / "runs"
    cid = create_campaign(
        con, CampaignConfig(name="csv", source_file=str(csv), system_a="gpt", system_b="mine")
    )
    job = campaign_scores.start(con, cid, runs)
    # creation is done and the scoring still runs in its own process: nothing of it is in the store yet
    assert job is not None and job.kind == campaign_scores.KIND and job.status == "running"
    assert processes.group_alive(job)
    assert set(metrics_frame(con, cid).metric) == {"sentence_chrf"}  # the file's own column, imported at once
    assert campaign_scores.pending(con, cid).job_id == job.job_id

    ended = wait_for(con, job.job_id, timeout=240, poll=0.5)
    assert ended.status == "finished", f"{ended.error}\n{(runs / '.jobs' / f'{job.job_id}.log').read_text()}"
    assert campaign_scores.pending(con, cid) is None
    metrics = metrics_frame(con, cid)
    assert set(metrics.metric) == {"sentence_chrf", *NOVELTY_COLUMNS, *UNSUPPORTED_COLUMNS}
    assert set(metrics.metric) - {"sentence_chrf"} <= set(FAITHFULNESS_SCORES)
    values = metrics.set_index(["item_id", "system", "metric"])["value"]
    for item in map(str, range(4)):
        # copied: nothing new. invented: the, board, approved, 450, grants, for, porto -> 3 of 7 words are new
        assert (
            values[(item, "mine", "novel_1gram")] == 0.0
            and values[(item, "mine", "unsupported_numbers")] == 0
        )
        assert values[(item, "gpt", "novel_1gram")] == pytest.approx(3 / 7)
        assert values[(item, "gpt", "unsupported_numbers")] == 1  # 450
        assert values[(item, "gpt", "unsupported_entities")] == 1  # Porto ("The" starts the sentence)
        assert values[(item, "mine", "unsupported_entities")] == 0
    # started again (the page is clicked twice, the app restarts): nothing more to compute
    assert campaign_scores.start(con, cid, runs) is None


def test_nothing_is_queued_without_a_source_or_for_a_run_folder(con, tmp_path, run_folder, cpu_machine):
    csv = _csv(tmp_path / "no-source.csv", with_source=False)
    cid = create_campaign(
        con, CampaignConfig(name="no source", source_file=str(csv), system_a="gpt", system_b="mine")
    )
    assert campaign_scores.start(con, cid, tmp_path / "runs") is None
    # a run folder brings the scores its own scoring job computed (its items have sources)
    from_run = create_campaign(con, CampaignConfig(name="run", run_dir=str(run_folder)))
    assert campaign_scores.start(con, from_run, tmp_path / "runs") is None
    assert queue.list_jobs(con) == []


def test_scores_that_cannot_be_stored_fail_the_job_with_the_reason(con, tmp_path, cpu_machine):
    # fault injected on purpose: the job "scores" by writing nothing, so there is nothing to store
    csv = _csv(tmp_path / "outputs.csv")
    cid = create_campaign(
        con, CampaignConfig(name="csv", source_file=str(csv), system_a="gpt", system_b="mine")
    )
    folder = campaign_scores.scores_folder(tmp_path / "runs", cid)
    job = scheduler.launch(
        con, campaign_scores.KIND, ["true"], log_dir=tmp_path / "logs", run_dir=str(folder), needs_gpu=False
    )
    ended = wait_for(con, job.job_id, timeout=240, poll=0.5)
    assert ended.status == "failed" and "could not be stored" in ended.error and "no scores" in ended.error
    assert set(metrics_frame(con, cid).metric) == {"sentence_chrf"}


def test_a_process_that_never_connected_the_campaigns_refuses_and_fails_with_the_reason(
    con, tmp_path, cpu_machine
):
    """Fault injected on purpose: the campaign steps are taken away (a process other than the app). Starting
    is refused in one line, and a scoring job that ends there fails with the reason instead of finishing
    without its scores; the scheduler reaches this step through `on_finished` alone (it imports no
    campaign_scores)."""
    csv = _csv(tmp_path / "outputs.csv")
    cid = create_campaign(
        con, CampaignConfig(name="csv", source_file=str(csv), system_a="gpt", system_b="mine")
    )
    campaign_scores._STEPS.clear()
    with pytest.raises(JobError, match="not connected the campaigns"):
        campaign_scores.start(con, cid, tmp_path / "runs")
    folder = campaign_scores.scores_folder(tmp_path / "runs", cid)
    job = scheduler.launch(
        con, campaign_scores.KIND, ["true"], log_dir=tmp_path / "logs", run_dir=str(folder), needs_gpu=False
    )
    ended = wait_for(con, job.job_id, timeout=240, poll=0.5)
    assert (
        ended.status == "failed" and "could not be stored" in ended.error and "not connected" in ended.error
    )
    tree = ast.parse(Path(scheduler.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert "campaign_scores" not in imported  # no circle: campaign_scores imports the scheduler, not back
