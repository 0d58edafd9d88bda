"""The plain-language reading of a campaign's analysis: a few sentences a reviewer reads without the tables
(the report's "In plain words", the results page's verdict, the stats command's text). Every interval is
labelled with the coverage the analysis used (annotations.stats.intervals.ci_label)."""

from __future__ import annotations

import math

import pandas as pd

from annotations.plurals import counted
from annotations.report.campaign_data import CampaignData
from annotations.stats.analysis import CampaignAnalysis
from annotations.stats.intervals import ci_label


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def _num(x, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def _p(p: float) -> str:
    """A p-value as read: 'p = 0.03', 'p < 0.0001' (a p-value is never exactly 0; 2 significant digits)."""
    return "p < 0.0001" if p < 0.0001 else f"p = {p:.2g}"


def interpret(a: CampaignAnalysis) -> list[str]:
    """A few sentences a reviewer can read without the tables: verdict, agreement, metrics, biases, what
    next."""
    lines = []
    ci = ci_label(a.options.confidence)  # every interval below was computed at this coverage
    w = a.verdict.win
    pct = {
        "drop": "of decisive judgments",
        "half": "of judgments (ties count half)",
        "separate": "of all judgments",
    }
    if w.win_rate is None:
        lines.append(f"No verdict yet: {w.reason}.")
    else:
        low, high = w.item_low, w.item_high  # Wilson with the item as the unit: never zero-width
        if low is not None and low > 0.5:
            verdict = f"Humans preferred **{w.system}** over {w.opponent}"
            tail = "the interval excludes 50%, so this is unlikely to be chance"
        elif high is not None and high < 0.5:
            verdict = f"Humans preferred **{w.opponent}** over {w.system}: {w.system} won only"
            tail = "the interval is below 50%: the fine-tune made outputs worse for these judges"
        else:
            verdict = f"No clear winner: {w.system} won"
            tail = "the interval includes 50%, so these judgments cannot tell the systems apart"
        sign = f"; {_p(w.item_p)}" if w.item_p is not None else ""  # the test the interval inverts
        lines.append(
            f"{verdict} {_pct(w.win_rate)} {pct[w.tie_policy]} ({ci} {_pct(low)}–{_pct(high)} over "
            f"{counted(w.n_items_used, 'item')}, Wilson score with the item as the unit{sign}); {tail}. "
            f"Ties or 'both bad': {_pct(w.tie_rate)}."
            + (f" Who counts: {a.evidence.who_counts}." if getattr(a.evidence, "who_counts", "") else "")
        )
    for r in a.verdict.criteria.itertuples():
        if r.mean_diff is None or math.isnan(r.mean_diff):
            continue
        if r.ci_low is not None and not math.isnan(r.ci_low):
            direction = "higher" if r.ci_low > 0 else "lower" if r.ci_high < 0 else "not clearly different"
            lines.append(
                f"On {r.criterion}, {a.system} scored {_num(r.mean_diff)} points vs {a.opponent} "
                f"({ci} {_num(r.ci_low)} to {_num(r.ci_high)}): {direction}."
            )
        elif r.reason:  # e.g. a bootstrap that collapsed to a point: said, not printed as "3.00 to 3.00"
            lines.append(
                f"On {r.criterion}, {a.system} scored {_num(r.mean_diff)} points vs {a.opponent}, no "
                f"interval: {r.reason}."
            )
    lines.append(agreement_sentence(a.agreement.table.iloc[0], a.agreement.raw, a.agreement.plan, ci))
    accuracy = accuracy_sentence(a.versus_metrics.pairwise_accuracy, a.options.confidence)
    if accuracy:
        lines.append(accuracy)
    flagged = a.biases.annotators[a.biases.annotators["flagged"]]
    if not flagged.empty:
        names = "; ".join(f"{r.annotator_id} ({r.flags})" for r in flagged.itertuples())
        excluded = "excluded" if a.evidence.excluded_annotators else "still included (exclude them to check)"
        lines.append(f"Quality checks flag {counted(len(flagged), 'annotator')}: {names}; {excluded}.")
    if (
        a.biases.length.share is not None
        and a.biases.length.p_value is not None
        and a.biases.length.p_value < 0.01
    ):
        lines.append(
            f"Length bias: the longer output won {_pct(a.biases.length.share)} of decisive judgments "
            f"({_p(a.biases.length.p_value)}); part of the preference may be for length."
        )
    p = a.power
    if p.more_items_for_target is not None:
        now, target = 100 * p.win_rate_half_width, 100 * p.target_half_width
        detect = (
            f"{counted(p.items_to_detect, 'item')} in all would detect a "
            f"{100 * p.detect_difference:.0f}-point difference from 50% with {100 * p.power:.0f}% power"
        )
        if p.more_items_for_target == 0 and now <= target:
            lines.append(
                f"The win-rate interval is ±{now:.1f} points, already within ±{target:.0f}; {detect}."
            )
        else:
            lines.append(
                f"The win-rate interval is ±{now:.1f} points; about "
                f"{counted(p.more_items_for_target, 'more item')} at {p.judgments_per_item:.1f} judgments "
                f"each would bring it to ±{target:.0f} points, and {detect}."
            )
    return lines


def agreement_sentence(preference, raw, plan, ci: str) -> str:
    """What the annotators' agreement on the preference is, in one sentence that follows its numbers:
    `preference` is the first row of the agreement table (alpha with ties as a category), `raw` the share of
    agreeing pairs (annotations.stats.agreement.raw_agreement), `plan` the agreement plan (or None).

    Alpha needs items judged by two annotators and some variation among the judgments: without the first, the
    sentence asks for a second annotator; with doubly judged items but no variation, it says that alpha is
    undefined because every judgment is the same, and gives the raw agreement instead."""
    alpha = preference["alpha"]
    shared = raw is not None and raw.n_pairs > 0
    plain = (
        f"raw agreement {_pct(raw.share)} on {counted(raw.n_items, 'item')} judged by two or more annotators "
        f"({counted(raw.n_pairs, 'pair')} of judgments)"
        if shared
        else ""
    )
    if alpha is not None and not (isinstance(alpha, float) and math.isnan(alpha)):
        alpha = float(alpha)
        # Krippendorff (2004, "Content Analysis", 2nd ed., p. 241): >= .800 reliable, >= .667 tentative
        quality = "reliable" if alpha >= 0.8 else "only tentatively reliable" if alpha >= 0.667 else "low"
        interval = (
            f"{ci} {_num(preference['ci_low'])} to {_num(preference['ci_high'])}"
            if preference["ci_low"] is not None and not pd.isna(preference["ci_low"])
            else f"no interval: {preference['reason']}"
        )
        return (
            f"Annotators agree on which output is better with Krippendorff's alpha = {alpha:.2f} "
            f"({interval}): {quality} by Krippendorff's thresholds (.667 tentative, .800 reliable)"
            + (f"; {plain}" if plain else "")
            + ". Subjective preference often sits below these; read the verdict with its interval."
        )
    if shared:
        same = (
            f"all {counted(raw.n_judgments, 'judgment')} on them are the same ({', '.join(raw.values)}), so "
            if len(raw.values) == 1
            else "the judgments show no variation, so "
        )
        return (
            f"Agreement: {plain}; {same}Krippendorff's alpha is undefined (with no variation there is no "
            "disagreement expected by chance to compare with)."
        )
    if plan is not None:
        return (
            "Agreement needs a second annotator on the same items: so far "
            f"{counted(plan.n_annotators, 'annotator')} judged {counted(plan.n_items, 'item')}, none of them "
            "judged by two different annotators."
        )
    return f"Agreement on the preference cannot be computed: {preference['reason']}."


def fewest_items_for_sign_test(confidence: float) -> int:
    """The fewest items on which a share can be told from a coin flip at this coverage: the smallest n whose
    most extreme outcome (n of n) has an exact two-sided binomial p = 2 / 2^n below 1 - confidence: 6 at 95%,
    8 at 99% (Clopper & Pearson 1934; any interval of fewer items must include 50%)."""
    n = 1
    while 2 / 2**n >= 1 - confidence:
        n += 1
    return n


def accuracy_sentence(pairwise_accuracy: pd.DataFrame, confidence: float) -> str | None:
    """Whether the automatic metrics point the same way as the human majority (pairwise accuracy), in words
    that follow the numbers: too few items, better than a coin flip (interval above 50%), the opposite way
    (interval below 50%), or no better than a coin flip (interval includes 50%). None without any accuracy."""
    acc = pairwise_accuracy.dropna(subset=["accuracy"])
    if acc.empty:
        return None
    ci = ci_label(confidence)
    needed = fewest_items_for_sign_test(confidence)

    def figure(r) -> str:
        return (
            f"{_pct(r['accuracy'])} of {counted(int(r['n']), 'item')} ({ci} "
            f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])})"
        )

    enough = acc[acc["n"] >= needed]
    if enough.empty:
        n = int(acc["n"].max())
        return (
            f"Automatic metrics against the human majority: {counted(n, 'item')} with a human majority and a "
            f"metric difference {'is' if n == 1 else 'are'} too few to tell whether any metric points the "
            f"same way as the humans more often than a coin flip (even agreeing on all {n}, exact p = "
            f"{2 / 2**n:.2g}); at least {needed} are needed."
        )
    enough = enough.sort_values("accuracy", ascending=False)
    better = enough[enough["ci_low"] > 0.5]
    worse = enough[enough["ci_high"] < 0.5]
    coin = enough[(enough["ci_low"] <= 0.5) & (enough["ci_high"] >= 0.5)]
    few = acc[acc["n"] < needed]["metric"].tolist()
    parts = []
    if not better.empty:
        parts.append(
            "; ".join(
                f"{r['metric']} points the same way as the human majority on {figure(r)}"
                for _, r in better.iterrows()
            )
        )
    if not worse.empty:
        parts.append(
            "; ".join(
                f"{r['metric']} points the opposite way on most items (same way on {figure(r)})"
                for _, r in worse.iterrows()
            )
        )
    if not coin.empty:
        best = coin.iloc[0]
        if better.empty and worse.empty:
            return (
                "None of the automatic metrics points the same way as the human majority more often than a "
                "coin "
                f"flip would (best: {best['metric']}, {figure(best)}): here, a metric moving says little "
                "about what "
                "these judges prefer." + (f" Too few items to tell for {', '.join(few)}." if few else "")
            )
        parts.append(f"no better than a coin flip here: {', '.join(coin['metric'])}")
    line = "Automatic metrics: " + "; ".join(parts) + "."
    if few:
        line += f" Too few items to tell for {', '.join(few)}."
    return line


def summary_text(data: CampaignData, a: CampaignAnalysis) -> str:
    """The stats command's human-readable output."""
    lines = [f"campaign {a.campaign_id} ({data.name}): {a.system} vs {a.opponent}", ""]
    lines += [f"* {line.replace('**', '')}" for line in interpret(a)]
    w = a.verdict.win
    boot = w.boot_note or f"[{_num(w.boot_low, 3)}, {_num(w.boot_high, 3)}]"
    lines += [
        "",
        f"win rate ({w.tie_policy}): {_num(w.win_rate, 3)}  items (Wilson) [{_num(w.item_low, 3)}, "
        f"{_num(w.item_high, 3)}]  bootstrap {boot}  judgments (Wilson) [{_num(w.wilson_low, 3)}, "
        f"{_num(w.wilson_high, 3)}]  wins/losses/ties/both-bad {w.wins}/{w.losses}/{w.ties}/{w.both_bad}",
    ]
    for r in a.agreement.table.itertuples():
        lines.append(
            f"alpha {r.target} ({r.level}): {_num(r.alpha, 3)} [{_num(r.ci_low, 3)}, {_num(r.ci_high, 3)}]"
            f" n={r.n_units}" + (f"  ({r.reason})" if isinstance(r.reason, str) else "")
        )
    lines.append(
        f"used: {a.evidence.judgments_used} judgments, excluded annotators: "
        f"{', '.join(a.evidence.excluded_annotators) or 'none'}; {a.seconds:.2f} s"
        + (f"\nwho counts: {a.evidence.who_counts}" if getattr(a.evidence, "who_counts", "") else "")
    )
    return "\n".join(lines)
