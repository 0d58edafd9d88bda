"""Entry point of the app: `streamlit run streamlit_app.py`.

A login gate, then navigation by role: researchers see every page, annotators only Annotate. Each page also
checks the role itself (`pages.shared.require_role`), so typing a page's URL cannot get around the menu.
Environment: FT_APP_DB (DuckDB file, default data/app.duckdb), FT_RUNS_DIR (run folders, default runs/),
FT_ADMIN_PASSWORD (password of the `admin` researcher created on the first start; random and printed once when
unset).
"""

import streamlit as st

from annotations.jobs import ensure_watcher
from pages.plain_text import escape_markdown
from pages.shared import current_user, log_out, store

st.set_page_config(page_title="Did the fine-tune help?", layout="wide")
# Open the store at start (migrations, and the first researcher account printed to the terminal), and start the
# thread that launches queued jobs and settles finished ones, so an app restart picks its jobs up at once.
ensure_watcher(store())

user = current_user()
if user is None:
    page = st.navigation(
        [st.Page("pages/login.py", title="Log in", icon=":material/login:", default=True)], position="hidden"
    )
else:
    annotate = st.Page(
        "pages/annotate.py", title="Annotate", icon=":material/rate_review:", default=not user.is_researcher
    )
    if user.is_researcher:
        pages = {
            "Study": [
                st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
                st.Page("pages/campaigns.py", title="Campaigns", icon=":material/fact_check:"),
                annotate,
                st.Page("pages/results.py", title="Results", icon=":material/insights:"),
                st.Page("pages/users.py", title="Users", icon=":material/group:"),
            ],
            "Models": [
                st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
                st.Page("pages/jobs.py", title="Jobs", icon=":material/work_history:"),
                st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
            ],
        }
    else:
        pages = [annotate]
    page = st.navigation(pages)
    with st.sidebar:
        st.caption(f"Logged in as **{escape_markdown(user.username)}** ({user.role})")
        if st.button("Log out", key="log_out"):
            log_out()
            st.rerun()
page.run()
