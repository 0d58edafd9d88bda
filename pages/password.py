"""Choose a new password: asked before anything else when the current one no longer meets the rules, and
reachable from the menu otherwise. Other sessions of the account end; this one stays."""

import streamlit as st

from annotations.errors import AuthError
from annotations.users import MIN_PASSWORD_LENGTH, change_own_password
from pages.i18n import gettext_for, study_language
from pages.shared import SESSION_KEY, current_user, store

user = current_user()
con = store()
_ = gettext_for("en" if user is not None and user.is_researcher else study_language(con))
if user is None:
    st.error(_("Please log in first."))
    st.stop()
st.title(_("New password") if user.must_change_password else _("Password"))
if user.must_change_password:
    st.warning(
        _(
            "Your password does not meet the current rules. Please choose a new one before you go on: at least "
            "{length} characters, hard to guess, and not containing your username."
        ).format(length=MIN_PASSWORD_LENGTH)
    )
with st.form("change_password", clear_on_submit=True):
    current = st.text_input(_("Current password"), type="password")
    new = st.text_input(
        _("New password (at least {length} characters)").format(length=MIN_PASSWORD_LENGTH), type="password"
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
