"""One name, one definition (issue 18, item 3): a run scored by `python -m ft_core score` and imported into
a campaign shows each BLEU/chrF figure under one name with one number on the Runs page (the run's
comparison), the Results page (the analysis' metric table), the export and the slides. `bleu` and the other
corpus figures pool n-gram counts over the items; the mean of per-item sentence scores, a different
statistic, is `sentence_bleu`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import synthetic
from helpers.run_folders import write_run_folder

from annotations import store
from annotations.__main__ import main
from annotations.campaigns import runs
from annotations.report import load_campaign, options_from_dict
from annotations.stats.analysis import analyze
from ft_core import runfolder
from ft_core.config import ScoreConfig
from ft_core.scoring import score

CORPUS = ("bleu", "sacrebleu", "chrf", "chrfpp")
N_ITEMS = 16


@pytest.fixture(scope="module")
def campaign(tmp_path_factory, shared_data):
    """A run folder of real SciTLDR-A texts (base: the abstract's first sentence; fine-tuned: another author's
    TLDR), scored for BLEU and chrF, imported whole into a judged campaign, exported with its slides."""
    rows = [json.loads(line) for line in (shared_data / "scitldr-a" / "dev.jsonl").read_text().splitlines()]
    rows = rows[:N_ITEMS]
    folder = tmp_path_factory.mktemp("one-bleu")
    run = write_run_folder(
        folder / "runs" / "run-bleu",
        n_items=N_ITEMS,
        output_text=lambda system, i: rows[i]["source"][0] if system == "base" else rows[i]["target"][-1],
        references=lambda i: [rows[i]["target"][0]],
    )
    score(ScoreConfig(run_dir=str(run), metrics=["bleu", "chrf"], n_boot=200))  # replaces the helper's scores
    con = store.connect(folder / "store.duckdb")
    cid = synthetic.fill_store(con, run, n_annotators=4)
    con.close()
    out = folder / "out"
    assert (
        main(
            ["export", "--db", str(folder / "store.duckdb"), "--out", str(out), "--slides", "--n-boot", "200"]
        )
        == 0
    )
    con = store.connect(folder / "store.duckdb", read_only=True)
    data = load_campaign(con, cid)
    con.close()
    options = options_from_dict(json.loads((out / cid / "statistics.json").read_text())["options"])
    results = analyze(data.judgments, data.scores, data.metrics, options, cid).verdict.metric_table
    return run, rows, runs.comparison(run), results, out / cid


def test_a_figure_shown_under_one_name_has_one_number_everywhere(campaign):
    run, rows, comparison, results, export = campaign
    assert len(results) and len(comparison)
    on_runs = comparison.set_index("metric")
    on_results = results.set_index("metric")
    shared = sorted(set(on_runs.index) & set(on_results.index))
    assert shared  # comparison.json keeps 10 digits: rel=1e-8 below
    for name in shared:  # a name both pages show stands for one figure: the same number on both
        assert on_results.loc[name, "n_items"] == N_ITEMS == on_runs.loc[name, "n"]
        assert on_results.loc[name, "mean_opponent"] == pytest.approx(on_runs.loc[name, "base"], rel=1e-8)
        assert on_results.loc[name, "mean_system"] == pytest.approx(on_runs.loc[name, "finetuned"], rel=1e-8)
        assert on_results.loc[name, "delta"] == pytest.approx(on_runs.loc[name, "delta"], rel=1e-8)
    # every BLEU and chrF figure the results page shows has its twin on the Runs page
    assert {"sentence_bleu", "sentence_sacrebleu", "sentence_chrf", "sentence_chrfpp"} <= set(shared)
    # the corpus figures are named only where they are computed: the run's table
    assert not set(CORPUS) & set(on_results.index)
    assert set(CORPUS) <= set(on_runs.index)
    # ... and they are another statistic: corpus BLEU (sacreBLEU's own corpus_bleu) is not the mean of
    # sentence BLEU
    import sacrebleu

    finetuned = [r["target"][-1] for r in rows]
    references = [[r["target"][0] for r in rows]]
    corpus = sacrebleu.corpus_bleu(finetuned, references).score
    assert on_runs.loc["sacrebleu", "finetuned"] == pytest.approx(corpus)
    sentence = [sacrebleu.sentence_bleu(o, [r["target"][0]]).score for o, r in zip(finetuned, rows)]
    assert on_runs.loc["sentence_sacrebleu", "finetuned"] == pytest.approx(sum(sentence) / len(sentence))
    assert abs(corpus - on_runs.loc["sentence_sacrebleu", "finetuned"]) > 0.5
    # the per-item scores in the run folder carry the sentence name too
    assert "bleu" not in runfolder.read_per_example(run).columns


def test_the_export_and_the_slides_show_the_same_names_and_numbers(campaign):
    _, _, comparison, results, export = campaign
    on_runs = comparison.set_index("metric")
    exported = pd.read_csv(export / "metric_table.csv").set_index("metric")
    assert sorted(exported.index) == sorted(results["metric"])
    for name in ("sentence_bleu", "sentence_sacrebleu", "sentence_chrf"):
        assert exported.loc[name, "mean_system"] == pytest.approx(on_runs.loc[name, "finetuned"], rel=1e-8)
    deck = (export / "slides" / "deck.md").read_text()
    for name in ("sentence_bleu", "sentence_sacrebleu", "sentence_chrf", "sentence_chrfpp"):
        base, finetuned = on_runs.loc[name, "base"], on_runs.loc[name, "finetuned"]
        assert f"| {name} | {base:.3f} | {finetuned:.3f} |" in deck
    assert not any(f"| {name} |" in deck for name in CORPUS)
    # the help says which is which, in the deck and the report
    assert "the mean of each item's own score, not the corpus bleu, sacrebleu, chrf, chrfpp" in deck
    report = (export / "report.md").read_text()
    assert runfolder.METRIC_DEFINITIONS["sentence_bleu"] in report
    assert "`bleu`, `sacrebleu`, `chrf`, `chrfpp`: n-gram counts pooled over the items" in report


def test_a_run_folder_scored_before_the_sentence_names_imports_under_them(tmp_path):
    # the helper writes per_example.parquet; an old scoring job named the per-item BLEU `bleu`
    run = write_run_folder(tmp_path / "runs" / "old")
    path = runfolder.scores_dir(run) / runfolder.PER_EXAMPLE
    pd.read_parquet(path).rename(columns={"sentence_bleu": "bleu"}).to_parquet(path)
    assert "sentence_bleu" in runfolder.read_per_example(run).columns
    con = store.connect(tmp_path / "store.duckdb")
    from annotations.campaigns import CampaignConfig, create_campaign, metrics_frame

    cid = create_campaign(con, CampaignConfig(name="old", run_dir=str(run)))
    assert "sentence_bleu" in set(metrics_frame(con, cid).metric)
    assert "bleu" not in set(metrics_frame(con, cid).metric)
    con.close()


def test_campaigns_stored_before_the_sentence_names_are_renamed_by_migration_6(tmp_path):
    from annotations import store

    con = store.connect(tmp_path / "store.duckdb")
    old = [("c-1", "i1", "base", name, 1.5) for name in (*CORPUS, "rougeL")]
    con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", old)
    con.execute("DELETE FROM schema_migrations WHERE version = 6")  # the store as it was before migration 006
    applied = store.migrate(con)
    assert len(applied) == 1 and applied[0].endswith("sentence_metric_names")
    names = {r[0] for r in con.execute("SELECT metric FROM metrics").fetchall()}
    assert names == {"sentence_bleu", "sentence_sacrebleu", "sentence_chrf", "sentence_chrfpp", "rougeL"}
    con.close()
