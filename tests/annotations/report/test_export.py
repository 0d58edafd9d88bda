"""Export and CLI on a real DuckDB store filled through the real assignment/submit path, and the round trip:
re-importing an export reproduces every statistic exactly."""

import json

import pandas as pd
import pytest
from helpers import synthetic
from helpers.run_folders import write_run_folder

from annotations.__main__ import main as cli
from annotations.report import (
    CampaignData,
    judgments_with_scores,
    load_campaign,
    load_export,
    write_export,
)
from annotations.stats.analysis import AnalysisOptions, analyze
from annotations.store import connect
from ft_core import runfolder


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(db path, campaign id, run dir): 20 items, k=3, four annotators (one left-biased), flipped repeats."""
    root = tmp_path_factory.mktemp("store")
    run_dir = write_run_folder(root / "runs" / "run-1", n_items=20)
    path = root / "app.duckdb"
    con = connect(path)
    cid = synthetic.fill_store(con, run_dir, name="export test")
    con.close()
    return path, cid, run_dir


@pytest.fixture(scope="module")
def data(store):
    path, cid, _ = store
    con = connect(path, read_only=True)
    try:
        return load_campaign(con, cid)
    finally:
        con.close()


def same(a, b) -> bool:
    return json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_reimporting_an_export_reproduces_every_statistic(data, tmp_path, fmt):
    options = AnalysisOptions(n_boot=300, seed=7, tie_policy="half", exclude_annotators=("ann-left",))
    original = analyze(data.judgments, data.scores, data.metrics, options, data.campaign_id)
    write_export(data, original, tmp_path)
    loaded = load_export(tmp_path, fmt)
    assert loaded.options == options
    again = loaded.analyze()
    assert same(original, again)
    assert original.statistics_table().equals(again.statistics_table())


def test_round_trip_from_frames_without_a_store(tmp_path):
    c = synthetic.make_campaign(n_items=60, seed=3)
    frames = CampaignData("cmp-synthetic", "frames only", c.judgments, c.scores, c.metrics)
    original = analyze(c.judgments, c.scores, c.metrics, AnalysisOptions(n_boot=200))
    write_export(frames, original, tmp_path)
    assert same(original, load_export(tmp_path).analyze())


def test_judgments_file_has_what_a_reviewer_needs(data, tmp_path):
    a = analyze(data.judgments, data.scores, data.metrics, AnalysisOptions(n_boot=100))
    write_export(data, a, tmp_path)
    table = pd.read_csv(tmp_path / "judgments.csv")
    needed = {
        "shown_left",
        "shown_right",
        "winner",
        "choice",
        "served_at",
        "submitted_at",
        "duration_s",
        "annotator_id",
        "version",
        "is_repeat",
        "is_gold",
        "too_fast",
    }
    assert needed <= set(table.columns)
    score_columns = [c for c in table.columns if c.startswith("score:")]
    criteria = set(data.scores["criterion"])
    assert len(score_columns) == 2 * len(criteria)
    assert len(table) == len(data.judgments) == len(pd.read_json(tmp_path / "judgments.jsonl", lines=True))
    # the winner is de-randomized: a "left" choice names the system shown left
    left = table[table["choice"] == "left"]
    assert (left["winner"] == left["shown_left"]).all()
    stats_csv = pd.read_csv(tmp_path / "statistics.csv")
    assert {"statistic", "method", "level", "n", "ci_low", "ci_high", "seed", "n_boot"} <= set(
        stats_csv.columns
    )
    statistics = json.loads((tmp_path / "statistics.json").read_text())
    assert statistics["environment"]["pandas"] == pd.__version__
    assert statistics["options"]["tie_policy"] == "drop"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "report.html" in manifest["files"]


def test_report_has_every_section_and_the_loss_curve(data, store, tmp_path):
    a = analyze(data.judgments, data.scores, data.metrics, AnalysisOptions(n_boot=100))
    write_export(data, a, tmp_path)
    md = (tmp_path / "report.md").read_text()
    for section in (
        "In plain words",
        "Setup",
        "Training",
        "Automatic metrics",
        "Human verdict",
        "Agreement",
        "Do the metrics agree with the humans?",
        "Annotators",
    ):
        assert f"## {section}" in md
    assert "![training loss](loss_curve.svg)" in md
    assert "ann-left" in md and "position bias" in md
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html and "<table" in html
    assert len(runfolder.read_log(store[2])) == 63


def test_cli_stats_and_export(store, tmp_path, capsys):
    path, cid, _ = store
    assert cli(["stats", "--db", str(path), "--json", "--n-boot", "200", "--tie-policy", "separate"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["campaign_id"] == cid and payload["win"]["tie_policy"] == "separate"
    assert payload["options"]["n_boot"] == 200
    assert cli(["stats", "--db", str(path), "--exclude-annotators", "ann-left", "--n-boot", "50"]) == 0
    text = capsys.readouterr().out
    assert "excluded annotators: ann-left" in text and "win rate (drop)" in text
    out = tmp_path / "export"
    assert cli(["export", "--db", str(path), "--out", str(out), "--campaign", cid, "--n-boot", "100"]) == 0
    assert (out / cid / "report.md").is_file() and (out / cid / "judgments.parquet").is_file()
    assert cli(["stats", "--db", str(tmp_path / "missing.duckdb")]) == 1
    assert "not found" in capsys.readouterr().err
    assert cli(["stats", "--db", str(path), "--campaign", "nope"]) == 1
    assert "campaign nope not found" in capsys.readouterr().err


def test_judgments_with_scores_is_one_row_per_judgment(data):
    table = judgments_with_scores(data.judgments, data.scores)
    assert table["judgment_id"].is_unique and len(table) == len(data.judgments)


def test_plain_language_reading_follows_the_numbers():
    from annotations.report import interpret

    winner = synthetic.make_campaign(n_items=200, left_biased=(), seed=31)
    lines = interpret(analyze(winner.judgments, winner.scores, winner.metrics, AnalysisOptions(n_boot=300)))
    assert lines[0].startswith("Humans preferred **finetuned** over base")
    assert any("good_metric points the same way" in line and "useless_metric" in line for line in lines)
    even = synthetic.make_campaign(n_items=200, advantage=0.0, left_biased=(), seed=32)
    lines = interpret(analyze(even.judgments, None, None, AnalysisOptions(n_boot=300)))
    assert lines[0].startswith("No clear winner")


def test_export_names_the_design_but_never_its_secret(store, tmp_path):
    """`python -m annotations export`: the manifest carries the design (id, blocks, imbalance bound), each
    judgment its own shown_left; the secret that would let an annotator predict sides is in no file."""
    path, cid, _ = store
    con = connect(path, read_only=True)
    secret, public_id = con.execute(
        "SELECT design_secret, design_id FROM campaigns WHERE campaign_id = ?", [cid]
    ).fetchone()
    con.close()
    out = tmp_path / "export"
    assert cli(["export", "--db", str(path), "--out", str(out), "--campaign", cid, "--n-boot", "50"]) == 0
    manifest = json.loads((out / cid / "manifest.json").read_text())
    design = manifest["design"]
    assert design["design_id"] == public_id and len(public_id) == 16
    assert design["side_block_sizes"] == [8, 12, 16] and design["side_max_imbalance"] == 3
    assert f"`{public_id}`" in (out / cid / "report.md").read_text()
    table = pd.read_parquet(out / cid / "judgments.parquet")
    assert set(table["shown_left"]) == {"base", "finetuned"}
    for file in (out / cid).iterdir():
        assert secret not in file.read_bytes().decode("utf-8", "replace"), file.name


@pytest.mark.parametrize(("confidence", "label"), [(0.9, "90% CI"), (0.975, "97.5% CI")])
def test_every_interval_label_says_the_coverage_used(data, tmp_path, confidence, label):
    """At 0.9 or 0.975 the summary, report.md and report.html say "90% CI" / "97.5% CI", never "95% CI" (and
    never "97%": int(100 * 0.975) would say so)."""
    from annotations.report import summary_text

    a = analyze(data.judgments, data.scores, data.metrics, AnalysisOptions(n_boot=100, confidence=confidence))
    summary = summary_text(data, a)
    assert summary.count(label) >= 3 and "95% CI" not in summary  # verdict, criteria, agreement, metrics
    write_export(data, a, tmp_path)
    coverage = label.removesuffix(" CI")
    for name in ("report.md", "report.html"):
        text = (tmp_path / name).read_text()
        assert label in text and f"Intervals: {coverage}," in text, name
        assert "95%" not in text and "97%" not in text.replace("97.5%", ""), name


def test_the_export_folder_has_one_reader(data, tmp_path):
    """load_export and the slides deck (export.export_options) read an export's options the same way, and a
    damaged statistics.json is one line for both."""
    from annotations.errors import AnnotationError
    from annotations.report import export

    options = AnalysisOptions(n_boot=50, seed=3, tie_policy="drop")
    write_export(
        data, analyze(data.judgments, data.scores, data.metrics, options, data.campaign_id), tmp_path
    )
    assert export.is_export(tmp_path) and not export.is_export(tmp_path / "nope")
    assert export.export_options(tmp_path) == options == load_export(tmp_path).options
    (tmp_path / export.STATISTICS).write_text('{"campaign_id": "x", "opt')
    for read in (export.export_options, load_export):
        with pytest.raises(AnnotationError, match=r"statistics\.json cannot be read") as raised:
            read(tmp_path)
        assert "\n" not in str(raised.value)


# `python -m annotations stats --json` is a public interface (DESIGN.md): its keys are pinned here, so a
# change of the analysis' inner shape cannot change what scripts reading this JSON find
STATS_JSON_KEYS = [
    "campaign_name", "campaign_id", "system", "opponent", "options", "used", "win", "win_by_policy",
    "bradley_terry", "criteria", "metric_table", "agreement", "leave_one_out", "cohen", "fleiss",
    "annotators", "position", "length", "speed", "correlations", "preference_correlations",
    "pairwise_accuracy", "power", "agreement_plan", "raw_agreement", "environment",
]  # fmt: skip
STATS_JSON_USED_KEYS = [
    "judgments_total", "annotators_total", "excluded_annotators", "judgments_of_excluded_annotators",
    "repeats_left_out", "gold_left_out", "judgments_used", "items_used", "annotators_used",
    "verdict_and_agreement", "biases_and_speed", "annotator_table",
]  # fmt: skip
STATS_JSON_OPTION_KEYS = [
    "tie_policy", "exclude_annotators", "exclude_flagged", "include_gold", "include_repeats", "n_boot",
    "seed", "confidence", "correlation_levels", "correlation_methods", "target_half_width",
    "detect_difference", "thresholds",
]  # fmt: skip


def test_cli_stats_json_keeps_its_keys(store, capsys):
    path, cid, _ = store
    assert cli(["stats", "--db", str(path), "--json", "--n-boot", "30"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert list(payload) == STATS_JSON_KEYS
    assert list(payload["used"]) == STATS_JSON_USED_KEYS
    assert list(payload["options"]) == STATS_JSON_OPTION_KEYS
    assert payload["used"]["judgments_used"] > 0 and payload["win"]["system"] == payload["system"]
    assert {"alpha", "target", "level"} <= set(payload["agreement"][0])
    assert {"annotator_id", "flagged", "excluded"} <= set(payload["annotators"][0])


def test_cli_flags_are_generated_from_the_analysis_options(store, capsys):
    import dataclasses

    from annotations.report.cli import _options, _parser

    parser = _parser("python -m annotations stats", "")
    flags = {a.option_strings[0] for a in parser._actions if a.option_strings}
    for f in dataclasses.fields(AnalysisOptions):
        if not dataclasses.is_dataclass(
            f.default_factory if f.default_factory is not dataclasses.MISSING else 0
        ):
            assert "--" + f.name.replace("_", "-") in flags, f.name
    assert _options(parser.parse_args(["--db", "x"])) == AnalysisOptions()
    given = _options(
        parser.parse_args(
            [
                "--db",
                "x",
                "--exclude-annotators",
                "b,a",
                "--exclude-flagged",
                "--confidence",
                "0.9",
                "--correlation-methods",
                "kendall",
                "--n-boot",
                "7",
            ]
        )
    )
    assert given == AnalysisOptions(
        exclude_annotators=("a", "b"),
        exclude_flagged=True,
        confidence=0.9,
        correlation_methods=("kendall",),
        n_boot=7,
    )
    path, _, _ = store
    for flag, value, words in [
        ("--confidence", "1.5", "confidence must be in (0, 1), got 1.5"),
        ("--tie-policy", "coin", "tie_policy must be one of drop, half, separate"),
        ("--n-boot", "-3", "n_boot must be >= 0, got -3"),
        ("--correlation-levels", "summary,weekly", "correlation_levels must be among"),
    ]:
        assert cli(["stats", "--db", str(path), flag, value]) == 1
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err
