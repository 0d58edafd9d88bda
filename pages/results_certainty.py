"""The Results page's "Certainty" block: the prediction-powered win rate with an imported judge's probability
(or a stored automatic score difference) as the proxy, beside the human-only interval, and whether the
campaign may stop (the anytime-valid confidence sequence). Thin: `annotations.stats.certainty` computes, this
draws. It reads every judgment (the rest of the page reads only what it shows), so it is on by default only
up to `ON_UP_TO` judgments."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotations.campaigns import campaign_config, judge_verdicts_frame
from annotations.campaigns.active_selection import active_draws_frame
from annotations.errors import AnnotationError
from annotations.report import load_campaign
from annotations.stats import percent_label
from annotations.stats.certainty import certainty, proxy_choices
from pages.plain_text import escape_markdown
from pages.shared import store

NO_PROXY = "(none: humans only)"
# On by default up to this many judgments: certainty() took 0.08 / 0.15 / 0.42 / 1.4 s at 200 / 2,000 /
# 5,000 / 20,000 (docs/benchmarks.md, "Figures behind choices in the code").
ON_UP_TO = 5_000


@st.cache_data(max_entries=8, show_spinner="Reading every judgment…")
def _frames(campaign_id: str, version: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    data = load_campaign(store(), campaign_id)
    return data.judgments, data.metrics, judge_verdicts_frame(store(), campaign_id)


@st.fragment
def certainty_block(
    campaign_id: str, version: str, confidence: float, n_judgments: int | None = None
) -> None:
    """The block, in its own fragment: changing the proxy redraws only this. δ is the campaign's. On at the
    first visit when the campaign has at most `ON_UP_TO` judgments (`n_judgments`)."""
    st.subheader("Certainty")
    small = n_judgments is not None and n_judgments <= ON_UP_TO
    if not st.toggle(
        "Prediction-powered interval and when to stop", key=f"certainty:{campaign_id}", value=small
    ):
        st.caption(
            "Uses an LLM judge's probability or an automatic score on every item to narrow the human "
            "interval, and says whether the campaign may stop (reads every judgment)."
            + (
                ""
                if small
                else f" Off at first for campaigns of more than {ON_UP_TO:,} judgments, where reading them "
                "all takes a second or more; turn it on to compute."
            )
        )
        return
    judgments, metrics, judges = _frames(campaign_id, version)
    draws = active_draws_frame(store(), campaign_id)  # humans where the judge is unsure: weighted by 1 / pi
    names = (
        proxy_choices(metrics, judges) + [NO_PROXY] if draws.empty else [f"judge '{draws['judge'].iloc[0]}'"]
    )
    proxy = st.selectbox(
        "Proxy (a judge's probability or an automatic score difference)"
        if draws.empty
        else "Proxy (the judge that chose the items)",
        names,
        key="certainty_proxy" if draws.empty else "certainty_judge",
        disabled=not draws.empty,
    )
    if draws.empty:
        st.caption(
            "The proxy offered first is fixed before any result is seen: the first imported judge, else the "
            "first automatic score. Choosing the proxy that narrows the interval most would void its "
            "coverage."
        )
    delta = campaign_config(store(), campaign_id).equivalence_margin
    try:
        r = certainty(
            judgments,
            metrics,
            proxy,
            delta,
            confidence,
            use_proxy=proxy != NO_PROXY,
            active_draws=draws,
            judges=judges,
        )
    except AnnotationError as e:
        st.info(escape_markdown(e))
        return
    share = percent_label(confidence)
    (st.success if r.decision.may_stop else st.info)(escape_markdown(r.decision.message))
    if draws.empty:  # the sequence assumes items in a random order, not the judge's hard ones first
        st.caption(
            f"{share} confidence sequence of the win rate after {r.n_items:,} items: {r.sequence_low:.1%} – "
            f"{r.sequence_high:.1%} (Waudby-Smith & Ramdas 2024), equivalence margin ±δ = {delta:g}, the "
            "campaign's own setting (Campaigns page). It stays valid however often anyone looks and whenever "
            "the campaign stops; changing the question (the pair, the tie rule, δ) after looking is not "
            "covered, which is why δ is set on the campaign, before the results are seen, and not here."
        )
    if r.ppi is None:
        st.caption(escape_markdown(r.ppi_sentence))
        return
    p = r.ppi
    with st.container(horizontal=True, gap="large"):
        st.metric(
            f"Prediction-powered {share} interval", f"{p.ci_low:.1%} – {p.ci_high:.1%}", width="content"
        )
        st.metric(
            f"Human-only {share} interval", f"{p.human_ci_low:.1%} – {p.human_ci_high:.1%}", width="content"
        )
        st.metric("λ (weight of the proxy)", f"{p.lam:.2f}", width="content")
        st.metric(
            "Effective human judgments", f"{p.effective_n:,.0f} (of {p.n_labelled:,} items)", width="content"
        )
    (st.warning if r.ppi_sentence.startswith("Warning") else st.caption)(escape_markdown(r.ppi_sentence))
    if r.ppi_sequence is not None and draws.empty:
        q = r.ppi_sequence
        st.caption(
            f"Anytime-valid with the proxy: the prediction-powered {share} confidence sequence after "
            f"{len(q.lower):,} items is {q.lower[-1]:.1%} – {q.upper[-1]:.1%} (valid at every look, like the "
            "human-only sequence above; it also pays for not knowing the proxy's mean exactly, so it narrows "
            "less than the interval above)."
        )
    plan = r.plan
    if plan is not None:
        with_proxy = (
            "not within this campaign's items"
            if plan.items_with_proxy is None
            else f"{plan.items_with_proxy:,}"
        )
        st.caption(
            f"For a {share} interval of ±{plan.target_half_width:.0%}: about {with_proxy} human-judged items "
            f"with the proxy on all {plan.total_items:,} items, {plan.items_human_only:,} without it (from "
            "the current data)."
        )
