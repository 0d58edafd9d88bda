"""Who counts in the stats command and the export (issue 22, items 3 and 4): the flags `--participants`,
`--competence-measure`, `--competence-threshold` and `--use-adjudicated` give what `analyze` gives with the
same options and the campaign's adjudications, the export records the choice (options, manifest, the
adjudicated labels used) and re-analyses to the same figures, and the store is unchanged."""

from __future__ import annotations

import json
import random

import pytest
from helpers.run_folders import write_run_folder
from helpers.small_campaigns import fill_decided

from annotations.__main__ import main as cli
from annotations.judging import adjudication
from annotations.report import load_campaign, load_export
from annotations.stats import competence
from annotations.stats.analysis import AnalysisOptions, analyze
from annotations.store import connect, read

N_BOOT = 40


def _judgments(path) -> list:
    con = connect(path, read_only=True)
    try:
        return read(con).execute("SELECT * FROM judgments ORDER BY judgment_id").fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """(db path, campaign id, threshold): 12 items judged by 3 annotators, ann-2 against the others on items
    0-3, and two of those items adjudicated for base; the threshold leaves the least competent out."""
    root = tmp_path_factory.mktemp("who")
    run_dir = write_run_folder(root / "runs" / "run-1")
    path = root / "app.duckdb"
    con = connect(path)

    def decide(item_id, annotator):
        split = int(item_id.split("-")[-1]) < 4
        return "base" if split and annotator == "ann-2" else "finetuned"

    cid = fill_decided(con, run_dir, decide=decide, n_annotators=3, k=3)
    disputed = competence.disagreements(load_campaign(con, cid).judgments)["item_id"].head(2)
    for item in disputed:
        pair = adjudication.blind_pair(con, cid, item, random.Random(0))
        adjudication.record(con, cid, pair, "left" if pair.shown_left == "base" else "right", "researcher")
    table = competence.competence(load_campaign(con, cid).judgments)
    con.close()
    values = sorted(table["mace"])
    assert values[0] < values[1], table
    return path, cid, round((values[0] + values[1]) / 2, 4)


def _flags(threshold: float) -> list[str]:
    return [
        "--n-boot", str(N_BOOT), "--participants", "exclude", "--competence-threshold", str(threshold),
        "--use-adjudicated",
    ]  # fmt: skip


def test_stats_with_the_flags_equals_the_function_and_changes_nothing(study, capsys):
    path, cid, threshold = study
    before = _judgments(path)
    assert cli(["stats", "--db", str(path), "--json", *_flags(threshold)]) == 0
    payload = json.loads(capsys.readouterr().out)
    con = connect(path, read_only=True)
    data = load_campaign(con, cid)
    con.close()
    options = AnalysisOptions(
        n_boot=N_BOOT, participants="exclude", competence_threshold=threshold, use_adjudicated=True
    )
    expected = json.loads(
        json.dumps(
            analyze(data.judgments, data.scores, data.metrics, options, cid, data.adjudications).to_dict(),
            default=str,
        )
    )
    for key in ("win", "win_by_policy", "used", "options", "agreement"):
        assert payload[key] == expected[key], key
    assert payload["used"]["excluded_annotators"] == ["ann-2"]
    assert payload["used"]["adjudicated_items"] == 2
    assert payload["used"]["who_counts"] == (
        f"excluding 1 low-competence participant (MACE < {threshold:g}); with 2 adjudicated items"
    )
    plain = analyze(data.judgments, data.scores, data.metrics, AnalysisOptions(n_boot=N_BOOT), cid)
    assert payload["win"]["item_share"] != pytest.approx(plain.verdict.win.item_share)
    # the text output says the choice too
    assert cli(["stats", "--db", str(path), *_flags(threshold)]) == 0
    text = capsys.readouterr().out
    assert "Who counts: excluding 1 low-competence participant" in text
    assert "who counts: excluding 1" in text
    assert _judgments(path) == before


def test_the_export_records_the_choice_and_reanalyses_to_the_same_figures(study, tmp_path, capsys):
    path, cid, threshold = study
    before = _judgments(path)
    assert cli(["export", "--db", str(path), "--out", str(tmp_path), *_flags(threshold)]) == 0
    folder = tmp_path / cid
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["options"]["participants"] == "exclude"
    assert manifest["options"]["competence_threshold"] == threshold
    assert manifest["options"]["use_adjudicated"] is True
    assert manifest["who_counts"].endswith("with 2 adjudicated items")
    assert "adjudications.csv" in manifest["files"]
    assert "Who counts: excluding 1 low-competence participant" in (folder / "report.md").read_text()
    statistics = json.loads((folder / "statistics.json").read_text())
    loaded = load_export(folder)
    assert loaded.options.participants == "exclude" and len(loaded.adjudications) == 2
    again = json.loads(json.dumps(loaded.analyze().to_dict(), default=str))
    for key in ("win", "used", "options"):
        assert again[key] == statistics[key], key
    assert _judgments(path) == before


def test_a_default_export_writes_no_adjudications_and_no_choice(study, tmp_path, capsys):
    path, cid, _ = study
    assert cli(["export", "--db", str(path), "--out", str(tmp_path), "--n-boot", "0"]) == 0
    manifest = json.loads((tmp_path / cid / "manifest.json").read_text())
    assert manifest["who_counts"] == "" and "participants" not in manifest["options"]
    assert "adjudications.csv" not in manifest["files"]


def test_bad_flags_and_a_choice_that_leaves_nothing_are_one_line_errors(study, capsys):
    path, _, _ = study
    before = _judgments(path)
    assert cli(["stats", "--db", str(path), "--participants", "drop"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: participants must be one of keep, weight, exclude") and "\n" not in err
    everyone_out = ["stats", "--db", str(path), "--participants", "exclude", "--competence-threshold", "1"]
    assert cli(everyone_out) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: no judgments are left after the exclusions: include more annotators"
    assert _judgments(path) == before
