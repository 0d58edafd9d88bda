"""The plain-language reading of a campaign's analysis: a few sentences a reviewer reads without the tables
(the report's "In plain words", the results page's verdict, the stats command's text). Every interval is labelled
with the coverage the analysis used (annotations.stats.intervals.ci_label)."""

from __future__ import annotations

import math

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
    """A few sentences a reviewer can read without the tables: verdict, agreement, metrics, biases, what next."""
    lines = []
    ci = ci_label(a.options.confidence)  # every interval below was computed at this coverage
    w = a.win
    pct = {
        "drop": "of decisive judgments",
        "half": "of judgments (ties count half)",
        "separate": "of all judgments",
    }
    if w.win_rate is None:
        lines.append(f"No verdict yet: {w.reason}.")
    else:
        low, high = (w.boot_low, w.boot_high) if w.boot_low is not None else (w.wilson_low, w.wilson_high)
        if low is not None and low > 0.5:
            verdict = f"Humans preferred **{w.system}** over {w.opponent}"
            tail = "the interval excludes 50%, so this is unlikely to be chance"
        elif high is not None and high < 0.5:
            verdict = f"Humans preferred **{w.opponent}** over {w.system}: {w.system} won only"
            tail = "the interval is below 50%: the fine-tune made outputs worse for these judges"
        else:
            verdict = f"No clear winner: {w.system} won"
            tail = "the interval includes 50%, so these judgments cannot tell the systems apart"
        lines.append(
            f"{verdict} {_pct(w.win_rate)} {pct[w.tie_policy]} ({ci} {_pct(low)}–{_pct(high)}, "
            f"{counted(w.n_items, 'item')}, item bootstrap; sign test {_p(w.sign_test_p)}); {tail}. "
            f"Ties or 'both bad': {_pct(w.tie_rate)}."
            if w.sign_test_p is not None
            else f"{verdict} {_pct(w.win_rate)} {pct[w.tie_policy]}; {tail}."
        )
    for r in a.criteria.itertuples():
        if r.mean_diff is not None and r.ci_low is not None and not math.isnan(r.mean_diff):
            direction = "higher" if r.ci_low > 0 else "lower" if r.ci_high < 0 else "not clearly different"
            lines.append(
                f"On {r.criterion}, {a.system} scored {_num(r.mean_diff)} points vs {a.opponent} "
                f"({ci} {_num(r.ci_low)} to {_num(r.ci_high)}): {direction}."
            )
    pref = a.agreement.iloc[0]
    if pref["alpha"] is None or (isinstance(pref["alpha"], float) and math.isnan(pref["alpha"])):
        lines.append(f"Agreement on the preference cannot be computed: {pref['reason']}.")
    else:
        alpha = float(pref["alpha"])
        # Krippendorff (2004, "Content Analysis", 2nd ed., p. 241): >= .800 reliable, >= .667 tentative
        quality = "reliable" if alpha >= 0.8 else "only tentatively reliable" if alpha >= 0.667 else "low"
        lines.append(
            f"Annotators agree on which output is better with Krippendorff's alpha = {alpha:.2f} "
            f"({ci} {_num(pref['ci_low'])} to {_num(pref['ci_high'])}): {quality} by Krippendorff's thresholds "
            "(.667 tentative, .800 reliable). Subjective preference often sits below these; read the verdict "
            "with its interval."
        )
    acc = a.pairwise_accuracy.dropna(subset=["accuracy"])
    if not acc.empty:
        best = acc.sort_values("accuracy", ascending=False).iloc[0]
        useless = acc[(acc["ci_low"] <= 0.5) & (acc["ci_high"] >= 0.5)]["metric"].tolist()
        figure = (
            f"{_pct(best['accuracy'])} of items ({ci} {_pct(best['ci_low'])}–{_pct(best['ci_high'])}, "
            f"n = {int(best['n'])})"
        )
        if len(useless) == len(acc):
            lines.append(
                "None of the automatic metrics points the same way as the human majority more often than a coin "
                f"flip would (best: {best['metric']}, {figure}): here, a metric moving says little about what "
                "these judges prefer."
            )
        else:
            line = (
                f"Automatic metrics: {best['metric']} points the same way as the human majority on {figure}."
            )
            if useless:
                line += f" No better than a coin flip here: {', '.join(useless)}."
            lines.append(line)
    flagged = a.annotators[a.annotators["flagged"]]
    if not flagged.empty:
        names = "; ".join(f"{r.annotator_id} ({r.flags})" for r in flagged.itertuples())
        excluded = "excluded" if a.used["excluded_annotators"] else "still included (exclude them to check)"
        lines.append(f"Quality checks flag {counted(len(flagged), 'annotator')}: {names}; {excluded}.")
    if a.length.share is not None and a.length.p_value is not None and a.length.p_value < 0.01:
        lines.append(
            f"Length bias: the longer output won {_pct(a.length.share)} of decisive judgments "
            f"({_p(a.length.p_value)}); part of the preference may be for length."
        )
    p = a.power
    if p.more_items_for_target is not None:
        now, target = 100 * p.win_rate_half_width, 100 * p.target_half_width
        detect = (
            f"{counted(p.items_to_detect, 'item')} in all would detect a {100 * p.detect_difference:.0f}-point "
            f"difference from 50% with {100 * p.power:.0f}% power"
        )
        if p.more_items_for_target == 0:
            lines.append(
                f"The win-rate interval is ±{now:.1f} points, already within ±{target:.0f}; {detect}."
            )
        else:
            lines.append(
                f"The win-rate interval is ±{now:.1f} points; about {counted(p.more_items_for_target, 'more item')} "
                f"at {p.judgments_per_item:.1f} judgments each would bring it to ±{target:.0f} points, and {detect}."
            )
    return lines


def summary_text(data: CampaignData, a: CampaignAnalysis) -> str:
    """The stats command's human-readable output."""
    lines = [f"campaign {a.campaign_id} ({data.name}): {a.system} vs {a.opponent}", ""]
    lines += [f"* {line.replace('**', '')}" for line in interpret(a)]
    w = a.win
    lines += ["", f"win rate ({w.tie_policy}): {_num(w.win_rate, 3)}  bootstrap [{_num(w.boot_low, 3)}, "
              f"{_num(w.boot_high, 3)}]  Wilson [{_num(w.wilson_low, 3)}, {_num(w.wilson_high, 3)}]  "
              f"wins/losses/ties/both-bad {w.wins}/{w.losses}/{w.ties}/{w.both_bad}"]  # fmt: skip
    for r in a.agreement.itertuples():
        lines.append(f"alpha {r.target} ({r.level}): {_num(r.alpha, 3)} [{_num(r.ci_low, 3)}, {_num(r.ci_high, 3)}]"
                     f" n={r.n_units}" + (f"  ({r.reason})" if r.reason else ""))  # fmt: skip
    lines.append(f"used: {a.used['judgments_used']} judgments, excluded annotators: "
                 f"{', '.join(a.used['excluded_annotators']) or 'none'}; {a.seconds:.2f} s")  # fmt: skip
    return "\n".join(lines)
