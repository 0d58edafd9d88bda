"""Researcher home: where the study stands (minimal; the team lead extends it)."""

import streamlit as st

from annotations.campaigns import list_campaigns
from pages.shared import require_role, store

require_role("researcher")
st.title("Did the fine-tune help?")
st.write("LoRA fine-tuning, automatic metrics and blind human comparisons in one loop.")
campaigns = list_campaigns(store())
st.metric("Campaigns", len(campaigns))
if len(campaigns):
    st.dataframe(
        campaigns[["name", "system_a", "system_b", "k", "n_items", "n_judgments", "status"]], hide_index=True
    )
else:
    st.info("No campaign yet: create one on the Campaigns page from a run folder or a CSV/JSONL of outputs.")
