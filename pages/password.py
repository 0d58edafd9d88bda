"""Choose a new password: asked before anything else when the current one no longer meets the rules, and
reachable from the menu otherwise. Other sessions of the account end; this one stays."""

import streamlit as st

from annotations.accounts.users import MIN_PASSWORD_LENGTH, change_own_password
from annotations.errors import AuthError
from pages.i18n import format_number, gettext_for, ngettext_for, page_language
from pages.shared import SESSION_KEY, current_user, store

user = current_user()
con = store()
# an annotator's: the language of the campaign the annotate page shows them (pages/i18n.py)
language = page_language(con, user)
_, _n = gettext_for(language), ngettext_for(language)
length = format_number(MIN_PASSWORD_LENGTH, language)
if user is None:
    st.error(_("Please log in first."))
    st.stop()
st.title(_("New password") if user.must_change_password else _("Password"))
if user.must_change_password:
    st.warning(
        _n(
            "Your password does not meet the current rules. Please choose a new one before you go on: at "
            "least {length} character, hard to guess, and not containing your username.",
            "Your password does not meet the current rules. Please choose a new one before you go on: at "
            "least {length} characters, hard to guess, and not containing your username.",
            MIN_PASSWORD_LENGTH,
        ).format(length=length)
    )
with st.form("change_password", clear_on_submit=True):
    current = st.text_input(_("Current password"), type="password")
    new = st.text_input(
        _n(
            "New password (at least {length} character)",
            "New password (at least {length} characters)",
            MIN_PASSWORD_LENGTH,
        ).format(length=length),
        type="password",
    )
    again = st.text_input(_("New password again"), type="password")
    if st.form_submit_button(_("Change password"), type="primary"):
        if new != again:
            st.error(_("The two new passwords differ."))
        else:
            try:
                change_own_password(con, user, current, new, st.session_state.get(SESSION_KEY))
            except AuthError as e:
                st.error(str(e))
            else:
                st.session_state["password_changed"] = True
                st.rerun()
if st.session_state.pop("password_changed", False):
    st.success(_("Password changed. Your other sessions have been logged out."))
