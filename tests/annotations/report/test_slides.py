"""The slide deck (annotations/report/slides.py): `python -m annotations export --slides` writes PNG
charts, a Marp deck and a self-contained HTML deck whose numbers are the analysis' own; the example pairs
are the clearest win, the clearest loss and the most evenly split item."""

import base64
import json
import re

import pandas as pd
import pytest
from helpers import synthetic
from helpers.run_folders import write_run_folder

from annotations import store
from annotations.__main__ import main
from annotations.report import load_campaign, options_from_dict
from annotations.report.slides import example_items
from annotations.stats.analysis import analyze

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slides")
    con = store.connect(folder / "store.duckdb")
    cid = synthetic.fill_store(con, write_run_folder(folder / "runs" / "run-s", n_items=16), n_annotators=4)
    con.close()
    assert (
        main(
            [
                "export",
                "--db",
                str(folder / "store.duckdb"),
                "--out",
                str(folder / "out"),
                "--slides",
                "--n-boot",
                "200",
            ]
        )
        == 0
    )
    return folder, cid


def test_export_with_slides_writes_charts_marp_and_one_html(exported):
    folder, cid = exported
    slides = folder / "out" / cid / "slides"
    assert (folder / "out" / cid / "report.html").is_file()  # the export itself is still there
    charts = sorted(p.name for p in (slides / "charts").glob("*.png"))
    assert charts == [
        "agreement.png",
        "metrics.png",
        "position_bias.png",
        "training_curves.png",
        "verdict.png",
    ]
    for name in charts:
        data = (slides / "charts" / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
    deck = (slides / "deck.md").read_text()
    assert deck.startswith("---\nmarp: true\n")
    assert {f"charts/{name}" for name in charts} == set(re.findall(r"\]\((charts/[^)]+)\)", deck))
    titles = re.findall(r"^#+ (.+)$", deck, flags=re.M)
    assert titles[1:8] == [
        "Training and validation curves",
        "Automatic metrics, paired bootstrap",
        "Automatic metrics: differences with their intervals",
        "The human verdict",
        "The human verdict: intervals",
        "Agreement",
        "Bias checks",
    ]
    assert [t.split(" (")[0] for t in titles[8:]] == [
        "Example: best",
        "Example: worst",
        "Example: most contested",
    ]
    page = (slides / "deck.html").read_text()
    sources = re.findall(r"<img [^>]*src='([^']+)'", page)
    assert len(sources) == len(charts) and all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(base64.b64decode(s.split(",", 1)[1]).startswith(PNG) for s in sources)
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere


def test_the_deck_shows_the_analysis_numbers(exported):
    folder, cid = exported
    con = store.connect(folder / "store.duckdb", read_only=True)
    data = load_campaign(con, cid)
    con.close()
    options = options_from_dict(json.loads((folder / "out" / cid / "statistics.json").read_text())["options"])
    a = analyze(data.judgments, data.scores, data.metrics, options, cid)
    deck = (folder / "out" / cid / "slides" / "deck.md").read_text()
    w = a.verdict.win
    assert (
        f"win rate ({w.tie_policy}): {w.win_rate:.1%}**, 95% CI {w.item_low:.1%} – {w.item_high:.1%} "
        f"(Wilson score over {w.n_items_used} items)" in deck
    )
    for r in a.verdict.metric_table.itertuples():
        # a metric equal on every item (output_tokens here) has no interval: said in words, not "0.000 –
        # 0.000"
        interval = "see below" if pd.isna(r.ci_low) else f"{r.ci_low:.3f} – {r.ci_high:.3f}"
        assert (
            f"| {r.metric} | {r.mean_opponent:.3f} | {r.mean_system:.3f} | {r.delta:.3f} | {interval} |"
            in deck
        )
        if pd.isna(r.ci_low):
            assert f"- No interval for {r.metric}: {r.reason}" in deck and "the same difference" in r.reason
    alpha = a.agreement.table.iloc[0]
    assert f"Krippendorff's alpha on the preference: {alpha['alpha']:.3f}" in deck


def test_example_items_are_best_worst_and_most_contested():
    rows = [("a", "ft")] * 3 + [("b", "base")] * 3 + [("c", "ft"), ("c", "base"), ("c", "ft"), ("c", "base")]
    rows += [("d", "ft"), ("d", "tie")]
    judgments = pd.DataFrame(rows, columns=["item_id", "winner"])
    assert example_items(judgments, "ft", "base") == {"best": "a", "worst": "b", "most contested": "c"}
