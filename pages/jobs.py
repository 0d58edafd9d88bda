"""Jobs (researchers): every training, generation and scoring job, live.

Jobs are separate processes tracked in the store (the `jobs` package); this page only reads their state every
two seconds (a fragment), so closing or reloading the browser never touches a job. A running job shows its
progress and time left, live loss and eval curves, tokens/s and GPU memory; a failed one its error and the end
of its log.
"""

from __future__ import annotations

import streamlit as st

from annotations.campaigns import runs
from annotations.errors import AnnotationError
from jobs import commands, logs, machine, progress, queue, scheduler
from jobs.errors import JobError
from pages.curve_chart import curve_chart
from pages.plain_text import escape_markdown
from pages.shared import link, require_role, runs_dir, signed_in, store

require_role("researcher")
con = store()
scheduler.ensure_watcher(con)
st.title("Jobs")


ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/play_circle:",
    "finished": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
    "skipped": ":material/skip_next:",
}


@st.cache_data(ttl=5, show_spinner=False)
def gpu_memory():
    return machine.gpu_memory()


def show_progress(job: queue.Job) -> None:
    """Progress bar, time left, live figures and curves of a running job."""
    if job.kind == "train" and job.run_dir:
        trained = runs.train_progress(job.run_dir)
        st.progress(trained.fraction or 0.0, text=escape_markdown(trained.text))
        cols = st.columns(4)
        cols[0].metric("Train loss", "–" if trained.loss is None else f"{trained.loss:.4f}")
        cols[1].metric("Eval loss", "–" if trained.eval_loss is None else f"{trained.eval_loss:.4f}")
        cols[2].metric("Tokens/s", "–" if trained.tokens_per_s is None else f"{trained.tokens_per_s:,.0f}")
        if trained.gpu_mem_gb is not None:
            cols[3].metric("GPU memory (peak)", f"{trained.gpu_mem_gb:.1f} GiB")
        curves = runs.curves({job.label or job.job_id: job.run_dir})
        if len(curves):
            st.altair_chart(curve_chart(curves), width="stretch")
    elif job.kind == "sweep" and job.run_dir:
        members = runs.sweep_members(job.run_dir)
        total = commands.sweep_size(job.command) or max(len(members), 1)
        done = int((members.state == "finished").sum()) if len(members) else 0
        running = members[members.state == "running"] if len(members) else members
        text = f"{done}/{total} runs finished"
        if len(running):
            current = runs.train_progress(running.path.iloc[0])
            text += f"; {running.run.iloc[0]}: {current.text}"
        st.progress(min(1.0, done / total), text=escape_markdown(text))
        if len(members):
            st.dataframe(members[["run", "state", "best_eval_loss"]], hide_index=True)
    else:  # in words (generation: every outputs file, base and fine-tuned); the log file keeps the raw lines
        now = progress.job_progress(job)
        st.progress(now.fraction or 0.0, text=escape_markdown(now.text))


def _ask(job_id: str | None) -> None:
    """Button callback: show (or, with None, drop) the cancel question of a job."""
    st.session_state["confirm_cancel"] = job_id


def _cancel(job_id: str) -> None:
    """Button callback, after the question was answered yes (callbacks run before the page is drawn)."""
    st.session_state["confirm_cancel"] = None
    try:
        scheduler.cancel(con, job_id)
    except (AnnotationError, JobError) as e:
        st.session_state["cancel_error"] = str(e)


def confirm_cancel(job: queue.Job) -> None:
    """Ask before cancelling: name the job and its chain, and which jobs after it will be skipped."""
    try:
        plan = scheduler.cancel_plan(con, job.job_id)
    except (AnnotationError, JobError) as e:
        st.error(escape_markdown(e))
        return
    st.warning(escape_markdown(plan.question()))
    yes, no = st.columns(2)
    yes.button(
        "Yes, cancel it",
        key=f"confirm_{job.job_id}",
        type="primary",
        on_click=signed_in(_cancel),
        args=(job.job_id,),
    )
    no.button("No, keep it", key=f"keep_{job.job_id}", on_click=signed_in(_ask), args=(None,))


@st.fragment(run_every=2)
def board() -> None:
    try:
        all_jobs = scheduler.reconcile(con)
    except (AnnotationError, JobError) as e:
        st.error(escape_markdown(e))
        return
    outside = runs.outside_runs(runs_dir(), [j.run_dir for j in all_jobs if j.active and j.run_dir])
    for run in outside.itertuples():
        with st.container(border=True):
            st.markdown(
                f"**:material/terminal: {escape_markdown(run.run)}** — running, started outside the app"
            )
            trained = runs.train_progress(run.path)
            st.progress(trained.fraction or 0.0, text=escape_markdown(trained.text))
    if not all_jobs:
        st.info("No job yet. Launch one on the Train page, or run the demo from Home.")
        link("pages/train.py", label="Train", icon=":material/model_training:")
        return
    if st.session_state.get("cancel_error"):
        st.error(escape_markdown(st.session_state.pop("cancel_error")))
    counts = {s: sum(j.status == s for j in all_jobs) for s in queue.STATES}
    st.caption(" · ".join(f"{ICONS[s]} {n} {s}" for s, n in counts.items()))
    memory = gpu_memory()
    if len(memory):
        st.caption(
            "GPU memory now: "
            + ", ".join(f"GPU {r.gpu}: {r.used_gib:.1f}/{r.total_gib:.0f} GiB" for r in memory.itertuples())
        )
    for job in [j for j in all_jobs if j.active]:
        with st.container(border=True):
            head, button = st.columns([5, 1])
            where = f" on GPU {job.gpus}" if job.gpus else ""
            head.markdown(f"**{ICONS[job.status]} {escape_markdown(job.label)}** — {job.status}{where}")
            button.button("Cancel", key=f"cancel_{job.job_id}", on_click=signed_in(_ask), args=(job.job_id,))
            if st.session_state.get("confirm_cancel") == job.job_id:
                confirm_cancel(job)
            if job.status == "running":
                show_progress(job)
            elif job.depends_on:
                before = queue.get_job(con, job.depends_on)
                name = before.label if before is not None and before.label else job.depends_on
                st.caption(f"Waits for '{escape_markdown(name)}', the job before it in its chain, to finish.")
            else:
                st.caption("Waits for a free GPU (or the CPU slot): it starts when the running job ends.")
    st.dataframe(queue.jobs_frame(con), hide_index=True, width="stretch")
    labels = {j.job_id: f"{j.label} ({j.status})" for j in all_jobs}
    chosen = st.selectbox("Job details", list(labels), format_func=labels.get, key="job_detail")
    job = queue.get_job(con, chosen)
    if job is None:
        return
    if job.status == "failed":
        st.error(escape_markdown(job.error or "failed"))
    elif job.status == "finished" and job.run_dir:
        st.success(f"Finished: {escape_markdown(job.run_dir)}")
        link("pages/runs.py", label="Compare it on the Runs page", icon=":material/folder_open:")
    elif job.status == "cancelled":
        st.warning(escape_markdown(job.error or "cancelled"))
    elif job.status == "skipped":
        st.info(f"Skipped (it never ran, so it is not counted as failed): {escape_markdown(job.error or '')}")
    # the log's last lines without its command line and progress bars; the file keeps everything
    st.caption(f"Log (command line and progress bars are in the file): {escape_markdown(job.log_path)}")
    st.code(logs.readable_tail(job, 30) or "(nothing printed yet)", language="text")


board()
