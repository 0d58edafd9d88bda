"""A real Chromium on the Jobs page: a live curve with one logged step is drawn inside its axes with
whole-step ticks (the chart is only laid out in a browser), and Cancel on a chain asks first, naming the
job and its chain, after which the job after it shows as skipped. Screenshots: jobs_one_point.png,
jobs_chain_cancel.png, jobs_skipped.png."""

from __future__ import annotations

import json
import sys
import time

import pytest

from jobs import queue

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ONE_STEP = (
    "import json, pathlib, sys, time; run = pathlib.Path(sys.argv[1]); run.mkdir(parents=True); (run / "
    "'train_log.jsonl').write_text(json.dumps({'step': 1, 'loss': 3.6067, 'time': time.time()}) + '\\n'); "
    "(run / 'status.json').write_text(json.dumps({'state': 'running', 'step': 1, 'total_steps': 8, "
    "'started_at': time.time()})); time.sleep(120)"
)


def test_one_point_curve_and_chain_cancel(app, browser_page, tmp_path):
    run_dir = app.runs_dir / "one-step"
    sleep = [sys.executable, "-c", "import time; time.sleep(120)"]

    def queue_jobs(con):
        logs = app.runs_dir / ".jobs"
        first = queue.submit(  # queued here, started by the app (its parent, which reaps it)
            con,
            "train",
            [sys.executable, "-c", ONE_STEP, str(run_dir)],
            log_dir=logs,
            run_dir=run_dir,
            label="chain 1/2: train",
            pipeline="p",
        )
        second = queue.submit(
            con,
            "generate",
            sleep,
            log_dir=logs,
            label="chain 2/2: generate",
            pipeline="p",
            depends_on=first.job_id,
        )
        return first, second

    first, second = app.prepare(queue_jobs)
    app.start()
    deadline = time.monotonic() + 30
    while not (run_dir / "status.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    page = app.login(browser_page, "admin", app.admin_password)
    page.get_by_role("link", name="Jobs").first.click()
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # vega lays the chart out after the element appears
    svg = chart.locator("svg").first
    if svg.count():
        labels = [t.strip() for t in chart.locator("svg text").all_text_contents() if t and t.strip()]
        assert "1.000000" not in labels and "1" in labels  # whole-step ticks
        plot = chart.locator("svg path.background").first.bounding_box()
        point = chart.locator("svg .mark-symbol path").first.bounding_box()
        assert plot and point
        assert plot["y"] < point["y"] and point["y"] + point["height"] < plot["y"] + plot["height"]  # inside
        assert plot["x"] < point["x"] and point["x"] + point["width"] < plot["x"] + plot["width"]
    app.screenshot(page, "jobs_one_point")

    page.locator(f".st-key-cancel_{first.job_id} button").click()  # the train job's own Cancel
    page.get_by_text("It is step 1 of 2 of its chain").wait_for()
    page.get_by_text("The job after it ('chain 2/2: generate') will then be skipped.").wait_for()
    app.screenshot(page, "jobs_chain_cancel")
    page.get_by_role("button", name="Yes, cancel it").click()
    page.get_by_text("1 skipped").wait_for(timeout=30_000)
    assert page.get_by_text("0 failed").count() == 1
    app.screenshot(page, "jobs_skipped")
    app.stop()
    con = app.store()
    assert queue.get_job(con, first.job_id).status == "cancelled"
    assert queue.get_job(con, second.job_id).status == "skipped"
    con.close()
    assert json.loads((run_dir / "status.json").read_text())["state"] == "cancelled"
