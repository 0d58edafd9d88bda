"""The Results page's "LLM judges" block: one card per judge imported into the campaign (`python -m
annotations import-judge`), measuring it against the annotators. Thin: `annotations.campaigns` reads the
verdicts, `annotations.stats.judges.judge_card` computes, this draws. A judge's verdicts never enter the
human statistics above; this block is the only place they appear."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from annotations import campaigns
from annotations.errors import AnnotationError
from annotations.judging.judgments import judgments_frame, scores_frame
from annotations.stats import percent_label
from annotations.stats.agreement import AlphaResult
from annotations.stats.intervals import degenerate
from annotations.stats.judges import JudgeCard, judge_card
from pages.plain_text import escape_markdown
from pages.shared import current_user, store
from pages.tables import show_table, usernames


@st.cache_data(max_entries=8, show_spinner="Reading the judges' verdicts…")
def _frames(
    campaign_id: str, version: str, imports: tuple
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The judgments, every imported judge's verdicts and the criteria scores; `version` (new judgments) and
    `imports` (each judge's import time) key the cache, so a new import shows at once."""
    con = store()
    return (
        judgments_frame(con, campaign_id),
        campaigns.judge_verdicts_frame(con, campaign_id),
        scores_frame(con, campaign_id),
    )


def _point(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def _label(name: str, share: str, ci: tuple[float | None, float | None], fmt: str) -> str:
    """The metric's name with its interval, so the value stays one short number and a card fits one row."""
    low, high = ci
    if low is None or degenerate(low, high):  # a point interval claims a certainty the items do not hold
        return name
    return f"{name}, {share}: {low:{fmt}}–{high:{fmt}}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _cost(summary: dict) -> str:
    if not summary:
        return (
            "The judge had not finished when it was imported (no summary.json): import it again when it has."
        )
    tokens = int(summary.get("prompt_tokens") or 0) + int(summary.get("completion_tokens") or 0)
    seconds = summary.get("seconds")
    took = "" if seconds is None else f" in {float(seconds):,.0f} s"
    model = summary.get("model")
    return f"Cost: {summary.get('pairs', 0):,} pairs, {tokens:,} tokens{took}" + (
        f" ({model})." if model else "."
    )


def _with_interval(value: float | None, low: float | None, high: float | None, fmt: str) -> str:
    """'0.42 [0.10 – 0.70]' (no interval when the resamples all agree), 'n/a' without a value."""
    if value is None or pd.isna(value):
        return "n/a"

    def shown(x: float) -> str:
        return format(x, fmt).replace("-0.00", "0.00").replace("-0%", "0%")  # no negative zero

    if low is None or pd.isna(low) or degenerate(low, high):
        return shown(value)
    return f"{shown(value)} [{shown(low)} – {shown(high)}]"


def _alpha_metric(name: str, alpha: AlphaResult, share: str) -> None:
    st.metric(
        _label(name, share, (alpha.ci_low, alpha.ci_high), ".2f"),
        "n/a" if alpha.alpha is None else f"{alpha.alpha:.2f}",
        help=alpha.reason,
        width="content",
    )


def _agreement_table(frame: pd.DataFrame, key: str, share: str, names: dict | None = None) -> None:
    """A compact table of agreement rows (AGREEMENT_COLUMNS): items, agreement, kappa with its interval."""
    # strings, under names of their own: the tables module formats its "accuracy" and "kappa" columns as
    # numbers
    shown = pd.DataFrame(
        {
            key: frame[key],
            "n_items": frame["n_items"],
            "agrees": [
                _with_interval(a, lo, hi, ".0%")
                for a, lo, hi in zip(frame["accuracy"], frame["accuracy_ci_low"], frame["accuracy_ci_high"])
            ],
            "kappa_with_judge": [
                _with_interval(k, lo, hi, ".2f")
                for k, lo, hi in zip(frame["kappa"], frame["kappa_ci_low"], frame["kappa_ci_high"])
            ],
        }
    )
    if "human_kappa" in frame:
        shown["kappa_with_others"] = [_with_interval(k, None, None, ".2f") for k in frame["human_kappa"]]
    show_table(
        shown,
        names=names,
        labels={
            "agrees": f"Agrees with the judge [{share}]",
            "kappa_with_judge": f"κ with the judge [{share}]",
            "kappa_with_others": "κ with the other annotators",
        },
    )


def _card(card: JudgeCard, summary: dict, confidence: float) -> None:
    st.markdown(f"**Judge {escape_markdown(card.judge)}**")
    (st.warning if card.weak else st.success)(escape_markdown(card.sentence))
    a = card.agreement
    share = percent_label(confidence)
    with st.container(horizontal=True, gap="small"):
        st.metric(
            _label("Agreement", share, a.accuracy_ci, ".0%"),
            _point(a.accuracy, ".0%"),
            width="content",
        )
        st.metric(_label("Cohen's κ", share, a.kappa_ci, ".2f"), _point(a.kappa, ".2f"), width="content")
        st.metric("Order flip rate", _share(card.flip_rate), width="content")
        st.metric("Chose the longer", _share(card.longer_share), width="content")
        st.metric(
            "Calibration (ECE)",
            "n/a" if card.calibration.ece is None else f"{card.calibration.ece:.2f}",
            width="content",
        )
    st.caption(
        f"Agreement: with the annotators' majority, on {a.n_items:,} items judged by both. Order flip rate: "
        f"of {card.n_pairs:,} pairs, the share whose two orders name different winners. Chose the longer: of "
        f"{card.n_length_pairs:,} decided pairs of unequal length (½ is no preference; the annotators' "
        f"majority: {_share(card.human_longer_share)}). ECE: the gap between the judge's probability and the "
        "annotators' share, over ten bins. " + _cost(summary)
    )
    bins = card.calibration.bins
    if len(bins) >= 2:
        diagonal = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(
            strokeDash=[4, 4], color="gray"
        )
        curve = (
            alt.Chart(bins)
            .mark_line(point=True)
            .encode(
                x=alt.X(
                    "p_mean:Q",
                    title="judge's probability the second system is better",
                    scale=alt.Scale(domain=[0, 1]),
                ),
                y=alt.Y("human_share:Q", title="annotators' share", scale=alt.Scale(domain=[0, 1])),
                tooltip=["p_mean", "human_share", "n"],
            )
        )
        st.altair_chart((diagonal.encode(x="x:Q", y="y:Q") + curve).properties(height=240), width="stretch")
    _beside_the_annotators(card, share)


def _beside_the_annotators(card: JudgeCard, share: str) -> None:
    """Alpha with and without the judge, the judge against each annotator, and against each criterion."""
    with st.container(horizontal=True, gap="small"):
        _alpha_metric("Krippendorff's α, annotators", card.alpha.humans, share)
        _alpha_metric("α with the judge as a rater", card.alpha.with_judge, share)
    st.caption(
        f"Krippendorff's α (nominal: a system or a tie) on the {card.alpha.with_judge.n_units:,} items the "
        "judge judged, of the annotators alone and with the judge as one more rater; lower with the judge "
        "means it agrees with them less than they agree with each other."
    )
    if not card.per_annotator.empty:
        st.markdown("**The judge against each annotator**")
        _agreement_table(card.per_annotator, "annotator_id", share, names=usernames(store()))
        st.caption(
            "Each annotator's own labels on the items they share with the judge; κ with the other annotators "
            "is their Cohen's κ with each of the others, weighted by shared items: the yardstick the judge's "
            "κ should reach (n/a: they share no item with another annotator, or κ is undefined)."
        )
    if not card.per_criterion.empty:
        st.markdown("**The judge against each criterion**")
        _agreement_table(card.per_criterion, "criterion", share)
        st.caption(
            "Per criterion, the annotators' preference is the system they scored higher (equal scores: a "
            "tie), the majority per item; the judge's one verdict is measured against each."
        )


@st.fragment
def _import_control(campaign_id: str, imported: list[str]) -> None:
    """Import (or import again) a judge found in the campaign's run folder."""
    found = campaigns.judges_in_run(store(), campaign_id)
    if not found:
        return
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    judge = left.selectbox(
        "Judge in the run folder",
        found,
        key=f"judge_import:{campaign_id}",
        format_func=lambda j: f"{j} (imported: import again)" if j in imported else j,
    )
    if right.button("Import its verdicts", key=f"judge_import_button:{campaign_id}"):
        try:
            done = campaigns.import_judge(
                store(), campaign_id, judge, imported_by=getattr(current_user(), "user_id", None)
            )
        except AnnotationError as e:
            st.error(escape_markdown(e))
            return
        st.session_state[f"judge_imported:{campaign_id}"] = (
            f"{done.imported:,} verdicts of {done.judge} imported; {done.missing:,} items without one."
        )
        st.rerun()


def judge_block(campaign_id: str, version: str, confidence: float) -> None:
    """Every imported judge's card, or how to add one."""
    st.subheader("LLM judges")
    runs = campaigns.judge_runs(store(), campaign_id)
    note = st.session_state.pop(f"judge_imported:{campaign_id}", None)
    if note:
        st.success(escape_markdown(note))
    _import_control(campaign_id, list(runs["judge"]))
    if runs.empty:
        st.caption(
            "No judge on this campaign. Run one on its run folder (`.venv/bin/python -m ft_core judge "
            "--run-dir RUN`), then import it here or with `.venv/bin/python -m annotations import-judge "
            f"--campaign {campaign_id} --judge NAME`; its verdicts stay apart from the annotators' and are "
            "measured against them here."
        )
        return
    imports = tuple(zip(runs["judge"], runs["imported_at"].astype(str)))
    judgments, verdicts, scores = _frames(campaign_id, version, imports)
    for run in runs.itertuples():
        try:
            card = judge_card(
                run.judge,
                judgments,
                verdicts[verdicts["judge"] == run.judge],
                confidence=confidence,
                scores=scores,
            )
        except AnnotationError as e:
            st.info(escape_markdown(e))
            return
        _card(card, run.summary, confidence)
