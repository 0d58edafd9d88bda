"""Campaigns (researchers): create one from a run folder or a CSV/JSONL of outputs; list, follow the
progress of one (items at k, each annotator's counts, time left), close and reopen; choose who may judge
each (everyone by default)."""

from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from annotations.accounts.users import list_users
from annotations.campaigns import (
    CampaignConfig,
    campaign_judges,
    create_campaign,
    get_campaign,
    list_campaigns,
    run_folder_options,
    run_folders,
    set_judges,
    set_status,
    source_files,
)
from annotations.campaigns.progress import campaign_progress
from annotations.errors import AnnotationError
from annotations.plurals import counted, plural
from annotations.store import default_path
from ft_core import data_files
from ft_core.errors import FtCoreError
from jobs import campaign_scores
from jobs.errors import JobError
from pages.campaign_active import active_section
from pages.campaign_crowd import crowd_section
from pages.campaign_form import campaign_options
from pages.campaign_judge import judge_section
from pages.campaign_state import campaign_state_view, reopen_campaign
from pages.i18n import UI_LANGUAGES
from pages.plain_text import escape_markdown
from pages.shared import require_role, runs_dir, store
from pages.tables import show_table, usernames

# The listing's columns, in words, and their widths in pixels: together narrower than the page at a laptop's
# width (the full run-folder path once made the table wider than the page, cutting it after k). A long name is
# cut in its cell; the chosen campaign's line under the list gives everything in full.
LISTING = {
    "name": ("Name", 150),
    "status": ("Status", 70),
    "language": ("Language", 80),
    "k": ("k", 40),
    "n_items": ("Items", 60),
    "n_judgments": ("Judgments", 85),
    "systems": ("Systems (A vs B)", 150),
    "outputs": ("Outputs from", 150),
}


def about(row, campaign_id: str) -> None:
    """One line with what the listing cuts or leaves out: the id, the systems, where the outputs come from,
    the language, when it was made, and the texts cut on import."""
    cut = int(row["texts_truncated"])
    texts = f"; {counted(cut, 'text')} cut to {int(row['max_text_chars']):,} characters" if cut else ""
    st.caption(
        escape_markdown(
            f"{campaign_id}: A = {row['system_a']}, B = {row['system_b']}; outputs from "
            f"{row['run_dir'] or row['source_file']}; {UI_LANGUAGES.get(row['language'], row['language'])}; "
            f"created {row['created_at']:%Y-%m-%d %H:%M} UTC{texts}."
        )
    )


def progress_view(campaign_id: str) -> None:
    """Items that reached k, each annotator's judged / skipped / in-progress pairs, and the time left."""
    progress = campaign_progress(con, campaign_id)
    if progress.complete:
        when = "complete"
    elif progress.time_left is not None:
        when = f"{progress.time_left.text()} at the pace so far"
    else:
        when = "time left known after two judgments"
    st.progress(
        # whole percent, rounded down: the bar reaches 100 only when every item has its k judgments
        100 * progress.items_at_k // progress.n_items if progress.n_items else 0,
        text=f"{progress.items_at_k:,} of {counted(progress.n_items, 'item')} have their k = {progress.k} "
        f"{plural(progress.k, 'judgment')}; {progress.judgments_done:,} of "
        f"{counted(progress.judgments_needed, 'judgment')} in; {when}",
    )
    if progress.annotators.empty:
        st.caption("No annotator has opened this campaign yet.")
        return
    show_table(
        progress.annotators,
        names=usernames(con),
        labels={
            "judged": "Judged",
            "skipped": "Skipped",
            "in_progress": "Open now",
            "last_judged_at": "Last judged",
        },
        empty_note="no judgment yet",
        width="content",
    )


user = require_role("researcher")
con = store()
st.title("Campaigns")

created = st.session_state.pop("campaign_created", None)
if (
    created
):  # said after the rerun that lists the new campaign, so no stale "no campaign yet" stays on the page
    st.success(escape_markdown(created))
existing = list_campaigns(con)
if existing.empty:
    st.info("No campaign yet. Create the first one below.")
else:
    listing = existing.assign(
        outputs=[Path(r or f or "").name for r, f in zip(existing.run_dir, existing.source_file)],
        systems=existing.system_a + " vs " + existing.system_b,
    )
    show_table(
        listing,
        labels={c: header for c, (header, _) in LISTING.items()},
        widths={c: width for c, (_, width) in LISTING.items()},
        column_order=list(LISTING),
        width="stretch",
    )
    with st.container(horizontal=True, vertical_alignment="bottom"):
        chosen = st.selectbox(  # option labels are plain text (only widget labels are Markdown)
            "Campaign",
            existing.campaign_id.tolist(),
            format_func=dict(zip(existing.campaign_id, existing.name)).get,
        )
        status = existing.set_index("campaign_id").loc[chosen, "status"]
        if status == "active" and st.button("Close to annotators", key="close_campaign"):
            set_status(con, chosen, "closed")
            st.rerun()
        if status == "closed" and st.button("Reopen", key="reopen_campaign"):
            reopen_campaign(con, chosen)
            st.rerun()
    about(listing.set_index("campaign_id").loc[chosen], chosen)
    progress_view(chosen)
    campaign_state_view(con, chosen)  # may it stop (its own δ), why it closed, the planner
    accounts = list_users(con).query("active")
    names = dict(zip(accounts.user_id, accounts.username))
    judges = campaign_judges(con, chosen)
    options = list(names) + [j for j in judges if j not in names]  # a disabled judge stays until removed
    with st.form(f"judges:{chosen}"):
        picked = st.multiselect(
            "Who may judge it",
            options,
            default=judges,
            format_func=lambda user_id: names.get(user_id, f"{user_id} (disabled)"),
            placeholder="Everyone (no list)",
            help="Leave empty to let every account judge this campaign. With a list, only these accounts are "
            "served its pairs and may submit; judgments already made stay.",
            key=f"judges:{chosen}",
        )
        if st.form_submit_button("Save who may judge"):
            saved = set_judges(con, chosen, picked, added_by=user.user_id)
            st.session_state["judges_saved"] = (
                f"Only {', '.join(names.get(j, j) for j in saved)} may judge it now."
                if saved
                else "Every account may judge it now."
            )
            st.rerun()
    if st.session_state.get("judges_saved"):
        st.success(escape_markdown(st.session_state.pop("judges_saved")))
    judge_section(con, chosen, user)  # an LLM judge on the campaign's pairs, as a job
    active_section(con, chosen, user.user_id)  # humans where the LLM judge is unsure
    crowd_section(con, chosen, user)  # participants from a panel (pages/campaign_crowd.py)

st.header("New campaign")
origin = st.radio("Outputs from", ["A run folder", "A CSV/JSONL file"], horizontal=True, key="origin")
run_dir = source_file = None
decoding, seed, systems = None, None, []
try:
    if origin == "A run folder":
        folders = run_folders(runs_dir())
        if not folders:
            st.warning(
                f"No run folder with outputs in {escape_markdown(runs_dir())}. Generate outputs first, or "
                "use a "
                "CSV/JSONL file."
            )
            st.stop()
        run_dir = str(st.selectbox("Run folder", folders, format_func=lambda p: Path(p).name, key="run_dir"))
        options = run_folder_options(run_dir)
        st.dataframe(options.drop(columns="file"), hide_index=True)
        systems = sorted(options.system.unique())
        decodings = sorted(options.decoding.unique())
        decoding = st.selectbox("Decoding", decodings, key="decoding")
        seeds = sorted(options[options.decoding == decoding].seed.unique())
        seed = int(st.selectbox("Generation seed", seeds, key="seed"))
    else:
        upload = st.file_uploader(
            "CSV or JSONL with item_id, system, output (optional: source, prompt, references, gold_winner, "
            "metric columns)",
            type=["csv", "jsonl"],
        )
        if upload is None:
            st.stop()
        # The upload is checked from its bytes; it is written to data/uploads/ only when a campaign is made of
        # it.
        checked = st.session_state.get("upload_check")
        if checked is None or checked[0] != upload.file_id:
            try:
                systems = source_files.table_systems(
                    source_files.read_table_bytes(upload.name, upload.getvalue())
                )
                checked = (upload.file_id, systems, None)
            except AnnotationError as e:
                checked = (upload.file_id, [], str(e))
            st.session_state["upload_check"] = checked
        if checked[2] is not None:
            st.error(escape_markdown(checked[2]))
            st.stop()
        systems = checked[1]
except AnnotationError as e:
    st.error(escape_markdown(e))
    st.stop()

if len(systems) < 2:
    st.error(
        escape_markdown(f"Need outputs from two systems; found: {source_files.listing(systems) or 'none'}.")
    )
    st.stop()
a_col, b_col = st.columns(2)
system_a = a_col.selectbox(
    "System A", systems, index=systems.index("base") if "base" in systems else 0, key="system_a"
)
rest = [s for s in systems if s != system_a]
system_b = b_col.selectbox(
    "System B", rest, index=rest.index("finetuned") if "finetuned" in rest else 0, key="system_b"
)

name = st.text_input(
    "Name",
    value=f"Campaign {datetime.now(UTC):%Y-%m-%d %H:%M}",
    key="name",
    help="Annotators see this name: keep system names out of it, so they stay blind.",
)
form = campaign_options()

if st.button("Create campaign", type="primary", key="create"):
    campaign_id = None
    try:
        if origin != "A run folder":
            folder = default_path().parent / "uploads"
            source_file = str(
                data_files.save_upload(
                    folder,
                    upload.name,
                    upload.getvalue(),
                    own_folder=True,
                    error=source_files.SourceFileError,
                )
            )
        config = CampaignConfig(
            name=name,
            run_dir=run_dir,
            source_file=source_file,
            system_a=system_a,
            system_b=system_b,
            decoding=decoding,
            seed=seed,
            **form.config_fields(),
        )
        campaign_id = create_campaign(con, config, created_by=user.user_id)
    except (AnnotationError, ValueError) as e:
        st.error(escape_markdown(e))
    finally:
        if campaign_id is None and source_file is not None:
            data_files.remove_upload(source_file)  # no campaign was made of it
    if campaign_id is not None:
        cut = get_campaign(con, campaign_id).texts_truncated
        texts = counted(cut, "text")
        note = (
            f" {texts} longer than {config.max_text_chars:,} characters {plural(cut, 'was')} cut."
            if cut
            else ""
        )
        try:  # a file with sources: its reference-free scores are computed by a job, without waiting for it
            scoring = campaign_scores.start(con, campaign_id, runs_dir())
        except (AnnotationError, JobError, FtCoreError, OSError) as e:
            scoring = None
            note += f" Its outputs could not be queued for scoring against their sources: {e}."
        if scoring is not None:
            note += (
                " Its outputs are being scored against their sources in the background (Jobs page); the "
                "Results page shows those scores once they are in."
            )
        st.session_state["campaign_created"] = (
            f"Campaign '{name}' created ({campaign_id}). Annotators see it on their Annotate page.{note}"
        )
        st.rerun()
