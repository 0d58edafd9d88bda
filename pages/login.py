"""Log in, or create an account from an invitation link (`/?invite=TOKEN`)."""

import streamlit as st

from annotations.errors import AuthError
from annotations.users import accept_invitation, authenticate, invitation_role
from pages.shared import log_in, store

st.title("Did the fine-tune help?")
con = store()
invite = st.query_params.get("invite")

if invite:
    try:
        role = invitation_role(con, invite)
    except AuthError as e:
        st.error(str(e))
        st.stop()
    st.subheader(f"Create your {role} account")
    with st.form("accept_invitation"):
        username = st.text_input("Username")
        password = st.text_input("Password (at least 8 characters)", type="password")
        again = st.text_input("Password again", type="password")
        if st.form_submit_button("Create account", type="primary"):
            if password != again:
                st.error("The two passwords differ.")
            else:
                try:
                    user = accept_invitation(con, invite, username.strip(), password)
                except AuthError as e:
                    st.error(str(e))
                else:
                    st.query_params.clear()
                    log_in(user)
                    st.rerun()
else:
    st.subheader("Log in")
    with st.form("log_in"):
        username = st.text_input("Username")
        password = st.text_input("Password", type="password")
        if st.form_submit_button("Log in", type="primary"):
            try:
                user = authenticate(con, username, password)
            except AuthError as e:
                st.error(str(e))
            else:
                log_in(user)
                st.rerun()
