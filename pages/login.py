"""Log in, or create an account from an invitation link (`/?invite=TOKEN`).

Logins go through the throttle (annotations/accounts/logins.py): a refused or wrong attempt shows one line
that reads the same whether or not the username exists.
"""

import streamlit as st

from annotations.accounts.logins import log_in as check_login
from annotations.accounts.users import MIN_PASSWORD_LENGTH, accept_invitation, invitation_role
from annotations.errors import AuthError
from pages.i18n import N_, format_number, gettext_for, ngettext_for, study_language
from pages.shared import client, log_in, store

ROLE_NAMES = (N_("annotator"), N_("researcher"))  # "Create your {role} account"
con = store()
language = study_language(con)
_, _n = gettext_for(language), ngettext_for(language)
st.title("Did the fine-tune help?")
invite = st.query_params.get("invite")

if invite:
    try:
        role = invitation_role(con, invite)
    except AuthError as e:
        st.error(str(e))
        st.stop()
    st.subheader(_("Create your {role} account").format(role=_(role)))
    with st.form("accept_invitation"):
        username = st.text_input(_("Username"))
        password = st.text_input(
            _n(
                "Password (at least {length} character, hard to guess, without your username)",
                "Password (at least {length} characters, hard to guess, without your username)",
                MIN_PASSWORD_LENGTH,
            ).format(length=format_number(MIN_PASSWORD_LENGTH, language)),
            type="password",
        )
        again = st.text_input(_("Password again"), type="password")
        if st.form_submit_button(_("Create account"), type="primary"):
            if password != again:
                st.error(_("The two passwords differ."))
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
    st.subheader(_("Log in"))
    with st.form("log_in"):
        username = st.text_input(_("Username"))
        password = st.text_input(_("Password"), type="password")
        if st.form_submit_button(_("Log in"), type="primary"):
            result = check_login(con, username, password, client())
            if result.user is None:
                st.error(result.message)
            else:
                log_in(result.user)
                st.rerun()
