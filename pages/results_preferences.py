"""The Results page's "Preference data" block: the campaign's majority preferences as TRL preference data
(docs/preference-tuning.md), to download for preference tuning. Thin: `annotations.report.preferences`
builds the rows, this draws the options, the counts and the button. Off until asked, because it reads every
judgment."""

from __future__ import annotations

import streamlit as st

from annotations.errors import AnnotationError
from annotations.report.preferences import (
    PreferenceData,
    PreferenceOptions,
    campaign_preferences,
    preferences_zip,
)
from pages import shared
from pages.shared import store


@st.cache_data(max_entries=8, show_spinner="Reading every judgment…")
def _preferences(campaign_id: str, version: str, options: PreferenceOptions) -> PreferenceData:
    return campaign_preferences(
        store(), campaign_id, options
    )  # `version` keys the cache: new judgments, new rows


@st.fragment
def preference_block(campaign_id: str, version: str) -> None:
    """Options, what would be written and left out, and the download; redrawn alone when an option changes."""
    st.subheader("Preference data")
    if not st.toggle("Preference data for DPO / KTO", key=f"preferences:{campaign_id}", value=False):
        st.caption(
            "The pairs the annotators decided, as TRL preference data (reads every judgment). "
            "`.venv/bin/python -m annotations preferences --campaign ID --out DIR` writes the same."
        )
        return
    left, middle, right = st.columns(3)
    min_margin = left.slider("Minimum vote margin", 0.0, 1.0, 0.0, 0.05, key="preferences_margin")
    include_eval = middle.checkbox("Include evaluation-split items", key="preferences_eval")
    kto = right.checkbox("Also KTO rows", key="preferences_kto")
    options = PreferenceOptions(min_margin=min_margin, include_eval_split=include_eval, kto=kto)
    try:
        data = _preferences(campaign_id, version, options)
    except AnnotationError as e:
        st.error(str(e))
        return
    s = data.summary
    rate = "n/a" if s.disagreement_rate is None else f"{s.disagreement_rate:.1%}"
    st.write(
        f"{s.written} pairs ({'conversational' if s.conversational else 'plain prompts'}); left out: "
        f"{s.ties} "
        f"ties, {s.undecided} undecided, {s.low_margin} below the margin, {s.eval_split_left_out} from an "
        f"evaluation split. Disagreement rate (label noise): {rate}."
    )
    st.download_button(
        "Download preference data (.zip)",
        data=shared.while_signed_in(lambda: preferences_zip(data)),
        file_name=f"{campaign_id}-preferences.zip",
        mime="application/zip",
        key="download_preferences",
    )
