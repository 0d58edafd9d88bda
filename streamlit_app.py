"""Entry point of the app: `streamlit run streamlit_app.py`."""

import streamlit as st

st.set_page_config(page_title="Did the fine-tune help?", layout="wide")
st.title("Did the fine-tune help?")
st.write("LoRA fine-tuning, automatic metrics and blind human comparisons in one loop.")
