"""A CSV with a `source` column uploaded on the Campaigns page (issue 18, item 5): the campaign is created
at once and says its outputs are being scored against their sources; the Results page says so while the job
runs, and shows the scores, under "faithfulness" too, once they are in."""

from __future__ import annotations

import time
from datetime import timedelta

import pandas as pd
import pytest
from helpers.login_as import login_as

from annotations import store
from annotations.campaigns import list_campaigns
from annotations.judging import assignment, judgments
from jobs import campaign_scores, queue, scheduler

SOURCE = "The committee approved 120 new grants for researchers in Lisbon in 2021."
OUTPUTS = {
    "gpt": "The board approved 450 grants for Porto.",
    "mine": "The committee approved 120 new grants.",
}


def _judge(con, campaign_id: str) -> None:
    """Two annotators judge every pair: `mine` (the copy of the source) wins and gets the higher fidelity."""
    now = store.utcnow()
    for annotator in ("ann-1", "ann-2"):
        while (pair := assignment.next_item(con, campaign_id, annotator, now=now)) is not None:
            left = con.execute(
                "SELECT shown_left FROM assignments WHERE assignment_id = ?", [pair.token]
            ).fetchone()[0]
            mine = "A" if left == "mine" else "B"
            other = "B" if mine == "A" else "A"
            scores = {c.name: {mine: 5, other: 2} for c in pair.criteria}
            now += timedelta(seconds=20)
            judgments.submit(con, pair.token, annotator, mine, scores, None, now=now)


def test_uploaded_sources_are_scored_in_the_background_and_shown(
    open_page, app_env, researcher, tmp_path, monkeypatch
):
    monkeypatch.setenv("FT_CPU_JOBS", "1")
    monkeypatch.setenv("FT_JOB_GPUS", "")
    rows = [
        {"item_id": i, "system": s, "output": text, "source": SOURCE}
        for i in range(6)
        for s, text in OUTPUTS.items()
    ]
    at = login_as(open_page("campaigns"), researcher).run()
    at.radio(key="origin").set_value("A CSV/JSONL file").run()
    at.file_uploader[0].upload(
        "outputs.csv", pd.DataFrame(rows).to_csv(index=False).encode(), "text/csv"
    ).run()
    at.selectbox(key="system_a").set_value("gpt").run()
    at.selectbox(key="system_b").set_value("mine").run()
    at.button(key="create").click().run()
    assert not at.exception and not at.error
    assert "scored against their sources in the background" in at.success[0].value
    (campaign_id,) = list_campaigns(app_env)["campaign_id"]
    job = campaign_scores.pending(app_env, campaign_id)
    assert job is not None  # created, and the scoring has not ended
    _judge(app_env, campaign_id)

    results = login_as(open_page("results"), researcher).run()
    assert not results.exception, results.exception
    # no watcher thread runs here, so the job is still "running" in the store: the page says the scores are
    # coming
    assert queue.get_job(app_env, job.job_id).active
    assert any("being scored against their sources" in c.value for c in results.caption)

    deadline = time.monotonic() + 240
    while queue.get_job(app_env, job.job_id).active and time.monotonic() < deadline:
        scheduler.reconcile(app_env)  # what the app's watcher thread does
        time.sleep(0.5)
    assert queue.get_job(app_env, job.job_id).status == "finished", queue.get_job(app_env, job.job_id).error

    results = login_as(open_page("results"), researcher).run()
    assert not results.exception, results.exception
    assert not any("being scored against their sources" in c.value for c in results.caption)
    (metric_table,) = [d.value for d in results.dataframe if "mean_system" in d.value.columns]
    table = metric_table.set_index("metric")
    # by hand: "the board approved 450 grants for porto" has 3 of its 7 words outside the source
    assert table.loc["novel_1gram", "mean_opponent"] == pytest.approx(3 / 7)
    assert table.loc["novel_1gram", "mean_system"] == 0
    assert table.loc["unsupported_numbers", "delta"] == -1
    assert any(c.value.startswith("Means over these items of each output's score") for c in results.caption)
    (fidelity,) = [d.value for d in results.dataframe if "better" in d.value.columns]
    assert {"novel_1gram", "unsupported_numbers", "unsupported_entities"} <= set(fidelity["metric"])


def test_the_app_connects_the_campaigns_to_their_scoring_jobs_before_its_watcher_starts(
    open_page, app_env, monkeypatch
):
    """jobs/ may not import annotations.campaigns: the entry point hands the scoring jobs the campaign's two
    steps, so a scoring job that ends after a restart still stores its scores (and the server's own start,
    pages/server.py, imports none of them: tests/app/test_server_warm.py)."""
    from annotations.campaigns import source_scores

    monkeypatch.setattr(campaign_scores, "_STEPS", {})
    at = open_page("streamlit_app").run()
    assert not at.exception, at.exception
    steps = campaign_scores._STEPS[campaign_scores.KIND]
    assert steps.prepare is source_scores.prepare_scoring and steps.store is source_scores.store_scores
