"""Log in, or create an account from an invitation link (`/?invite=TOKEN`).

Logins go through the throttle (annotations/logins.py): a refused or wrong attempt shows one line that reads the
same whether or not the username exists.
"""

import streamlit as st

from annotations.errors import AuthError
from annotations.logins import log_in as check_login
from annotations.users import MIN_PASSWORD_LENGTH, accept_invitation, invitation_role
from pages.shared import client, log_in, store

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
        password = st.text_input(
            f"Password (at least {MIN_PASSWORD_LENGTH} characters, hard to guess, without your username)",
            type="password",
        )
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
            result = check_login(con, username, password, client())
            if result.user is None:
                st.error(result.message)
            else:
                log_in(result.user)
                st.rerun()
