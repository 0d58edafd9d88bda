"""A real Chromium: a researcher launches a tiny training run from the Train page, watches it finish on the
Jobs page (reloading the browser and restarting the app on the way: the job goes on), and opens its curves on
the Runs page.
Screenshots go to screenshots/ (train_form.png, jobs_running.png, jobs_finished.png, runs_curves.png)."""

from __future__ import annotations

import json
import re

import pytest

from annotations import runs
from jobs import queue

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def fill(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    page.wait_for_timeout(300)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    page.wait_for_timeout(200)


def test_launch_watch_and_compare_a_tiny_run(app, browser_page, tiny_causal_dir, tiny_jsonl):
    app.start()
    page = app.login(browser_page, "admin", app.admin_password)
    page.get_by_role("link", name="Train").click()
    page.get_by_text("Preset").wait_for()

    # a preset first (it resets the form), then the tiny model and data
    page.get_by_label("Preset").click()
    page.get_by_role("option", name="Quick CPU try (48 examples, 12 steps)").click()
    page.wait_for_timeout(500)
    run_dir = app.runs_dir / "tiny-browser"
    open_tab(page, "Data")
    fill(page, "train_file", str(tiny_jsonl / "train.jsonl"))
    fill(page, "validation_file", str(tiny_jsonl / "dev.jsonl"))
    fill(page, "test_file", str(tiny_jsonl / "test.jsonl"))
    open_tab(page, "Model")
    fill(page, "base_model", str(tiny_causal_dir))
    fill(page, "run_dir", str(run_dir))
    open_tab(page, "Optimization")
    fill(page, "max_steps", "6")
    page.get_by_text("The configuration is valid.").wait_for()
    # another page and back: the form is as it was left
    page.get_by_role("link", name="Jobs").first.click()
    page.get_by_text("No job yet").wait_for()
    page.get_by_role("link", name="Train").first.click()
    open_tab(page, "Model")
    assert page.get_by_label("run_dir", exact=True).input_value() == str(run_dir)
    open_tab(page, "Optimization")
    assert page.get_by_label("max_steps", exact=True).input_value() == "6"
    app.screenshot(page, "train_form")
    page.get_by_role("button", name="Launch").click()
    page.get_by_text("Watch it on the Jobs page").wait_for(timeout=30_000)

    page.get_by_role("link", name="Jobs").first.click()
    page.get_by_text("train tiny-browser").first.wait_for(timeout=30_000)
    app.screenshot(page, "jobs_running")
    page.reload()  # reloading the browser never stops a job: a new session (still logged in: the cookie) ...
    page.get_by_text("Logged in as admin").wait_for()
    page.get_by_role("link", name="Jobs").first.click()
    page.get_by_text("train tiny-browser").first.wait_for(timeout=30_000)
    app.stop()  # ... nor does the app restarting: the job runs in its own session and the store keeps track
    app.start()
    page.reload()
    page.get_by_text("Logged in as admin").wait_for()
    page.get_by_role("link", name="Jobs").first.click()
    # ... it is shown again, then settles as finished (the fragment refreshes every 2 s)
    page.get_by_text(re.compile(r"^Finished: ")).wait_for(timeout=240_000)
    app.screenshot(page, "jobs_finished")

    page.get_by_role("link", name="Runs").first.click()
    page.get_by_role("tab", name="Curves").wait_for()
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    charts.nth(1).wait_for(timeout=30_000)  # the second one may be drawn a moment after the first
    assert charts.count() == 2  # loss and eval_loss
    app.screenshot(page, "runs_curves")
    assert page.get_by_text("train tiny-browser: running").count() == 0

    app.stop()
    con = app.store()
    (job,) = queue.list_jobs(con)
    assert job.status == "finished" and job.kind == "train"
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "finished" and status["step"] == 6
    assert runs.read_log(run_dir).loss.notna().sum() == 6
    con.close()
