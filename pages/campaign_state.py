"""A campaign's sequential state on the Campaigns page, beside its progress: whether it may stop (the
anytime-valid confidence sequence at the campaign's own equivalence margin), why it closed when it closed
itself, its two stopping settings, and the planner (human-judged items for a target interval, with and
without the proxy). Thin: `annotations.judging.stopping` computes, this draws; the campaign form draws the
planner's figure before any human data (`planner_before_data`)."""

from __future__ import annotations

import dataclasses

import streamlit as st

from annotations.campaigns import CampaignConfig, campaign_config
from annotations.campaigns.queries import campaign_status, set_stopping_rule
from annotations.errors import AnnotationError
from annotations.fields import widget_bounds
from annotations.judging import stopping
from annotations.report import data_version
from annotations.stats.power import HumanItemsPlan, human_items_needed
from pages.plain_text import escape_markdown

_REOPENED = "campaign_reopened"
DEFAULT_TARGET = 0.05  # the planner's default half-width of the win rate's interval


@st.cache_data(max_entries=16, show_spinner="Reading every judgment…")
def _state(_con, campaign_id: str, version: str, target: float, rule: tuple) -> stopping.CampaignState:
    """Read again when a judgment, a score, the target or the stopping rule changes."""
    return stopping.campaign_state(_con, campaign_id, target)


def reopen_campaign(con, campaign_id: str) -> None:
    """The Reopen button's action: open it again (one that closed itself stops closing itself; said after the
    rerun)."""
    st.session_state[_REOPENED] = stopping.reopen(con, campaign_id)


def campaign_state_view(con, campaign_id: str) -> None:
    """The state sentence, the closing reason, the stopping settings and the planner of one campaign."""
    if st.session_state.get(_REOPENED):
        st.success(escape_markdown(st.session_state.pop(_REOPENED)))
    status = campaign_status(con, campaign_id)
    if status.status == "closed" and status.reason:
        st.caption(escape_markdown(f"Closed: {status.reason}."))
    target = float(
        st.number_input(
            "Planner: half-width of the win rate's 95% interval",
            min_value=0.01,
            max_value=0.25,
            value=DEFAULT_TARGET,
            step=0.01,
            key=f"plan_target:{campaign_id}",
            help="How precise the verdict should be: the planner says how many human-judged items that "
            "takes.",
        )
    )
    config = campaign_config(con, campaign_id)
    rule = (config.equivalence_margin, config.close_when_decided)
    state = _state(con, campaign_id, data_version(con, campaign_id), target, rule)
    if state.certainty is None:
        st.info(escape_markdown(f"Keep going — {state.reason}."))
    else:
        decision = state.certainty.decision
        (st.success if decision.may_stop else st.info)(
            escape_markdown(f"After {state.certainty.n_items:,} items: {decision.message}")
        )
    st.caption(
        f"95% confidence sequence of the win rate at the campaign's equivalence margin ±δ = "
        f"{state.equivalence_margin:g} (Waudby-Smith & Ramdas 2024): every look is valid, so it may be read "
        "after every item and the campaign stopped once it is decided; changing the question after looking "
        "(the pair, δ) is not covered."
    )
    result = state.certainty
    st.caption(
        escape_markdown(
            planner_sentence(state.plan, result and result.proxy, result.ppi_sentence if result else None)
        )
    )
    _settings(con, campaign_id, state)


def planner_sentence(plan: HumanItemsPlan, proxy: str | None = None, why_no_proxy: str | None = None) -> str:
    """The planner's figures in a sentence; `why_no_proxy` says why there is no figure with a proxy."""
    width = f"±{plan.target_half_width:.0%}"
    if plan.conservative:
        return (
            f"No human data to plan from yet: a 95% interval of {width} needs about "
            f"{plan.items_human_only:,} human-judged items at most (the spread of a coin flip, p = 1/2, the "
            "largest there is); what an automatic score saves as a proxy is known once humans have judged a "
            "few items."
        )
    sentence = (
        f"For a 95% interval of {width}: about {plan.items_human_only:,} human-judged items without a proxy "
        f"(from the {plan.n_judged:,} judged so far)"
    )
    if plan.items_with_proxy is None:
        return f"{sentence}. {why_no_proxy or 'No automatic score to use as a proxy.'}"
    return (
        f"{sentence}, about {plan.items_with_proxy:,} with the {proxy or 'proxy'} score on every item (it "
        f"was worth {plan.variance_ratio:.2f} human judgments per judged item on the current data)."
    )


def planner_before_data(where=st) -> None:
    """The planner where a campaign is created: no human data yet, so the conservative human-only figure."""
    where.caption(escape_markdown(planner_sentence(human_items_needed(DEFAULT_TARGET))))


def _settings(con, campaign_id: str, state: stopping.CampaignState) -> None:
    """The campaign's two stopping settings, editable here (and only here: Results shows them)."""
    (margin_field,) = [f for f in dataclasses.fields(CampaignConfig) if f.name == "equivalence_margin"]
    low, high = widget_bounds(margin_field.metadata)
    with st.form(f"stopping:{campaign_id}"):
        margin_col, close_col = st.columns(2)
        margin = margin_col.number_input(
            "Equivalence margin ±δ (win rate)",
            min_value=float(low),
            max_value=float(high),
            value=float(state.equivalence_margin),
            step=0.01,
            key=f"margin:{campaign_id}",
            help="Set it before looking at the results: changing it after looking changes the question, "
            "which the guarantee does not cover.",
        )
        close = close_col.checkbox(
            "Close by itself when decided",
            value=state.close_when_decided,
            key=f"close_when_decided:{campaign_id}",
        )
        if st.form_submit_button("Save the stopping rule"):
            try:
                set_stopping_rule(
                    con, campaign_id, equivalence_margin=float(margin), close_when_decided=close
                )
            except AnnotationError as e:
                st.error(escape_markdown(e))
                return
            st.rerun()
