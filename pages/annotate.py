"""Annotate: judge pairs of outputs blind, A (left) against B (right).

The page knows only an opaque assignment token and the two texts; which system wrote which, and whether a pair
is a gold or repeated item, stays in the store. Model outputs are untrusted and shown with `st.text` (no
Markdown, no HTML). Keyboard: A / B / T (tie) / X (both bad), Ctrl+Enter submits, S skips, U edits the last
judgment. A double click or a resent form never stores two judgments: the store makes submit idempotent.
"""

import streamlit as st

from annotations.campaigns import campaign_config
from annotations.errors import AnnotationError, WriteFailed
from annotations.judging import assignment, judgments
from pages.annotate_layout import phone_css, scroll_to_top
from pages.i18n import N_, SHOWN_CAMPAIGN_KEY, format_number, gettext_for, ngettext_for, shown_campaign
from pages.plain_text import escape_markdown
from pages.shared import current_user, require_role, signed_in, store

CHOICES = [
    ("A", N_("A is better"), "A"),
    ("B", N_("B is better"), "B"),
    ("tie", N_("Tie"), "T"),
    ("both_bad", N_("Both bad"), "X"),
]
LETTER_LABEL = {letter: label for letter, label, _shortcut in CHOICES}
# Every text box has a bounded height and scrolls on its own, so no text (a 20,000-character line) can make
# the page huge; texts this short get the height of their content instead.
SHORT_TEXT_CHARS, SHORT_TEXT_LINES = 800, 15
OUTPUT_BOX_PX, SOURCE_BOX_PX = 420, 300


def box_height(*texts: str | None, px: int) -> int | str:
    """'content' when every text is short, else `px` (the same for A and B, so neither side stands out)."""
    short = all(len(t or "") <= SHORT_TEXT_CHARS and (t or "").count("\n") <= SHORT_TEXT_LINES for t in texts)
    return "content" if short else px


# Set by a callback that `signed_in` let through: the session was checked in this very run, so the pair's own
# check after it would ask the store the same question again (one read per Submit saved).
CHECKED_KEY = "_session_checked_by_callback"


user = require_role("annotator", "researcher")
# A whole run checked the session just above; a flag left over from a callback must never skip a later check.
st.session_state.pop(CHECKED_KEY, None)
con = store()


def _flash(kind: str, text: str) -> None:
    st.session_state["flash"] = (kind, text)


def _choose(form_key: str, letter: str) -> None:
    st.session_state[f"choice::{form_key}"] = letter


@signed_in  # a callback runs before the page's own check: none may write for a session that has ended
def _send(token: str, form_key: str, base_version: int | None, criteria: list[str], language: str) -> None:
    st.session_state[CHECKED_KEY] = True
    _ = gettext_for(language)
    choice = st.session_state.get(f"choice::{form_key}")
    if choice is None:
        _flash("warning", _("Choose A, B, tie or both bad first."))
        return
    scores = {}
    for name in criteria:
        by_side = {s: st.session_state.get(f"score::{form_key}::{name}::{s}") for s in ("A", "B")}
        by_side = {s: v for s, v in by_side.items() if v is not None}
        if by_side:
            scores[name] = by_side
    comment = (st.session_state.get(f"comment::{form_key}") or "").strip() or None
    try:
        if base_version is None:
            result = judgments.submit(con, token, user.user_id, choice, scores, comment)
        else:
            result = judgments.edit(con, token, user.user_id, base_version, choice, scores, comment)
            st.session_state["editing"] = None
    except WriteFailed:  # e.g. a full disk: nothing was stored; the choice stays on the page for a retry
        _flash("error", _("Saving failed: your judgment was not stored. Try again."))
        return
    except AnnotationError as e:
        _flash("error", escape_markdown(e))
        return
    if result.created:
        saved = _("Saved.") if result.version == 1 else _("Edit saved (version {version}).")
        _flash("success", saved.format(version=result.version))


@signed_in
def _skip(token: str) -> None:
    st.session_state[CHECKED_KEY] = True
    try:
        judgments.skip(con, token, user.user_id)
    except AnnotationError as e:
        _flash("error", escape_markdown(e))


def _start_edit(own: judgments.OwnJudgment) -> None:
    form_key = f"{own.token}-e{own.version}"
    st.session_state["editing"] = (own.token, own.version)
    st.session_state[f"choice::{form_key}"] = own.choice
    st.session_state[f"comment::{form_key}"] = own.comment or ""
    for name, by_side in own.scores.items():
        for side, value in by_side.items():
            st.session_state[f"score::{form_key}::{name}::{side}"] = value


@signed_in
def _undo_last(campaign_id: str) -> None:
    # The last judgment is read on the click, not on every redraw: "Undo last" shows whenever one exists.
    last = judgments.own_judgments(con, campaign_id, user.user_id, limit=1)
    if last:
        _start_edit(last[0])


def _cancel_edit() -> None:
    st.session_state["editing"] = None


campaigns = assignment.open_campaigns(con, user.user_id)  # only those this account may judge
if not campaigns:
    _ = gettext_for(None)  # no campaign, no language: English
    st.title(_("Annotate"))
    st.info(_("No campaign is open right now. Come back later."))
    st.stop()
# The chosen campaign rides in the URL (`?campaign=<opaque id>`), so a reload or a new tab comes back to it;
# the page, and the menu beside it, speak the language of the campaign it shows (pages/i18n.py).
campaign_id = shown_campaign(campaigns)
config = campaign_config(con, campaign_id)
language = config.language
_, _n = gettext_for(language), ngettext_for(language)
phone_css()
st.title(_("Annotate"))
if len(campaigns) > 1:
    index = list(campaigns).index(campaign_id)
    campaign_id = st.selectbox(
        _("Campaign"), list(campaigns), index=index, format_func=campaigns.get, key="campaign"
    )
    st.query_params["campaign"] = campaign_id
st.session_state[SHOWN_CAMPAIGN_KEY] = campaign_id


# A choice reruns only its own buttons (a fragment inside the pair's): the pair, the progress and the store
# are not touched until Submit.
@st.fragment
def choice_bar(form_key: str) -> None:
    """The four choice buttons and the choice made; on a phone they stick to the bottom of the screen."""
    chosen = st.session_state.get(f"choice::{form_key}")
    with st.container(key="choice_bar"):
        buttons = st.columns(len(CHOICES))
        for column, (letter, label, shortcut) in zip(buttons, CHOICES):
            column.button(
                _(label),
                key=f"choose::{form_key}::{letter}",
                shortcut=shortcut,
                type="primary" if chosen == letter else "secondary",
                on_click=_choose,
                args=(form_key, letter),
                width="stretch",
            )
        st.caption(
            _("Your choice: {choice}").format(choice=_(LETTER_LABEL[chosen]))
            if chosen
            else _("Your choice: none yet")
        )


# Only the pair and its buttons rerun on a click (a fragment): the menu, the campaign list and the campaign's
# configuration are not redrawn for every judgment (bench/annotation_browser.py measures the server's CPU per
# pair). The campaign selectbox above and a reload run the whole page.
@st.fragment
def pair_view() -> None:
    """The progress, the pair, the choice, the scores and comment, Submit, and the last judgments to edit."""
    # A session that ended (a logout in another tab, expiry) reruns the whole app, which shows the login.
    if not st.session_state.pop(CHECKED_KEY, False) and current_user() is None:
        st.rerun(scope="app")
    flash = st.session_state.pop("flash", None)

    editing = st.session_state.get("editing")
    try:
        if editing:
            pair = assignment.view(con, editing[0], user.user_id)
            form_key, base_version = f"{editing[0]}-e{editing[1]}", editing[1]
        else:
            pair = assignment.next_item(con, campaign_id, user.user_id)
            form_key, base_version = (pair.token if pair else ""), None
    except AnnotationError as e:
        st.session_state["editing"] = None
        if flash:
            getattr(st, flash[0])(flash[1])
        st.error(escape_markdown(e))
        st.stop()
    # A new pair (or an edit) starts at its top, on a phone too. The script sits before the flash, so that a
    # rerun of the same pair finds it at the same place and does not run it again.
    scroll_to_top(form_key)
    if flash:
        getattr(st, flash[0])(flash[1])

    progress = assignment.progress(con, campaign_id, user.user_id)
    st.progress(
        progress.share,
        text=_n("{done} / {assigned} judged", "{done} / {assigned} judged", progress.assigned).format(
            done=format_number(progress.done, language), assigned=format_number(progress.assigned, language)
        ),
    )
    judged_any = progress.done > 0  # every pair judged has a judgment: there is a last one to undo or edit

    if pair is None:
        st.success(_("Nothing left to judge in this campaign. Thank you!"))
        if judged_any:  # the last judgment stays editable with U after the last pair, as it is before
            st.button(_("Undo last"), key="undo_last", shortcut="U", on_click=_undo_last, args=(campaign_id,))
    else:
        criteria = [c.name for c in pair.criteria]
        with st.expander(_("Instructions"), expanded=progress.done == 0):
            with st.container(key="instructions_text"):
                st.text(
                    _(pair.instructions)
                )  # the default instructions are in the catalog; a researcher's own are not
        if editing:
            st.info(
                _(
                    "You are editing an earlier judgment (version {version}); saving writes version "
                    "{next_version}."
                ).format(version=base_version, next_version=base_version + 1)
            )
        # Texts fold: a long one gets a bounded box that scrolls on its own, on a phone every one does (CSS on
        # the `fold-` keys), until the annotator turns on "Show the whole texts" for this pair.
        show_all = st.session_state.get(f"show_all::{form_key}", False)
        fold = "open" if show_all else "fold"

        def height(*texts: str | None, px: int) -> int | str:
            return "content" if show_all else box_height(*texts, px=px)

        source_col, reference_col = st.columns(2) if pair.references else (st.container(), None)
        with source_col:
            source_label = _("Source") if pair.source else _("Prompt")
            st.markdown(f"**{source_label}**")
            source_text = pair.source or pair.prompt or ""
            with st.container(
                border=True, height=height(source_text, px=SOURCE_BOX_PX), key=f"{fold}-source"
            ):
                st.text(source_text)
        if reference_col is not None:
            with reference_col:
                for number, reference in enumerate(pair.references, 1):
                    several = len(pair.references) > 1
                    label = _("Reference {number}").format(number=number) if several else _("Reference")
                    st.markdown(f"**{label}**")
                    with st.container(
                        border=True,
                        height=height(reference, px=SOURCE_BOX_PX),
                        key=f"{fold}-reference-{number}",
                    ):
                        st.text(reference)

        left, right = st.columns(2)
        output_height = height(pair.text_a, pair.text_b, px=OUTPUT_BOX_PX)
        for column, letter, text in ((left, "A", pair.text_a), (right, "B", pair.text_b)):
            with column:
                st.markdown(f"### {letter}")
                with st.container(border=True, height=output_height, key=f"{fold}-output-{letter}"):
                    st.text(text)
        texts = (source_text, *pair.references, pair.text_a, pair.text_b)
        all_short = box_height(*texts, px=OUTPUT_BOX_PX) == "content"  # then only a phone folds them
        with st.container(key="show_all_short" if all_short else "show_all_long"):
            st.toggle(_("Show the whole texts"), key=f"show_all::{form_key}")

        question = _("Which output is better?")
        st.markdown(f"**{question}**")
        choice_bar(form_key)

        if pair.criteria:
            st.markdown(_("**Scores** (optional; 1 = poor, 5 = excellent)"))
            for criterion in pair.criteria:
                options = list(range(criterion.min_score, criterion.max_score + 1))
                label_col, a_col, b_col = st.columns([2, 3, 3])
                label_col.markdown(escape_markdown(_(criterion.name.capitalize())))
                if criterion.description:
                    label_col.caption(escape_markdown(_(criterion.description)))
                for column, side in ((a_col, "A"), (b_col, "B")):
                    column.segmented_control(
                        side, options, key=f"score::{form_key}::{criterion.name}::{side}"
                    )
        comment_limit = config.max_comment_chars
        # No max_chars: the browser would cut a longer paste without a word. A longer comment is kept in the
        # box, said here, and refused by the store (CommentTooLong) until it is shortened: nothing is ever
        # cut.
        comment = st.text_area(
            _n(
                "Comment (optional, at most {limit} character)",
                "Comment (optional, at most {limit} characters)",
                comment_limit,
            ).format(limit=format_number(comment_limit, language)),
            key=f"comment::{form_key}",
            height=80,
        )
        if comment and len(comment.strip()) > comment_limit:
            too_long = _(
                "Your comment has {length} characters, over the limit of {limit}: shorten it to submit."
            )
            st.warning(
                too_long.format(
                    length=format_number(len(comment.strip()), language),
                    limit=format_number(comment_limit, language),
                )
            )

        # A row of buttons as wide as their labels: fixed columns cut a longer label ("Desfazer o último" read
        # "Desfaz…"); on a narrow screen the row wraps instead.
        with st.container(horizontal=True, key="submit_bar"):
            st.button(
                _("Save edit") if editing else _("Submit"),
                key="submit",
                type="primary",
                shortcut="Ctrl+Enter",
                on_click=_send,
                args=(pair.token, form_key, base_version, criteria, language),
            )
            if editing:
                st.button(_("Cancel edit"), key="cancel_edit", on_click=_cancel_edit)
            else:
                st.button(_("Skip"), key="skip", shortcut="S", on_click=_skip, args=(pair.token,))
                if judged_any:
                    st.button(
                        _("Undo last"),
                        key="undo_last",
                        shortcut="U",
                        on_click=_undo_last,
                        args=(campaign_id,),
                    )

    if judged_any:
        # Its rows are drawn (and read from the store) only while it is open: a closed list costs a Submit
        # nothing.
        last_judgments = st.expander(
            _("Your last judgments (edit one)"), expanded=False, key="last_judgments", on_change="rerun"
        )
        with last_judgments:
            own = (
                judgments.own_judgments(con, campaign_id, user.user_id, limit=5)
                if last_judgments.open
                else []
            )
            for number, mine in enumerate(own, 1):
                row = st.columns([6, 2, 1])
                row[0].text(f"{number}. {mine.source_start}")
                row[1].caption(f"{_(LETTER_LABEL[mine.choice])} (v{mine.version})")
                row[2].button(_("Edit"), key=f"edit::{mine.token}", on_click=_start_edit, args=(mine,))


pair_view()
