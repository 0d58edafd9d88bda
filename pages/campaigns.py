"""Campaigns (researchers): create one from a run folder or a CSV/JSONL of outputs; list, close and reopen; choose
who may judge each (everyone by default)."""

from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from annotations import db, source_files
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
)
from annotations.errors import AnnotationError
from annotations.plurals import counted, plural
from annotations.users import list_users
from pages.campaign_form import campaign_options
from pages.plain_text import escape_markdown
from pages.shared import require_role, runs_dir, store

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
    st.dataframe(existing, hide_index=True, width="stretch")
    with st.container(horizontal=True):
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
            set_status(con, chosen, "active")
            st.rerun()
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

st.header("New campaign")
origin = st.radio("Outputs from", ["A run folder", "A CSV/JSONL file"], horizontal=True, key="origin")
run_dir = source_file = None
decoding, seed, systems = None, None, []
try:
    if origin == "A run folder":
        folders = run_folders(runs_dir())
        if not folders:
            st.warning(
                f"No run folder with outputs in {escape_markdown(runs_dir())}. Generate outputs first, or use a "
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
            "CSV or JSONL with item_id, system, output (optional: source, prompt, references, gold_winner, metric columns)",
            type=["csv", "jsonl"],
        )
        if upload is None:
            st.stop()
        # The upload is checked from its bytes; it is written to data/uploads/ only when a campaign is made of it.
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
            folder = db.default_path().parent / "uploads"
            source_file = str(source_files.save_upload(folder, upload.name, upload.getvalue()))
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
            source_files.remove_upload(source_file)  # no campaign was made of it
    if campaign_id is not None:
        cut = get_campaign(con, campaign_id).texts_truncated
        texts = counted(cut, "text")
        note = (
            f" {texts} longer than {config.max_text_chars:,} characters {plural(cut, 'was')} cut."
            if cut
            else ""
        )
        st.session_state["campaign_created"] = (
            f"Campaign '{name}' created ({campaign_id}). Annotators see it on their Annotate page.{note}"
        )
        st.rerun()
