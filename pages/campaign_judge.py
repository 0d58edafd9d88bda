"""Campaigns page, "Add a judge" (researchers only): run an LLM judge on the chosen campaign's pairs as a job
(`jobs.judging`), follow it, and find its card on Results once its verdicts are in. Annotators never see this
section, nor any judge's verdict.

Three kinds of judge: the embedded SmolLM2-135M (the default; weak, and its card says so from the numbers),
a model id or folder that `ft_core.models` loads, or an OpenAI-compatible endpoint (base URL, model name, and
the NAME of the environment variable holding its key; the key itself is never asked for nor stored).
"""

from __future__ import annotations

import duckdb
import streamlit as st

from annotations.accounts.users import User
from annotations.errors import AnnotationError
from ft_core.config import config_to_dict
from ft_core.errors import ConfigError, FtCoreError
from ft_core.judge.config import JudgeConfig
from jobs import judging, progress
from jobs.errors import JobError
from pages.plain_text import escape_markdown
from pages.shared import runs_dir, store

KINDS = {
    "embedded": "Embedded SmolLM2-135M (runs here; weak)",
    "model": "A model id or folder",
    "endpoint": "An OpenAI-compatible endpoint",
}
EMBEDDED = JudgeConfig.model  # the default: "smollm2-135m"


def judge_fields(kind: str, model: str, base_url: str, model_name: str, key_env: str, name: str) -> dict:
    """The judge's JudgeConfig fields from the form, checked by JudgeConfig itself (ConfigError, one line);
    the fields naming the pairs come from the campaign when the job starts."""
    values: dict = {"run_dir": "campaign"}  # a stand-in: the campaign gives the folder (jobs.judging.start)
    if kind == "endpoint":
        values.update(
            backend="endpoint",
            base_url=base_url.strip() or None,
            model_name=model_name.strip() or None,
            api_key_env=key_env.strip() or None,
        )
    elif kind == "model" and not model.strip():
        raise ConfigError("give the judge's model: a hub id cached here or a local folder")
    else:
        values.update(backend="local", model=model.strip() if kind == "model" else EMBEDDED)
    if name.strip():
        values["name"] = name.strip()
    config = JudgeConfig(**values)
    fields = config_to_dict(config)
    fields.pop("run_dir")
    return fields


@st.fragment(run_every=3)
def job_state(campaign_id: str) -> None:
    """The campaign's newest judging job: its progress while it runs, where its card is once it is in."""
    jobs = judging.campaign_jobs(store(), campaign_id)
    if not jobs:
        return
    job = jobs[0]
    name = judging.judge_of(job).get("name", "the judge")
    if job.status == "queued":
        st.info(escape_markdown(f"Judge {name}: waiting for a free slot (Jobs page)."))
    elif job.status == "running":
        now = progress.job_progress(job)
        st.progress(now.fraction or 0.0, text=escape_markdown(f"Judge {name}: {now.text}"))
    elif job.status == "finished":
        st.success(
            escape_markdown(
                f"Judge {name} is done and its verdicts are in: the Results page has its card for this "
                "campaign (agreement with the annotators, order flips, calibration, cost)."
            )
        )
    else:
        st.error(escape_markdown(f"Judge {name} {job.status}: {job.error or 'see its log on the Jobs page'}"))


def judge_section(con: duckdb.DuckDBPyConnection, campaign_id: str, user: User) -> None:
    """The "Add a judge" section of the Campaigns page for the chosen campaign (researchers only)."""
    if not user.is_researcher:
        return
    st.subheader("LLM judge")
    note = st.session_state.pop(f"judge_queued:{campaign_id}", None)
    if note:
        st.success(escape_markdown(note))
    job_state(campaign_id)
    with st.expander("Add a judge"):
        st.caption(
            "The judge compares the campaign's two outputs of every item in both orders; its verdicts "
            "stay apart from the annotators' (no annotator sees them, no human statistic changes) and are "
            "measured against them on Results. The embedded judge is weak (135M parameters): for a strong "
            "one, give a bigger model on a GPU or an endpoint."
        )
        kind = st.radio(
            "Judge", list(KINDS), format_func=KINDS.get, horizontal=True, key=f"judge_kind:{campaign_id}"
        )
        model = base_url = model_name = key_env = ""
        if kind == "model":
            model = st.text_input(
                "Model id or folder",
                key=f"judge_model:{campaign_id}",
                help="A hub id already cached here, or a local folder; loaded on the GPU when there is one.",
            )
        if kind == "endpoint":
            base_url = st.text_input(
                "Base URL", placeholder="http://localhost:8000/v1", key=f"judge_url:{campaign_id}"
            )
            model_name = st.text_input("Model name", key=f"judge_model_name:{campaign_id}")
            key_env = st.text_input(
                "Key variable (its NAME)",
                placeholder="OPENAI_API_KEY",
                key=f"judge_key_env:{campaign_id}",
                help="The name of the environment variable that holds the key where the app runs; empty "
                "for a server without a key. The key itself is never stored.",
            )
        name = st.text_input(
            "Judge name (optional)", key=f"judge_name:{campaign_id}", help="Its folder and its card's title."
        )
        if st.button("Run the judge", key=f"judge_start:{campaign_id}"):
            try:
                fields = judge_fields(kind, model, base_url, model_name, key_env, name)
                job = judging.start(con, campaign_id, runs_dir(), fields)
            except (AnnotationError, JobError, FtCoreError, OSError) as e:
                st.error(escape_markdown(str(e).splitlines()[0] if str(e) else type(e).__name__))
                return
            st.session_state[f"judge_queued:{campaign_id}"] = (
                f"Judge {fields['name']} {'started' if job.status == 'running' else 'queued'}; this section "
                "follows it, and the Jobs page shows its log."
            )
            st.rerun()
