"""Entry point of the app: `streamlit run streamlit_app.py`.

This file plays two parts. `streamlit run` finds the `st.App` below and imports the file as a module to build
the web server (pages/server.py: the routes that set the HttpOnly session cookie, and the store opened before
the first request, so a second app on a held DuckDB file stops with one line). The server then runs this same
file as the app's script for every visitor (`__name__ == "__main__"`): the login gate, then navigation by
role. Researchers see every page, annotators only Annotate; each page also checks the role itself
(`pages.shared.require_role`), so typing a page's URL cannot get around the menu. An account whose password no
longer meets the rules sees only the page that asks for a new one.

Environment: FT_APP_DB (DuckDB file, default data/app.duckdb), FT_RUNS_DIR (run folders, default runs/),
FT_ADMIN_PASSWORD (password of the `admin` researcher created on the first start; random and printed once when
unset); sessions and the login throttle: FT_SESSION_* (annotations/accounts/sessions.py), FT_LOGIN_* and
FT_TRUST_PROXY (annotations/accounts/logins.py), FT_PASSWORD_MIN_SCORE (annotations/accounts/users.py). The
README lists them.
"""

import streamlit as st

if __name__ != "__main__":  # imported by `streamlit run` (or an ASGI server) to build the web server
    from pages import server

    server.proxy_headers_only_when_trusted()
    server.open_store_or_exit()
    server.navigation_only()
    server.one_blas_thread()
    server.system_allocator_for_arrow()
    server.warm_imports()
    app = st.App(__file__, routes=server.ROUTES, middleware=server.MIDDLEWARE)


def main() -> None:
    from annotations.campaigns import judge_folder, source_scores
    from annotations.crowd.participants import is_crowd_account
    from annotations.errors import StoreError
    from jobs import campaign_scores, judging
    from jobs.scheduler import ensure_watcher
    from pages.i18n import gettext_for, page_language
    from pages.shared import cookie_exchange, current_user, log_out, store

    st.set_page_config(page_title="Did the fine-tune help?", layout="wide")
    # A campaign's scoring job reads the campaign and stores its scores: campaigns' work, which jobs/ may not
    # import, so the app hands the two steps over before its watcher settles any job.
    campaign_scores.connect(source_scores.prepare_scoring, source_scores.store_scores)
    judging.connect(judge_folder.prepare_judging, judge_folder.store_judging)  # the same for judges
    try:
        # Open the store (migrations, the first researcher account printed to the terminal) and start the
        # thread that launches queued jobs and settles finished ones, so an app restart picks its jobs up at
        # once.
        ensure_watcher(store())
    except StoreError:
        st.error(
            "The study's data store is in use by another program. Please tell the person who runs this app."
        )
        st.stop()

    user = current_user()
    cookie_exchange()
    if st.query_params.get("study") or (user is not None and is_crowd_account(user.username)):
        # A study link, or a participant it admitted: the study page alone, without menu or logout (a
        # participant's account has no password; its session is the only way back in, docs/crowd.md).
        st.navigation([st.Page("pages/study.py", title="Study", default=True)], position="hidden").run()
        return
    # Annotators read the menu in the language of the campaign their annotate page shows (pages/i18n.py);
    # researchers in English.
    _ = gettext_for(page_language(store(), user))
    if user is not None:
        # Before st.navigation: the same widget on every page (its id does not depend on the page shown).
        with st.sidebar:
            # text, not Markdown: names are user input
            st.text(_("Logged in as {username} ({role})").format(username=user.username, role=_(user.role)))
            if st.button(_("Log out"), key="log_out"):
                log_out()
                st.rerun()
    if user is None:
        page = st.navigation(
            [st.Page("pages/login.py", title=_("Log in"), icon=":material/login:", default=True)],
            position="hidden",
        )
    elif user.must_change_password:
        page = st.navigation(
            [st.Page("pages/password.py", title=_("New password"), icon=":material/key:", default=True)],
            position="hidden",
        )
    else:
        annotate = st.Page(
            "pages/annotate.py",
            title=_("Annotate"),
            icon=":material/rate_review:",
            default=not user.is_researcher,
        )
        password = st.Page("pages/password.py", title=_("Password"), icon=":material/key:")
        if user.is_researcher:
            pages = {
                "Study": [
                    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
                    st.Page("pages/campaigns.py", title="Campaigns", icon=":material/fact_check:"),
                    annotate,
                    st.Page("pages/results.py", title="Results", icon=":material/insights:"),
                    st.Page("pages/adjudicate.py", title="Adjudicate", icon=":material/gavel:"),
                    st.Page("pages/users.py", title="Users", icon=":material/group:"),
                    st.Page("pages/backups.py", title="Backups", icon=":material/backup:"),
                ],
                "Models": [
                    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
                    st.Page("pages/jobs.py", title="Jobs", icon=":material/work_history:"),
                    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
                ],
                "Account": [password],
            }
        else:
            pages = [annotate, password]
        page = st.navigation(pages)
    page.run()


if __name__ == "__main__":
    main()
