"""The Results page's ranking block, for a campaign over three or more systems (e.g. base, SFT and DPO): the
Bradley-Terry table with intervals, the head-to-head win-rate matrix, and one sentence answering whether one
system beats another (by default system_b over system_a: did preference tuning help beyond SFT?). Thin:
`annotations.report.ranking` reads and ranks, this draws."""

from __future__ import annotations

import streamlit as st

from annotations.campaigns import campaign_config
from annotations.errors import AnnotationError
from annotations.report.ranking import campaign_ranking
from annotations.stats.ranking import Ranking
from pages.plain_text import escape_markdown
from pages.shared import store


@st.cache_data(max_entries=8, show_spinner="Ranking the systems…")
def _ranking(campaign_id: str, version: str, confidence: float) -> Ranking | None:
    return campaign_ranking(store(), campaign_id, confidence=confidence)  # `version` keys the cache


def ranking_block(campaign_id: str, version: str, confidence: float) -> bool:
    """Nothing for a two-system campaign (False); else the ranking, the matrix and the answer (True)."""
    config = campaign_config(store(), campaign_id)
    if not config.multi_system:
        return False
    st.subheader("Ranking of the systems")
    try:
        ranking = _ranking(campaign_id, version, confidence)
    except AnnotationError as e:
        st.error(escape_markdown(e))
        return True
    left, right = st.columns(2)
    systems = ranking.systems
    system = left.selectbox(
        "Is this system…", systems, index=_index(systems, config.system_b), key=f"rank_system:{campaign_id}"
    )
    others = [s for s in systems if s != system]
    opponent = right.selectbox(
        "…better than this one?",
        others,
        index=_index(others, config.system_a),
        key=f"rank_opponent:{campaign_id}",
    )
    st.markdown(escape_markdown(ranking.compare(system, opponent).sentence))
    table = ranking.table[["system", "strength", "ci_low", "ci_high", "wins", "comparisons"]]
    st.dataframe(table.round(3), hide_index=True)
    st.caption(
        f"Bradley-Terry log-strengths relative to {escape_markdown(ranking.bradley_terry.reference)} (0), "
        f"{confidence:.0%} intervals from item resamples; ties and 'both bad' count half a win each way. "
        "Below: how often the row's system beat the column's head to head (ties half)."
    )
    st.dataframe(ranking.win_rate_matrix().round(3))
    return True


def _index(options: list[str], wanted: str) -> int:
    return options.index(wanted) if wanted in options else 0
