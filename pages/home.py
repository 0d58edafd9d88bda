"""Researcher home: the loop in five steps, the embedded demo (one button, progress per step), and where the
study stands. The demo runs as jobs (jobs.demo), so the page can be closed while it works."""

import streamlit as st

from annotations.campaigns import list_campaigns
from annotations.errors import AnnotationError
from jobs import demo, scheduler
from jobs.errors import JobError
from pages.plain_text import escape_markdown
from pages.shared import link, require_role, runs_dir, store

require_role("researcher")
con = store()
scheduler.ensure_watcher(con)
st.title("Did the fine-tune help?")
st.write("LoRA fine-tuning, automatic metrics and blind human comparisons in one loop.")


st.markdown(
    """
1. **Train** a LoRA adapter: a form with every training setting and presets from the report (sanity overfit,
   3–5 epochs with early stopping, an lr × r sweep). Jobs run as their own processes; closing the browser is
   fine.
2. **Jobs**: watch progress, time left, loss and eval curves; cancel.
3. **Runs**: compare curves, configs and metrics; for a finished run, *Generate and score*, then *Create
   campaign*.
4. **Campaigns** / **Annotate**: blind pairwise judgments by your annotators.
5. **Results**: agreement, win rates with intervals, and how well the metrics agree with people.
"""
)

STATE_ICONS = {
    "waiting": ":material/schedule:",
    "running": ":material/play_circle:",
    "done": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
    "skipped": ":material/skip_next:",
}


@st.fragment(run_every=2)
def demo_panel() -> None:
    st.subheader("The demo: the whole loop in a few minutes")
    st.caption(
        "SmolLM2-135M (embedded) and SciTLDR-A, offline: a short real LoRA run, generation on 20 test items, "
        "scores, a demo campaign with demo annotator accounts and simulated judgments, the embedded model as "
        "an LLM judge of its pairs, and the results."
    )
    try:
        state = demo.advance(con, runs_dir())
    except (AnnotationError, JobError) as e:
        st.error(escape_markdown(e))
        state = None
    if state is None or (state.over and not state.finished):  # a finished demo offers its results instead
        if st.button("Run the demo", type="primary", key="demo_start"):
            state = start_demo()
    if state is None:
        return
    if state.finished:
        demo_results(state)
        return
    for step in state.steps:
        text = f"{STATE_ICONS[step.state]} {escape_markdown(f'{step.name}: {step.detail}')}"
        st.progress(step.fraction or 0.0, text=text)
    st.caption(f"Run folder: {escape_markdown(state.run_dir)}")
    if state.failed:
        st.error("A step of the demo failed; its error is above, and its log on the Jobs page.")
    elif state.stopped:
        st.warning(
            "The demo was cancelled; the steps after the cancelled one were skipped. Start it again above."
        )


def start_demo() -> demo.DemoState | None:
    try:
        return demo.start(con, runs_dir())
    except (AnnotationError, JobError) as e:
        st.error(escape_markdown(e))
        return None


def demo_results(state: demo.DemoState) -> None:
    """A finished demo: its results first (the Results page on the demo campaign), its accounts, a new run."""
    if st.session_state.get("demo_done_seen") != state.campaign_id:
        st.session_state["demo_done_seen"] = state.campaign_id
        st.rerun()  # the whole page: the campaigns below now include the demo's
    st.success(
        "Done. The demo campaign holds simulated judgments (labelled as such) from two demo annotators, and "
        "the verdicts of an LLM judge (the embedded 135M model: weak, as its card on Results shows)."
    )
    if st.button("See the demo's results", type="primary", icon=":material/insights:", key="demo_results"):
        st.session_state["campaign"] = state.campaign_id  # the Results page's campaign picker
        st.switch_page("pages/results.py")
    link("pages/runs.py", "Compare the run", ":material/folder_open:")
    st.markdown("Demo annotator accounts (log in as the third one to judge pairs yourself):")
    st.dataframe(
        [{"username": name, "password": password} for name, password in state.accounts.items()],
        hide_index=True,
    )
    dpo_panel(state)
    with st.expander("Run the demo again"):
        st.caption("A new training run and a new demo campaign; the demo accounts get new passwords.")
        if st.button("Start a new demo run", key="demo_again") and start_demo() is not None:
            st.rerun()


def dpo_panel(state: demo.DemoState) -> None:
    """The demo's optional second part: DPO on the demo campaign's simulated preferences, then base,
    fine-tuned and DPO compared in a three-system demo campaign (jobs.demo.start_dpo)."""
    st.subheader("Close the loop: tune on the preferences (DPO)")
    st.caption(
        "Optional, a few more minutes: the demo campaign's SIMULATED preferences exported in TRL's format, "
        "a few DPO steps from the demo's LoRA run, base, fine-tuned and DPO outputs on the same items, and "
        "a three-system demo campaign with simulated judgments, ranked on Results. The preferences are "
        "simulated and the DPO run learns on the very items it is then compared on: this shows the "
        "mechanics, not whether preference tuning helps."
    )
    if state.dpo_over and not state.dpo_finished:
        label = (
            "Tune on the simulated preferences (DPO)" if not state.dpo_steps else "Start the DPO part again"
        )
        if st.button(label, icon=":material/repeat:", key="demo_dpo"):
            try:
                state = demo.start_dpo(con, runs_dir())
            except (AnnotationError, JobError) as e:
                st.error(escape_markdown(e))
    for step in state.dpo_steps:
        text = f"{STATE_ICONS[step.state]} {escape_markdown(f'{step.name}: {step.detail}')}"
        st.progress(step.fraction or 0.0, text=text)
    if state.dpo_run_dir:
        st.caption(f"DPO run folder (simulated preferences): {escape_markdown(state.dpo_run_dir)}")
    if state.dpo_finished:
        st.success(
            "Done. The three-system demo campaign holds simulated judgments (labelled as such) of base, "
            "fine-tuned and DPO outputs; its Results page ranks the three systems."
        )
        if st.button("See the three-system ranking", icon=":material/leaderboard:", key="demo_dpo_results"):
            st.session_state["campaign"] = state.dpo_campaign_id
            st.switch_page("pages/results.py")
    elif state.dpo_steps and state.dpo_over:
        st.error(
            "A step of the DPO part failed or was cancelled; its error is above, its log on the Jobs page."
        )


demo_panel()

st.subheader("Campaigns")
campaigns = list_campaigns(con)
st.metric("Campaigns", len(campaigns))
if len(campaigns):
    st.dataframe(
        campaigns[["name", "system_a", "system_b", "k", "n_items", "n_judgments", "status"]], hide_index=True
    )
else:
    st.info("No campaign yet: create one on the Campaigns page from a run folder or a CSV/JSONL of outputs.")
