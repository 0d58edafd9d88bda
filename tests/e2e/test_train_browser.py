"""A real Chromium: a researcher launches a tiny training run from the Train page, watches it finish on the
Jobs page (reloading the browser and restarting the app on the way: the job goes on), and opens its curves on
the Runs page.
The form is the researcher's: a run name first, labels from the config, a data set picked from the data folder
and a file uploaded through the browser (a bad one refused by its own name). Cancel asks before it acts.
Screenshots go to screenshots/ (train_form.png, jobs_running.png, jobs_cancel_question.png, jobs_finished.png,
runs_curves.png)."""

from __future__ import annotations

import json
import re

import pytest

from annotations.campaigns import runs
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


def test_launch_watch_and_compare_a_tiny_run(app, browser_page, tiny_causal_dir, tiny_jsonl, tmp_path):
    data = tmp_path / "data"
    (data / "tiny").mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (data / "tiny" / f"{split}.jsonl").write_text((tiny_jsonl / f"{split}.jsonl").read_text())
    app.extra_env["FT_DATA_DIR"] = str(data)
    app.start()
    page = app.login(browser_page, "admin", app.admin_password)
    page.get_by_role("link", name="Train").click()
    page.get_by_text("Preset").wait_for()
    page.get_by_text("Ready to launch").wait_for()  # the whole form has arrived
    assert page.get_by_label("Run name", exact=True).input_value() == "tiny-smollm2-135m"  # first, readable

    # a preset first (it resets the form's settings, not the data or the name), then the tiny model
    page.get_by_label("Preset").click()
    page.get_by_role("option", name="Quick CPU try (48 examples, 12 steps)").click()
    page.wait_for_timeout(500)
    open_tab(page, "Data")
    # an upload through the browser: a header-only CSV is refused by its own name, a good file is kept and
    # picked
    page.get_by_text("Upload a file").click()
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    bad = tmp_path / "header only.csv"
    bad.write_text("source,target\n")
    chooser.set_input_files(str(bad))
    page.get_by_text("header only.csv has no rows (only a header)").wait_for()
    assert str(tmp_path) not in page.locator('[data-testid="stAlert"]').first.inner_text()
    chooser.set_input_files(str(tiny_jsonl / "train.jsonl"))
    page.get_by_text("Uploaded train.jsonl").wait_for()
    assert (data / "uploads" / "train.jsonl").is_file()  # kept under the data folder, listed as "uploads"
    page.get_by_text("rows; the first 5").wait_for()
    # back to the data set found in the data folder: preview, row count, columns from the file
    page.get_by_text("A data set found here").click()
    page.get_by_label("Data set", exact=True).click()
    page.get_by_role("option", name="tiny").click()
    page.wait_for_timeout(500)
    page.get_by_text("train.jsonl: 16 rows; the first 5").wait_for()
    open_tab(page, "Model")
    fill(page, "Base model", str(tiny_causal_dir))
    run_dir = app.runs_dir / "tiny-browser"
    fill(page, "Run name", "tiny-browser")
    open_tab(page, "Optimization")
    fill(page, "Max steps (0 = epochs)", "6")
    page.get_by_text("Ready to launch").wait_for()
    # another page and back: the form is as it was left
    page.get_by_role("link", name="Jobs").first.click()
    page.get_by_text("No job yet").wait_for()
    page.get_by_role("link", name="Train").first.click()
    page.get_by_text("Ready to launch").wait_for()
    assert page.get_by_label("Run name", exact=True).input_value() == "tiny-browser"
    open_tab(page, "Optimization")
    assert page.get_by_label("Max steps (0 = epochs)", exact=True).input_value() == "6"
    open_tab(page, "Data")
    app.screenshot(page, "train_form")
    page.get_by_role("button", name="Launch").click()
    page.get_by_text("Watch it on the Jobs page").wait_for(timeout=30_000)

    page.get_by_role("link", name="Jobs").first.click()
    page.get_by_text("train tiny-browser").first.wait_for(timeout=30_000)
    app.screenshot(page, "jobs_running")
    # Cancel asks first, naming the job; "No, keep it" leaves it running
    page.get_by_role("button", name="Cancel").first.click()
    page.get_by_text("Cancel 'train tiny-browser' (running)?").wait_for()
    app.screenshot(page, "jobs_cancel_question")
    page.get_by_role("button", name="No, keep it").click()
    page.get_by_text("Cancel 'train tiny-browser'").wait_for(state="detached")
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
