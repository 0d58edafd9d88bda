"""Users (researchers): accounts, roles, one-use invitation links, and recent login attempts (failures,
locks, and the Unlock button that lifts a lock at once)."""

import streamlit as st

from annotations.accounts.logins import locked_usernames, recent_attempts, unlock
from annotations.accounts.users import (
    MIN_PASSWORD_LENGTH,
    ROLES,
    create_invitation,
    create_user,
    list_invitations,
    list_users,
    set_active,
)
from annotations.errors import AuthError
from annotations.plurals import counted
from pages.plain_text import escape_markdown
from pages.shared import require_role, store
from pages.tables import show_table

user = require_role("researcher")
con = store()
st.title("Users")

accounts = list_users(con)
names = dict(zip(accounts.user_id, accounts.username))  # who created an account: a username, not an id
show_table(accounts, names=names, width="stretch")

create_col, invite_col = st.columns(2)
with create_col:
    st.subheader("Create an account")
    with st.form("create_user", clear_on_submit=True):
        username = st.text_input("Username")
        password = st.text_input(
            f"Password (at least {MIN_PASSWORD_LENGTH} characters, hard to guess, without the username)",
            type="password",
        )
        role = st.selectbox("Role", ROLES)
        if st.form_submit_button("Create account", type="primary"):
            try:
                created = create_user(con, username.strip(), password, role, created_by=user.user_id)
            except AuthError as e:
                st.error(escape_markdown(e))
            else:
                st.success(
                    escape_markdown(f"Created {created.role} '{created.username}' ({created.user_id}).")
                )

with invite_col:
    st.subheader("Invitation link")
    invite_role = st.selectbox("Role of the new account", ROLES, key="invite_role")
    days = st.number_input("Valid for (days)", min_value=1, value=7, key="invite_days")
    if st.button("Make a link", key="make_invite"):
        token = create_invitation(con, invite_role, created_by=user.user_id, valid_days=float(days))
        base = (st.context.url or "http://localhost:8501").split("?")[0].rstrip("/")
        base = base.rsplit("/users", 1)[0] if base.endswith("/users") else base
        st.session_state["invite_link"] = f"{base}/?invite={token}"
    if st.session_state.get("invite_link"):
        st.code(st.session_state["invite_link"], language=None)
        st.caption(
            "One use; send it to the person. It opens a form where they choose a username and password."
        )
    invitations = list_invitations(con)
    if len(invitations):
        with st.expander("Invitations"):
            show_table(  # the store keeps only each link's hash: the link is shown once, when made
                invitations, names=names, labels={"invitation": "Invitation"}, empty_note="not used yet"
            )

st.subheader("Disable an account")
others = accounts[accounts.user_id != user.user_id]
if others.empty:
    st.caption("No other account.")
else:
    target = st.selectbox(
        "Account",
        others.user_id.tolist(),
        format_func=dict(zip(others.user_id, others.username)).get,
        key="disable_target",
    )
    active = bool(others.set_index("user_id").loc[target, "active"])
    if st.button("Disable" if active else "Enable", key="toggle_active"):
        set_active(con, target, not active)
        st.rerun()

st.subheader("Login attempts")
locked = locked_usernames(con)
if len(locked):
    st.warning(
        f"{counted(len(locked['username_key'].unique()), 'username')} locked after repeated failures, each "
        "from the addresses listed only (canonical form; the same name from any other address still logs "
        "in):"
    )
    show_table(locked, width="stretch")
    with st.container(horizontal=True):
        to_unlock = st.selectbox("Username", sorted(locked["username_key"].unique()), key="unlock_target")
        if st.button("Unlock", key="unlock"):
            unlock(con, to_unlock, unlocked_by=user.user_id)
            st.session_state["unlocked"] = to_unlock
            st.rerun()
if st.session_state.get("unlocked"):
    unlocked = st.session_state.pop("unlocked")
    st.success(escape_markdown(f"Unlocked '{unlocked}': its failures so far no longer count."))
attempts = recent_attempts(con)
failures = attempts[attempts.outcome == "failure"]
st.caption(
    f"{len(failures)} failed of the last {len(attempts)} attempts. Usernames are shown as typed; clients are "
    "addresses ('local' on this machine)."
)
show_table(attempts, width="stretch")
