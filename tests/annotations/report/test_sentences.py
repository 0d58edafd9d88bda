"""Every generated sentence checked against the numbers it summarises (issue 18, items 2 and 4), on the
edge cases that used to contradict themselves: a unanimous campaign, one annotator, fewer items than any
test can tell, ties only, and an ordinary campaign. Each sentence's figures are read back and compared with
the analysis."""

from __future__ import annotations

import re

import pytest
from helpers.small_campaigns import decided_frames
from helpers.synthetic import make_campaign
from statsmodels.stats.proportion import proportion_confint

from annotations.report.summary import accuracy_sentence, fewest_items_for_sign_test, interpret
from annotations.stats.analysis import AnalysisOptions, analyze

OPTIONS = AnalysisOptions(n_boot=300)


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def line(lines: list[str], start: str) -> str:
    found = [t for t in lines if t.startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]


def check_verdict(a, lines: list[str]) -> None:
    w = a.verdict.win
    if w.win_rate is None:
        assert lines[0] == f"No verdict yet: {w.reason}."
        return
    verdict = lines[0]
    m = re.search(
        r"\(95% CI (\d+)%–(\d+)% over (\d+) items?, Wilson score with the item as the unit", verdict
    )
    assert m, verdict
    assert (m[1] + "%", m[2] + "%", int(m[3])) == (pct(w.item_low), pct(w.item_high), w.n_items_used)
    assert f" {pct(w.win_rate)} of " in verdict
    if w.item_low > 0.5:
        assert verdict.startswith(f"Humans preferred **{w.system}**") and "unlikely to be chance" in verdict
    elif w.item_high < 0.5:
        assert verdict.startswith(f"Humans preferred **{w.opponent}**")
    else:
        assert verdict.startswith("No clear winner") and "cannot tell the systems apart" in verdict
    assert w.item_high - w.item_low > 0  # never a point
    # The p-value in the sentence is the test the interval inverts: "unlikely to be chance" exactly when p <
    # 5%, never "cannot tell the systems apart" beside "p = 0.007" (a sign test on judgments said that once).
    p = re.search(r"p (<|=) ([\d.e-]+)\)", verdict)
    assert p, verdict
    decided = w.item_low > 0.5 or w.item_high < 0.5
    assert decided == (w.item_p < 0.05), (verdict, w.item_p)
    assert decided == (p[1] == "<" or float(p[2]) < 0.05), verdict


def check_power(a, lines: list[str]) -> None:
    p = a.power
    plan = [t for t in lines if t.startswith("The win-rate interval is")]
    if p.more_items_for_target is None:
        assert not plan
        return
    m = re.match(r"The win-rate interval is ±([\d.]+) points", plan[0])
    assert float(m[1]) == pytest.approx(
        100 * (a.verdict.win.item_high - a.verdict.win.item_low) / 2, abs=0.05
    )
    assert float(m[1]) > 0 and "±0 " not in plan[0] and "within ±0" not in plan[0]
    if "already within" in plan[0]:
        assert float(m[1]) <= 100 * p.target_half_width


def check_criteria(a, lines: list[str]) -> None:
    for r in a.verdict.criteria.itertuples():
        sentence = line(lines, f"On {r.criterion},")
        if r.ci_low is None:
            assert "no interval" in sentence and r.reason in sentence
            assert re.search(r"\d\.\d\d to \d\.\d\d", sentence) is None
        else:
            assert r.ci_low < r.ci_high and f"{r.ci_low:.2f} to {r.ci_high:.2f}" in sentence


def check_accuracy(a, lines: list[str]) -> None:
    acc = a.versus_metrics.pairwise_accuracy.dropna(subset=["accuracy"])
    metric_lines = [t for t in lines if "human majority" in t]
    if acc.empty:
        assert not metric_lines
        return
    sentence = metric_lines[0]
    needed = fewest_items_for_sign_test(0.95)
    if acc["n"].max() < needed:
        assert (
            "too few" in sentence
            and "coin flip" in sentence
            and "points the same way as the human majority on" not in sentence
        )
        return
    for r in acc.itertuples():
        claimed = re.search(
            rf"{r.metric} points the same way as the human majority on (\d+)% of (\d+) items", sentence
        )
        if claimed:
            assert (claimed[1] + "%", int(claimed[2])) == (pct(r.accuracy), r.n) and r.ci_low > 0.5
        if (
            "no better than a coin flip here: " in sentence
            and r.metric in sentence.split("coin flip here: ")[1]
        ):
            assert r.ci_low <= 0.5 <= r.ci_high
        if sentence.startswith("None of the automatic metrics"):
            assert r.ci_low <= 0.5 <= r.ci_high or r.n < needed


def check_all(a) -> list[str]:
    lines = interpret(a)
    check_verdict(a, lines)
    check_criteria(a, lines)
    check_accuracy(a, lines)
    check_power(a, lines)
    return lines


def test_unanimous_campaign_sentences():
    frames = decided_frames(10, metric=lambda i, s: 20.0 + 5 * (s == "finetuned") + i)
    a = analyze(*frames, OPTIONS)
    lines = check_all(a)
    assert "100%–100%" not in " ".join(lines) and "3.00 to 3.00" not in " ".join(lines)
    agreement = line(lines, "Agreement:")
    assert (
        "raw agreement 100% on 10 items" in agreement
        and "20 judgments on them are the same (finetuned)" in agreement
    )
    assert "alpha is undefined" in agreement and "second annotator" not in agreement
    assert a.agreement.raw.share == 1.0 and a.agreement.raw.n_pairs == 10


def test_one_annotator_sentences():
    frames = decided_frames(8, annotators=("solo",), decide=lambda i, a: "finetuned" if i % 4 else "base")
    a = analyze(*frames, OPTIONS)
    lines = check_all(a)
    agreement = line(lines, "Agreement needs a second annotator on the same items")
    assert "so far 1 annotator judged 8 items, none of them judged by two different annotators" in agreement
    assert a.agreement.raw.share is None


def test_fewer_items_than_a_test_can_tell_say_so():
    # 3 items, the metric points the humans' way on each: 100% of 3 is no finding, and is never called a coin
    # flip too
    frames = decided_frames(3, annotators=("a", "b", "c"), metric=lambda i, s: 10.0 + (s == "finetuned"))
    a = analyze(*frames, OPTIONS)
    lines = check_all(a)
    sentence = next(t for t in lines if "human majority" in t)
    assert "3 items with a human majority and a metric difference are too few" in sentence
    assert "at least 6 are needed" in sentence and "exact p = 0.25" in sentence


def test_ties_only_sentences():
    frames = decided_frames(4, decide=lambda i, a: "tie", metric=lambda i, s: 10.0 + (s == "finetuned"))
    for policy in ("drop", "half", "separate"):
        a = analyze(*frames, AnalysisOptions(n_boot=300, tie_policy=policy))
        lines = check_all(a)
        if policy == "drop":
            assert lines[0] == "No verdict yet: every judgment is a tie: no win rate when ties are dropped."
        agreement = line(lines, "Agreement:")
        assert "8 judgments on them are the same (tie)" in agreement


def test_split_items_give_a_defined_alpha_and_the_raw_share():
    frames = decided_frames(
        12,
        annotators=("a", "b"),
        decide=lambda i, a: "base" if (i % 3 == 0 and a == "b") else ("finetuned" if i % 2 else "base"),
    )
    a = analyze(*frames, OPTIONS)
    lines = check_all(a)
    agreement = line(lines, "Annotators agree on which output is better with Krippendorff's alpha")
    alpha = a.agreement.table.iloc[0]["alpha"]
    assert f"alpha = {alpha:.2f}" in agreement
    assert f"raw agreement {pct(a.agreement.raw.share)} on 12 items" in agreement


@pytest.mark.parametrize("seed", [0, 1])
def test_ordinary_campaigns_follow_their_numbers(seed):
    c = make_campaign(n_items=80, k=3, seed=seed, advantage=0.3 * seed)
    a = analyze(c.judgments, c.scores, c.metrics, OPTIONS)
    check_all(a)


def test_accuracy_sentence_never_calls_a_metric_better_and_a_coin_flip_at_once():
    import pandas as pd

    table = pd.DataFrame(
        {
            "metric": ["bleu", "rouge", "chrf", "ter"],
            "accuracy": [0.9, 0.6, 0.55, 0.1],
            "ci_low": [0.74, 0.42, 0.36, 0.03],
            "ci_high": [0.97, 0.76, 0.72, 0.27],
            "n": [30, 30, 30, 30],
        }
    )
    sentence = accuracy_sentence(table, 0.95)
    assert "bleu points the same way as the human majority on 90% of 30 items" in sentence
    assert "ter points the opposite way" in sentence
    assert sentence.endswith("no better than a coin flip here: rouge, chrf.")
    assert "bleu" not in sentence.split("coin flip here:")[1]


def test_a_small_unanimous_campaign_through_the_export_report(tmp_path):
    """The report and the summary of `python -m annotations export` for 10 items judged alike by 2
    annotators."""
    import pandas as pd
    from helpers.run_folders import write_run_folder
    from helpers.small_campaigns import fill_decided

    from annotations import store
    from annotations.__main__ import main

    con = store.connect(tmp_path / "store.duckdb")
    cid = fill_decided(con, write_run_folder(tmp_path / "runs" / "r", n_items=10), name="unanimous")
    con.close()
    out = tmp_path / "out"
    assert main(["export", "--db", str(tmp_path / "store.duckdb"), "--out", str(out), "--n-boot", "300"]) == 0
    report = (out / cid / "report.md").read_text()
    for claim in ("100%–100%", "1.0 | 1.0 | 1.0", "3.00 to 3.00", "within ±0"):
        assert claim not in report
    assert "(95% CI 72%–100% over 10 items, Wilson score with the item as the unit" in report
    assert "No bootstrap interval: all 10 items agree (each gives 100%)" in report
    assert "Raw agreement on the preference: 100% of 10 pairs of judgments on 10 items" in report
    table = pd.read_csv(out / cid / "statistics.csv")
    items = table[table["method"].str.startswith("Wilson score, the item as the unit")].iloc[0]
    low, high = proportion_confint(10, 10, alpha=0.05, method="wilson")
    assert (items["ci_low"], items["ci_high"]) == pytest.approx((low, high))
    boot = table[(table["statistic"] == "win_rate") & (table["method"] == "bootstrap over items")].iloc[0]
    assert pd.isna(boot["ci_low"]) and "cannot give an interval" in boot["note"]


def test_judges_that_split_every_item_do_not_make_a_sign_test_of_judgments_the_verdict():
    """10 items, each judged by 3 annotators 2 to 1 for the fine-tune: 20 of 30 judgments (a sign test on
    judgments says p = 0.099, and on 10 items won of 10 p = 0.002), but the item-mean share 67% over 10
    items does not leave out 50%: the sentence says no clear winner and gives the p of the same test, above
    5%."""
    frames = decided_frames(
        10, annotators=("a", "b", "c"), decide=lambda i, a: "base" if a == "c" else "finetuned"
    )
    a = analyze(*frames, options=OPTIONS)
    lines = interpret(a)
    check_verdict(a, lines)
    assert lines[0].startswith("No clear winner") and a.verdict.win.item_p > 0.05
