"""Adjudicate (researchers): decide the items where the annotators disagree most, blind.

The list shows how disputed each item is, never which system the annotators preferred; the pair is shown as
the Annotate page shows one (texts only, A on the left, B on the right, long texts in boxes that scroll, the
same phone layout), with the sides drawn at random for each view and kept on the server. A decision is stored
apart from the judgments (annotations.judging.adjudication), which it never changes; Results can use the
decisions in place of the items' judgments ("Who counts" block).
"""

import random

import streamlit as st

from annotations import campaigns
from annotations.errors import AnnotationError
from annotations.judging import adjudication
from annotations.judging.judgments import judgments_frame
from annotations.stats.competence import disagreements
from pages.annotate_layout import phone_css
from pages.i18n import gettext_for
from pages.plain_text import escape_markdown
from pages.shared import require_role, store

_ = gettext_for(None)  # researchers read English; the strings are wrapped so a catalog can take them
CHOICES = [
    ("left", _("A is better")),
    ("right", _("B is better")),
    ("tie", _("Tie")),
    ("both_bad", _("Both bad")),
]
OUTPUT_BOX_PX, SOURCE_BOX_PX, SHORT_TEXT_CHARS = 420, 300, 800
PAIR_KEY = "adjudicate_pair"  # (campaign_id, item_id, BlindPair): the sides of this view, on the server

user = require_role("researcher")
con = store()
phone_css()
st.title(_("Adjudicate"))

listing = campaigns.list_campaigns(con)
if listing.empty:
    st.info(_("No campaign yet."))
    st.stop()
names = dict(zip(listing["campaign_id"], listing["name"]))
campaign_id = st.selectbox(
    _("Campaign"), list(names), format_func=lambda c: f"{names[c]} ({c})", key="adjudicate_campaign"
)


def _decide(campaign_id: str, choice: str) -> None:
    held = st.session_state.get(PAIR_KEY)
    if held is None or held[0] != campaign_id:
        return
    note = st.session_state.get("adjudicate_note", "")
    try:
        adjudication.record(store(), campaign_id, held[2], choice, user.user_id, note)
    except AnnotationError as e:
        st.session_state["adjudicate_flash"] = ("error", str(e))
        return
    st.session_state["adjudicate_flash"] = (
        "success",
        _("Decision on item {item} saved.").format(item=held[1]),
    )
    st.session_state.pop(PAIR_KEY, None)
    st.session_state["adjudicate_note"] = ""
    # on to the next item of the list, set as the box's value (dropping the box's state left the browser
    # showing the decided item while the page drew the next)
    queue = [i for i in st.session_state.get("adjudicate_queue", []) if i != held[1]]
    if queue:
        st.session_state["adjudicate_item"] = queue[0]


disputed = disagreements(judgments_frame(con, campaign_id))
decided = adjudication.adjudications_frame(con, campaign_id)
disputed["decided"] = disputed["item_id"].isin(decided["item_id"])
flash = st.session_state.pop("adjudicate_flash", None)
if flash:
    getattr(st, flash[0])(escape_markdown(flash[1]))
if disputed.empty:
    st.info(_("No item has two judgments yet: nothing to adjudicate."))
    st.stop()

st.caption(
    _(
        "Items judged by two or more annotators, most disputed first (entropy of the labels: 0 unanimous, 1 "
        "every label as often). Which system the annotators preferred is not shown."
    )
)
undecided_only = st.toggle(_("Only items not yet decided"), value=True, key="adjudicate_undecided")
shown = disputed[~disputed["decided"]] if undecided_only else disputed
shown = shown[shown["entropy"] > 0] if (shown["entropy"] > 0).any() else shown
st.dataframe(
    shown[["item_id", "n_labels", "majority_share", "entropy", "decided"]].head(50),
    hide_index=True,
    column_config={
        "item_id": _("Item"),
        "n_labels": _("Judgments"),
        "majority_share": st.column_config.NumberColumn(_("Largest share"), format="percent"),
        "entropy": st.column_config.NumberColumn(_("Disagreement"), format="%.2f"),
        "decided": _("Decided"),
    },
)
if shown.empty:
    st.success(_("Every disputed item is decided."))
    st.stop()

queue = shown["item_id"].head(50).tolist()
st.session_state["adjudicate_queue"] = queue
item_id = st.selectbox(_("Item to decide"), queue, key="adjudicate_item")
held = st.session_state.get(PAIR_KEY)
if held is None or held[:2] != (campaign_id, item_id):
    try:  # a new view: the sides drawn anew
        held = (
            campaign_id,
            item_id,
            adjudication.blind_pair(con, campaign_id, item_id, random.SystemRandom()),
        )
    except AnnotationError as e:
        st.error(escape_markdown(e))
        st.stop()
    st.session_state[PAIR_KEY] = held
pair = held[2]


def _height(*texts: str, px: int) -> int | str:
    return "content" if all(len(t) <= SHORT_TEXT_CHARS for t in texts) else px


st.markdown(f"**{_('Source')}**")
with st.container(border=True, height=_height(pair.source, px=SOURCE_BOX_PX), key="fold-source"):
    st.text(pair.source)
for number, reference in enumerate(pair.references, 1):
    st.markdown(f"**{_('Reference {number}').format(number=number)}**")
    with st.container(
        border=True, height=_height(reference, px=SOURCE_BOX_PX), key=f"fold-reference-{number}"
    ):
        st.text(reference)
output_height = _height(pair.text_left, pair.text_right, px=OUTPUT_BOX_PX)
for column, letter, text in zip(st.columns(2), "AB", (pair.text_left, pair.text_right)):
    with column:
        st.markdown(f"### {letter}")
        with st.container(border=True, height=output_height, key=f"fold-output-{letter}"):
            st.text(text)

st.markdown(f"**{_('Which output is better?')}**")
st.text_input(_("Note (optional)"), key="adjudicate_note")
with st.container(horizontal=True, key="adjudicate_choices"):
    for choice, label in CHOICES:
        st.button(label, key=f"adjudicate::{choice}", on_click=_decide, args=(campaign_id, choice))
st.caption(_("Stored apart from the judgments: no judgment is changed."))
