# ruff: noqa: E501  (JavaScript or code run in a subprocess, embedded in strings: kept as written)
"""Slides that mean what they say (issue 18, item 7): the example pairs' titles match their votes (best: an
item the fine-tune won, worst: an item the base won, most contested: a split item; never one item twice; a
slide says which are left out), and every chart fits its slide, checked in a real Chromium on the HTML deck
of a demo-like campaign and of a unanimous one."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic
from helpers.run_folders import write_run_folder
from helpers.small_campaigns import fill_decided

from annotations import store
from annotations.report import load_campaign
from annotations.report.slides import example_items, marp_chart_height, missing_examples, write_slides
from annotations.stats.analysis import AnalysisOptions, analyze
from ft_core import runfolder


def votes(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item_id", "winner"])


def test_a_unanimous_campaign_has_only_a_best_example_and_says_why():
    judgments = votes([(f"i{i}", "ft") for i in range(10) for _ in range(2)])
    chosen = example_items(judgments, "ft", "base")
    assert list(chosen) == ["best"]
    missing = missing_examples(chosen, "ft", "base")
    assert missing[0].startswith("no worst example: base won no item")
    assert missing[1].startswith("no contested example")


def test_worst_is_never_an_item_the_fine_tune_won():
    # every item has more votes for ft than for base, some with a loss: still no "worst"
    judgments = votes(
        [("a", "ft"), ("a", "ft"), ("b", "ft"), ("b", "ft"), ("b", "base"), ("c", "ft"), ("c", "tie")]
    )
    chosen = example_items(judgments, "ft", "base")
    assert "worst" not in chosen and chosen["best"] == "a" and chosen["most contested"] == "b"


def test_the_same_item_is_never_shown_twice():
    # the only split item is also the clearest win and the only loss: it is shown once, as best
    judgments = votes([("a", "ft"), ("a", "ft"), ("a", "base"), ("b", "tie"), ("b", "tie")])
    chosen = example_items(judgments, "ft", "base")
    assert chosen == {"best": "a"}
    assert len(set(chosen.values())) == len(chosen)


def test_examples_follow_their_votes_on_random_campaigns():
    rng = np.random.default_rng(5)
    for _ in range(50):
        rows = [
            (f"i{i}", str(rng.choice(["ft", "base", "tie"], p=[0.5, 0.3, 0.2])))
            for i in range(int(rng.integers(1, 8)))
            for _ in range(int(rng.integers(1, 4)))
        ]
        judgments = votes(rows)
        chosen = example_items(judgments, "ft", "base")
        count = judgments.groupby("item_id")["winner"].value_counts().unstack(fill_value=0)
        count = count.reindex(columns=["ft", "base", "tie"], fill_value=0)
        assert len(set(chosen.values())) == len(chosen)
        if "best" in chosen:
            assert count.loc[chosen["best"], "ft"] > count.loc[chosen["best"], "base"]
        else:
            assert not (count["ft"] > count["base"]).any()
        if "worst" in chosen:
            assert count.loc[chosen["worst"], "base"] > count.loc[chosen["worst"], "ft"]
        else:
            assert not (count["base"] > count["ft"]).any()
        if "most contested" in chosen:
            assert (count.loc[chosen["most contested"], ["ft", "base"]] > 0).all()


def demo_like_run(root: Path, n_items: int = 30) -> Path:
    """A run folder like the demo's: several metrics per output (ROUGE's four, BLEU, chrF, BERTScore)."""
    write_run_folder(root, n_items=n_items)
    path = runfolder.scores_dir(root) / runfolder.PER_EXAMPLE
    per_example = pd.read_parquet(path)
    rng = np.random.default_rng(1)
    for metric in ("rouge1", "rouge2", "rougeLsum", "sentence_chrf"):
        per_example[metric] = rng.random(len(per_example))
    per_example.to_parquet(path)
    return root


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decks")
    con = store.connect(folder / "store.duckdb")
    demo = synthetic.fill_store(
        con, demo_like_run(folder / "runs" / "demo"), n_annotators=3, left_biased=(), name="Demo-like"
    )
    unanimous = fill_decided(
        con, write_run_folder(folder / "runs" / "unanimous", n_items=10), name="Unanimous"
    )
    for cid, name in ((demo, "demo"), (unanimous, "unanimous")):
        data = load_campaign(con, cid)
        a = analyze(data.judgments, data.scores, data.metrics, AnalysisOptions(n_boot=200), cid)
        write_slides(con, data, a, folder / name)
    con.close()
    return folder


def test_the_unanimous_deck_shows_no_point_interval_and_no_wrong_example(decks):
    deck = (decks / "unanimous" / "deck.md").read_text()
    assert "100.0% – 100.0%" not in deck and "100%–100%" not in deck
    assert re.search(r"95% CI 72\.2% – 100\.0% \(Wilson score over 10 items\)", deck)
    titles = re.findall(r"^## (.+)$", deck, flags=re.M)
    assert [t for t in titles if t.startswith("Example")] == ["Examples", "Example: best (item-000)"]
    assert "No worst example: base won no item" in deck
    # the criteria's difference is +3.00 on every item: said in words, no "3.00 to 3.00"
    assert "3.00 to 3.00" not in deck and "3.000 – 3.000" not in deck
    assert "Krippendorff's alpha is undefined" in deck and "raw agreement 100% on 10 items" in deck


def test_marp_charts_leave_room_for_their_slide_text(decks):
    deck = (decks / "demo" / "deck.md").read_text()
    for slide in deck.split("\n---\n"):
        heights = [int(h) for h in re.findall(r"!\[h:(\d+)\]", slide)]
        bullets = [line[2:] for line in slide.splitlines() if line.startswith("- ")]
        assert len(heights) <= 1 and not any(line.startswith("|") for line in slide.splitlines() if heights)
        for h in heights:  # title, text and chart within Marp's 720 px slide
            text = sum(max(1, -(-len(b) // 64)) for b in bullets) * 50
            assert 150 <= h and 157 + 80 + text + h <= 720


def test_marp_chart_height_shrinks_with_the_text():
    from annotations.report.slides import Slide

    assert marp_chart_height(Slide("t", ["short"], "c.png")) > marp_chart_height(
        Slide("t", ["x" * 300], "c.png")
    )


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["demo", "unanimous"])
def test_every_chart_fits_its_slide_in_a_browser(decks, name, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 720})
    page.goto((decks / name / "deck.html").as_uri())
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('section')].map(s => {
            const r = s.getBoundingClientRect();
            const img = s.querySelector('img');
            const i = img ? img.getBoundingClientRect() : null;
            return {overflow: s.scrollHeight - s.clientHeight, top: r.top, bottom: r.bottom,
                    img: i && {top: i.top, bottom: i.bottom, height: i.height, natural: img.naturalHeight}};
        })"""
    )
    shots = Path(__file__).resolve().parents[3] / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"slides-{name}.png"), full_page=True)
    page.close()
    charts = [b for b in boxes if b["img"]]
    assert len(charts) >= 2
    for box in boxes:
        assert box["overflow"] <= 0  # nothing runs off the slide
    for box in charts:
        assert box["top"] <= box["img"]["top"] and box["img"]["bottom"] <= box["bottom"]
        assert box["img"]["height"] >= 200  # and the chart is still readable
