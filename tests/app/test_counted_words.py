"""Singular and plural right everywhere: the researcher's pages are walked with one annotator and with several
(and one campaign, one job, one GPU-less machine), and every text they show is checked for "1 annotators",
"3 annotator", "item(s)" and the like."""

from __future__ import annotations

import re
import sys

import pytest
from helpers import synthetic
from helpers.login_as import login_as

from annotations.plurals import counted, plural
from jobs import scheduler

NOUNS = (
    "annotator|judgment|item|pair|campaign|text|run|job|system|rating|GPU|username|row|step|example|account|"
    "judgement|comparison|output|file|column|criterion|sample|point"
)
ONE_MANY = re.compile(rf"(?<![\d.,])\b1 ({NOUNS})s\b")  # "1 annotators"
MANY_ONE = re.compile(rf"(?<![\d.,])\b(0|[2-9]|[1-9]\d+) ({NOUNS})\b(?![-\w])")  # "3 annotator"
MAYBE = re.compile(r"\w\(s\)")  # "annotator(s)": say which


def texts(at) -> list[str]:
    """Every text the page shows: Markdown, captions, alerts, metrics, tabs, expanders and progress bars."""
    found = []
    for kind in (
        "markdown",
        "caption",
        "info",
        "success",
        "warning",
        "error",
        "title",
        "header",
        "subheader",
    ):
        found += [e.value for e in getattr(at, kind)]
    found += [f"{m.label}: {m.value}" for m in at.metric]
    found += [t.label for t in at.tabs] + [e.label for e in at.expander]
    found += [p.proto.text for p in at.get("progress")]
    return [str(t).replace("\\", "") for t in found]


def wrong_counts(lines: list[str]) -> list[str]:
    return [line for line in lines if ONE_MANY.search(line) or MANY_ONE.search(line) or MAYBE.search(line)]


def test_the_checks_catch_wrong_counts():
    assert wrong_counts(["by 1 annotators", "3 annotator", "item(s) missing", "1 judgment", "2 runs"]) == [
        "by 1 annotators",
        "3 annotator",
        "item(s) missing",
    ]
    assert counted(1, "annotator") == "1 annotator" and counted(3, "annotator") == "3 annotators"
    assert (
        counted(1_200, "judgment") == "1,200 judgments"
        and counted(0, "criterion", "criteria") == "0 criteria"
    )
    assert plural(2, "is") == "are" and plural(2, "category") == "categories" and plural(2, "day") == "days"


def _walk(open_page, user, pages) -> dict[str, list[str]]:
    shown = {}
    for name in pages:
        at = open_page(name)
        login_as(at, user)
        at.run(timeout=120)
        assert not at.exception, (name, at.exception)
        shown[name] = texts(at)
    return shown


OWN_PAGES = ("home", "campaigns", "jobs", "runs", "users", "train")


@pytest.mark.parametrize("n_annotators", [1, 3])
def test_pages_count_right_with_one_annotator_and_with_several(
    open_page, app_env, researcher, tmp_path, run_writer, n_annotators
):
    run_dir = run_writer(tmp_path / "runs" / "run-2", n_items=8)
    synthetic.fill_store(app_env, run_dir, n_annotators=n_annotators, left_biased=(), name="walk")
    job = scheduler.launch(
        app_env, "score", [sys.executable, "-c", "import time; time.sleep(30)"], log_dir=tmp_path / "logs"
    )
    shown = _walk(open_page, researcher, OWN_PAGES)
    scheduler.cancel(app_env, job.job_id)
    assert sum(len(v) for v in shown.values()) > 20  # the walk saw the pages' texts
    assert {name: wrong_counts(lines) for name, lines in shown.items() if wrong_counts(lines)} == {}


def test_the_results_page_counts_right_with_one_annotator(
    open_page, app_env, researcher, tmp_path, run_writer
):
    run_dir = run_writer(tmp_path / "runs" / "run-2", n_items=8)
    synthetic.fill_store(app_env, run_dir, n_annotators=1, left_biased=(), name="walk")
    shown = _walk(open_page, researcher, ("results",))
    assert wrong_counts(shown["results"]) == []


def test_the_results_page_counts_right_with_one_flagged_annotator_among_several(
    open_page, app_env, researcher, tmp_path, run_writer
):
    """The plain-words reading names the flagged annotators ("flag 1 annotator", not "annotator(s)"), and its
    numbers read as numbers: no "p = 0", no "about 0 more items"."""
    run_dir = run_writer(tmp_path / "runs" / "run-2", n_items=24)
    synthetic.fill_store(app_env, run_dir, n_annotators=4, left_biased=("ann-left",), name="walk")
    shown = _walk(open_page, researcher, ("results",))["results"]
    assert any("Quality checks flag 1 annotator:" in line for line in shown), shown
    assert wrong_counts(shown) == []
    assert not [line for line in shown if re.search(r"\bp = 0(?![.\d])|about 0 more", line)]
