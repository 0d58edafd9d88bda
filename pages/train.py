"""Placeholder: being built."""

import streamlit as st

st.header("Train")
st.info("This page is being built.")
