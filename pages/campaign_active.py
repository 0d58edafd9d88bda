"""The Campaigns page's "Humans where the judge is unsure" section: once an LLM judge's verdicts are imported,
a researcher may let humans judge only about B items, drawn once where the judge is least sure. Thin:
`annotations.campaigns.active_selection` draws and stores, this asks and tells."""

from __future__ import annotations

import duckdb
import streamlit as st

from annotations.campaigns import get_campaign, judge_runs
from annotations.campaigns.active_selection import active_selection, switch_to_active
from annotations.errors import AnnotationError
from pages.plain_text import escape_markdown


def active_section(con: duckdb.DuckDBPyConnection, campaign_id: str, user_id: str) -> None:
    """The switch for one campaign, or what it drew once switched."""
    st.subheader("Humans where the judge is unsure")
    done = st.session_state.pop(f"active_done:{campaign_id}", None)
    selection = active_selection(con, campaign_id)
    if selection is not None:
        (st.success if done else st.info)(escape_markdown(selection.sentence()))
        st.caption(
            "Only the drawn items are served to annotators (gold items as before). The Certainty block on "
            "Results weighs each human label by 1 / its probability of being drawn, so its win rate stays "
            "unbiased; the other figures there describe the drawn (harder) items. The draw is kept."
        )
        return
    judges = judge_runs(con, campaign_id)["judge"].tolist()
    if not judges:
        st.caption(
            "Once an LLM judge's verdicts are imported into this campaign (.venv/bin/python -m "
            "annotations import-judge), humans can judge only the items where it is least sure."
        )
        return
    n_items = get_campaign(con, campaign_id).n_items
    with st.form(f"active:{campaign_id}"):
        left, right = st.columns(2)
        judge = left.selectbox("Judge", judges, key=f"active_judge:{campaign_id}")
        budget = right.number_input(
            "Human budget (items)",
            min_value=1,
            max_value=max(n_items, 1),
            value=max(1, n_items // 4),
            help="Expected number of items humans judge. Each item gets a probability of at least a fifth of "
            "the uniform one, higher where the judge is unsure; one draw, made now, decides. Items humans "
            "already started are kept.",
            key=f"active_budget:{campaign_id}",
        )
        if st.form_submit_button("Let humans judge only these (drawn once, kept)"):
            try:
                switch_to_active(con, campaign_id, judge, float(budget), created_by=user_id)
            except AnnotationError as e:
                st.error(escape_markdown(e))
            else:
                st.session_state[f"active_done:{campaign_id}"] = True
                st.rerun()
