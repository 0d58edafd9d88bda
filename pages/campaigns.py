"""Campaigns (researchers): create one from a run folder or a CSV/JSONL of outputs; list, close and reopen."""

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from annotations import db, source_files
from annotations.campaigns import (
    DEFAULT_MAX_COMMENT_CHARS,
    DEFAULT_MAX_TEXT_CHARS,
    SELECTIONS,
    CampaignConfig,
    Criterion,
    create_campaign,
    default_criteria,
    get_campaign,
    list_campaigns,
    run_folder_options,
    run_folders,
    set_status,
)
from annotations.errors import AnnotationError
from annotations.plurals import counted, plural
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
sel_col, n_col, seed_col = st.columns(3)
selection = sel_col.selectbox(
    "Items",
    SELECTIONS,
    format_func={
        "all": "all",
        "random": "a random sample",
        "critical": "critical: largest metric disagreement",
    }.get,
    key="selection",
)
n_items = n_col.number_input(
    "How many (sample / critical)", min_value=1, value=100, key="n_items", disabled=selection == "all"
)
sample_seed = seed_col.number_input(
    "Sample seed", min_value=0, value=0, key="sample_seed", disabled=selection != "random"
)

st.markdown("**Criteria** (besides the overall choice A / B / tie / both bad): each output gets a score")
criteria_table = st.data_editor(
    pd.DataFrame([vars(c) for c in default_criteria()]),
    num_rows="dynamic",
    key="criteria",
    hide_index=True,
    column_config={
        "min_score": st.column_config.NumberColumn(step=1),
        "max_score": st.column_config.NumberColumn(step=1),
    },
)
show_reference = st.checkbox("Show the reference to annotators", value=True, key="show_reference")
instructions = st.text_area("Instructions", value=CampaignConfig(name="x").instructions, key="instructions")
k_col, quota_col, lease_col = st.columns(3)
k = k_col.number_input("Annotators per item (k)", min_value=1, value=3, key="k")
quota = quota_col.number_input("Pairs per annotator (0 = no limit)", min_value=0, value=0, key="quota")
lease = lease_col.number_input(
    "Lease (minutes an unanswered pair stays held)", min_value=1.0, value=15.0, key="lease"
)
limit_col, cut_col, comment_col = st.columns(3)
max_text_chars = limit_col.number_input(
    "Longest text (characters per source, output or reference)",
    min_value=100,
    value=DEFAULT_MAX_TEXT_CHARS,
    step=1000,
    key="max_text_chars",
)
truncate = cut_col.checkbox(
    "Cut longer texts instead of refusing the file",
    key="truncate_long_texts",
    help="The campaign records how many texts were cut.",
)
max_comment_chars = comment_col.number_input(
    "Longest comment (characters)", min_value=1, value=DEFAULT_MAX_COMMENT_CHARS, key="max_comment_chars"
)
g_col, r_col = st.columns(2)
gold_text = g_col.text_area(
    "Gold items: one `item_id,winner` per line (winner: a system, tie or both_bad)", key="gold"
)
gold_rate = g_col.slider("Share of gold pairs", 0.0, 0.5, 0.0, 0.05, key="gold_rate")
repeat_rate = r_col.slider(
    "Share of pairs repeated later with sides flipped", 0.0, 0.5, 0.0, 0.05, key="repeat_rate"
)

if st.button("Create campaign", type="primary", key="create"):
    campaign_id = None
    try:
        if origin != "A run folder":
            folder = db.default_path().parent / "uploads"
            source_file = str(source_files.save_upload(folder, upload.name, upload.getvalue()))
        gold = {}
        for line in gold_text.splitlines():
            if line.strip():
                item_id, _, winner = line.partition(",")
                gold[item_id.strip()] = winner.strip()
        criteria = [
            Criterion(
                str(r["name"]).strip(),
                str(r.get("description") or ""),
                int(r["min_score"]),
                int(r["max_score"]),
            )
            for r in criteria_table.dropna(subset=["name"]).to_dict("records")
            if str(r["name"]).strip()
        ]
        config = CampaignConfig(
            name=name,
            run_dir=run_dir,
            source_file=source_file,
            system_a=system_a,
            system_b=system_b,
            decoding=decoding,
            seed=seed,
            selection=selection,
            n_items=int(n_items),
            sample_seed=int(sample_seed),
            criteria=criteria,
            show_reference=show_reference,
            instructions=instructions,
            k=int(k),
            gold_items=gold,
            gold_rate=float(gold_rate),
            repeat_rate=float(repeat_rate),
            items_per_annotator=int(quota) or None,
            lease_minutes=float(lease),
            max_text_chars=int(max_text_chars),
            truncate_long_texts=truncate,
            max_comment_chars=int(max_comment_chars),
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
            f" {texts} longer than {int(max_text_chars):,} characters {plural(cut, 'was')} cut."
            if cut
            else ""
        )
        st.session_state["campaign_created"] = (
            f"Campaign '{name}' created ({campaign_id}). Annotators see it on their Annotate page.{note}"
        )
        st.rerun()
