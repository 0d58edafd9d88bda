"""The Campaigns page's "Crowd study" section: open a campaign as a study for Prolific, MTurk or a generic
panel, get its link (shown once: only the secret's hash is stored), and follow each participant's phases.
Thin: annotations.crowd opens the study and reads the outcomes. Participant ids are personal data: they are
shown here, to researchers, and nowhere an annotator can reach. docs/crowd.md walks through it."""

from __future__ import annotations

import duckdb
import streamlit as st

from annotations.accounts.users import User
from annotations.crowd import (
    StudyConfig,
    close_study,
    open_study,
    participant_outcomes,
    read_training,
    study_link,
)
from annotations.crowd.outcomes import participant_ids
from annotations.crowd.studies import studies_frame
from annotations.errors import AnnotationError
from pages.plain_text import escape_markdown

PLATFORM_NAMES = {"prolific": "Prolific", "mturk": "MTurk", "generic": "Another panel"}


def _app_url() -> str:
    try:
        url = st.context.url or ""
    except AttributeError:
        url = ""
    return url.split("?")[0].rsplit("/", 1)[0] if url.count("/") > 2 else "https://YOUR-APP"


def crowd_section(con: duckdb.DuckDBPyConnection, campaign_id: str, user: User) -> None:
    """The studies of one campaign, their participants, and the form that opens a new one."""
    st.subheader("Crowd study")
    opened = st.session_state.pop(f"crowd_opened:{campaign_id}", None)
    if opened:
        st.success("Study opened. Paste this link into the panel (it is shown only now; keep it private):")
        st.code(opened, language=None, wrap_lines=True)
    studies = studies_frame(con, campaign_id)
    if not studies.empty:
        st.dataframe(studies, hide_index=True)
        outcomes = participant_outcomes(con, campaign_id)
        if not outcomes.empty:
            st.caption("Participants: each phase's outcome, silent gold items and attention checks.")
            st.dataframe(outcomes, hide_index=True)
            with st.expander("Participant ids (personal data: researchers only)"):
                st.dataframe(participant_ids(con, campaign_id), hide_index=True)
        still_open = studies.query("status == 'open'").study_id.tolist()
        if still_open:
            to_close = st.selectbox("Study", still_open, key=f"crowd_close_pick:{campaign_id}")
            if st.button("Close it to new participants", key=f"crowd_close:{campaign_id}"):
                close_study(con, to_close)
                st.rerun()
    platform = st.radio(
        "Panel",
        list(PLATFORM_NAMES),
        format_func=PLATFORM_NAMES.get,
        horizontal=True,
        key=f"crowd_platform:{campaign_id}",
    )
    with st.form(f"crowd:{campaign_id}"):
        id_parameter = "PROLIFIC_PID"
        completion_url = ""
        if platform == "generic":
            left, right = st.columns(2)
            id_parameter = left.text_input("Parameter holding the participant id", value="pid")
            completion_url = right.text_input(
                "Completion URL (optional, {code} is filled in)",
                placeholder="https://panel.example/done?code={code}",
            )
        consent = st.text_area("Consent text (shown first; declining ends with the screen-out code)")
        left, right = st.columns(2)
        completion_code = left.text_input("Completion code (from the panel)")
        screen_out_code = right.text_input("Screen-out code (optional)")
        training_file = st.file_uploader(
            "Training items (CSV or YAML: item_id, gold, explanation; gold is A, B, a system, tie or "
            "both_bad)",
            type=["csv", "yaml", "yml"],
        )
        a, b, c, d = st.columns(4)
        qualification = a.number_input("Training share needed (0-1)", 0.0, 1.0, 0.0, 0.05)
        quota = b.number_input("Pairs per participant (0: as assigned)", 0, 10_000, 0)
        time_limit = c.number_input("Time limit, minutes (0: none)", 0.0, 10_000.0, 0.0)
        attention_every = d.number_input("Attention check every N pairs (0: none)", 0, 1000, 10)
        base_url = st.text_input("The app's address, as participants reach it", value=_app_url())
        if st.form_submit_button("Open as a crowd study"):
            try:
                training = (
                    read_training(training_file.getvalue().decode("utf-8"), training_file.name)
                    if training_file is not None
                    else []
                )
                config = StudyConfig(
                    platform=platform,
                    id_parameter=id_parameter,
                    consent_text=consent,
                    completion_code=completion_code,
                    screen_out_code=screen_out_code,
                    completion_url=completion_url,
                    training=training,
                    qualification=float(qualification),
                    quota=int(quota) or None,
                    time_limit_minutes=float(time_limit) or None,
                    attention_every=int(attention_every),
                )
                study = open_study(con, campaign_id, config, created_by=user.user_id)
            except (AnnotationError, UnicodeDecodeError) as e:
                st.error(escape_markdown(e))
            else:
                link = study_link(base_url, study.study_id, study.secret, config)
                st.session_state[f"crowd_opened:{campaign_id}"] = link
                st.rerun()
