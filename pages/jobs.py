"""Placeholder: being built."""

import streamlit as st

st.header("Jobs")
st.info("This page is being built.")
