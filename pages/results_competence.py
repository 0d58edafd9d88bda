"""The Results page's "Who counts" block: annotator competence (MACE and Dawid–Skene through crowd-kit), a
choice to keep every participant, weight each by competence or exclude those below a threshold, and to use the
adjudicated labels where they exist (pages/adjudicate.py); the verdict under that choice, and a sensitivity
table of the verdict with and without them. Also the per-participant checks (straight-lining, too fast,
position bias, and the silent checks' outcomes when the crowd entry provides them). Thin:
`annotations.stats.competence` computes, this draws. Nothing here deletes or changes a judgment.

Off at first: MACE's restarts take seconds, and it reads every judgment. Once on, its choice is part of the
page's AnalysisOptions (`who_counts_options`, read by pages/results.py before the verdict): a change here
reruns the whole page, so the headline verdict and every other figure use the same participants.

The block's own figure is computed from the judgments the page's other choices select (annotators, gold,
repeats, flagged), with this choice applied here; it equals the page's headline (item interval)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from annotations.crowd import check_outcomes
from annotations.errors import AnnotationError
from annotations.judging.adjudication import adjudications_frame
from annotations.plurals import counted
from annotations.report import load_campaign
from annotations.stats import AnalysisOptions, competence
from annotations.stats.analysis import annotator_quality, select_evidence
from pages.i18n import gettext_for
from pages.plain_text import escape_markdown
from pages.shared import store
from pages.tables import show_table

_ = gettext_for(None)  # researchers read English; the strings are wrapped so a catalog can take them

USE_LABELS = {
    "keep": _("keep everyone"),
    "weight": _("weight each participant by competence"),
    "exclude": _("exclude participants below a competence threshold"),
}


@st.cache_data(max_entries=8, show_spinner="Reading every judgment…")
def _judgments(campaign_id: str, version: str) -> pd.DataFrame:
    return load_campaign(store(), campaign_id).judgments


@st.cache_data(max_entries=8, show_spinner="Estimating annotator competence (MACE, Dawid–Skene)…")
def _competence(campaign_id: str, version: str) -> pd.DataFrame:
    return competence.competence(_judgments(campaign_id, version))


def competence_table(campaign_id: str, version: str) -> pd.DataFrame:
    """The competence table the block shows (cached), for the page's analysis to use the same one."""
    return _competence(campaign_id, version)


def _keys(campaign_id: str) -> dict[str, str]:
    return {
        "on": f"competence:{campaign_id}",
        "participants": f"competence_use:{campaign_id}",
        "competence_measure": f"competence_measure:{campaign_id}",
        "competence_threshold": f"competence_threshold:{campaign_id}",
        "use_adjudicated": f"use_adjudicated:{campaign_id}",
    }


def who_counts_options(campaign_id: str) -> dict:
    """The block's choice as AnalysisOptions fields (read from its widgets' state; none while it is off), for
    the page to build its options with."""
    keys, state = _keys(campaign_id), st.session_state
    if not state.get(keys["on"], False):
        return {}
    return {
        "participants": state.get(keys["participants"], "keep"),
        "competence_measure": state.get(keys["competence_measure"], "mace"),
        "competence_threshold": float(state.get(keys["competence_threshold"], 0.5)),
        "use_adjudicated": bool(state.get(keys["use_adjudicated"], False)),
    }


def everyone_counts(options: AnalysisOptions) -> AnalysisOptions:
    """`options` with the block's choice at its defaults: every participant, no adjudicated label."""
    return dataclasses.replace(options, participants="keep", use_adjudicated=False)


def adjudication_key(campaign_id: str, options: AnalysisOptions) -> str:
    """What the analysis' cache key adds for the adjudicated labels it uses ("" when it uses none): a new
    decision changes no judgment, so the data version alone would not see it."""
    if not options.use_adjudicated:
        return ""
    decided = _adjudications(campaign_id)
    if decided.empty:
        return ":adjudicated:0"
    return f":adjudicated:{len(decided)}:{decided['n_decisions'].sum()}:{decided['adjudicated_at'].max()}"


def analysis_inputs(campaign_id: str, version: str, options: AnalysisOptions) -> dict:
    """The adjudications and the competence table the page's analysis needs under `options`."""
    return {
        "adjudications": _adjudications(campaign_id) if options.use_adjudicated else None,
        "competence_table": competence_table(campaign_id, version)
        if options.participants != "keep"
        else None,
    }


def _adjudications(campaign_id: str) -> pd.DataFrame:
    # not cached: a decision made on the Adjudicate page shows at the next visit
    return adjudications_frame(store(), campaign_id)


@st.fragment
def competence_block(
    campaign_id: str,
    version: str,
    options: AnalysisOptions,
    names: dict[str, str] | None = None,
    checks: pd.DataFrame | None = None,
) -> None:
    """The block, in its own fragment. `checks`: per-participant outcomes of the silent checks (user_id,
    attention_passed, gold_accuracy), shown in the participant table when given."""
    st.subheader(_("Who counts: competence and adjudication"))
    if not st.toggle(
        _("Annotator competence and adjudicated labels"), key=f"competence:{campaign_id}", value=False
    ):
        if options.participants != "keep" or options.use_adjudicated:
            st.rerun()  # switched off: the whole page counts everyone again
        st.caption(
            _(
                "Estimates each participant's competence (MACE, Dawid–Skene), lets you weight or exclude the "
                "least competent or use adjudicated labels, and shows the verdict with and without them "
                "(reads every judgment; nothing is deleted)."
            )
        )
        return
    judgments = _judgments(campaign_id, version)
    try:
        # the judgments the verdict counts under the page's choices (annotators, gold, repeats, flagged)
        flagged = annotator_quality(judgments, options.thresholds) if options.exclude_flagged else None
        used = select_evidence(judgments, flagged, everyone_counts(options)).used
        table = _competence(campaign_id, version)
    except AnnotationError as e:
        st.info(escape_markdown(e))
        return
    left, right = st.columns(2)
    use = left.radio(
        _("Participants"), competence.USES, format_func=USE_LABELS.get, key=f"competence_use:{campaign_id}"
    )
    measure = left.selectbox(
        _("Competence by"),
        competence.MEASURES,
        format_func=competence.MEASURE_LABELS.get,
        key=f"competence_measure:{campaign_id}",
    )
    threshold = right.slider(
        _("Competence threshold"), 0.0, 1.0, 0.5, 0.05, key=f"competence_threshold:{campaign_id}"
    )
    decided = _adjudications(campaign_id)
    use_adjudicated = right.checkbox(
        _("Use adjudicated labels where they exist ({items})").format(items=counted(len(decided), "item")),
        key=f"use_adjudicated:{campaign_id}",
        disabled=decided.empty,
    )
    choice = {
        "participants": use,
        "competence_measure": measure,
        "competence_threshold": float(threshold),
        "use_adjudicated": bool(use_adjudicated),
    }
    if any(getattr(options, name) != value for name, value in choice.items()):
        st.rerun()  # the choice drives the page's options: the headline verdict and every figure follow it
    st.caption(
        _(
            "This choice applies to every figure on this page (the verdict above, agreement, metrics, "
            "annotators) and to the export; the table below compares the choices."
        )
    )
    system, opponent = competence.preference.default_pair(used)
    frame, weights = used, None
    if use == "weight":
        weights = competence.competence_weights(table, measure)
    elif use == "exclude":
        low = competence.below_threshold(table, measure, threshold)
        frame = used[~used["annotator_id"].astype(str).isin(low)]
        st.caption(
            _("Excluded from the verdict below (their judgments stay in the store): {who}").format(
                who=escape_markdown(", ".join((names or {}).get(a, a) for a in low) or _("nobody"))
            )
        )
    if use_adjudicated:
        frame = competence.with_adjudications(frame, decided)
    chosen = competence.weighted_win_rate(
        frame, system, opponent, weights, options.tie_policy, options.confidence
    )
    with st.container(horizontal=True, gap="large"):
        st.metric(
            _("{system} win rate, as chosen").format(system=escape_markdown(system)),
            "n/a" if chosen.win_rate is None else f"{chosen.win_rate:.1%}",
            width="content",
        )
        st.metric(
            _("{coverage} interval (items, Wilson)").format(coverage=f"{options.confidence:.0%}"),
            "n/a" if chosen.low is None else f"{chosen.low:.1%} – {chosen.high:.1%}",
            width="content",
        )
        st.metric(_("Items / participants"), f"{chosen.n_items:,} / {chosen.n_annotators:,}", width="content")
    st.markdown(_("**The verdict with and without them**"))
    sensitivity = competence.sensitivity_table(
        used,
        table,
        measure,
        threshold,
        options.tie_policy,
        options.confidence,
        adjudications=decided if not decided.empty else None,
    )
    show_table(sensitivity)
    st.markdown(_("**Participants**"))
    if checks is None:  # a crowd study's silent checks (attention, gold), when the campaign ran one
        checks = check_outcomes(store(), campaign_id)
    participants = competence.participant_table(judgments, table, None if checks.empty else checks)
    order = ["annotator_id", "n_judgments", "flags", "mace", "dawid_skene", "same_side", "same_side_share"]
    order += ["same_system", "same_system_share", "fast_share", "median_s", "left_share", "left_p"]
    order += [c for c in competence.CHECK_COLUMNS if c in participants.columns]
    show_table(participants, names=names, column_order=order, labels=competence.MEASURE_LABELS)
    st.caption(
        _(
            "MACE: the probability that a participant labels by knowledge rather than at random (Hovy et al. "
            "2013); Dawid–Skene: the participant's accuracy under the fitted confusion matrices (1979). "
            "Straight-lining: one side clicked throughout (sides are random)."
        )
    )
