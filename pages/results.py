"""Placeholder: being built."""

import streamlit as st

st.header("Results")
st.info("This page is being built.")
