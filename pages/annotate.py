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
from pages import pair_view
from pages.annotate_layout import phone_css, scroll_to_top
from pages.i18n import SHOWN_CAMPAIGN_KEY, format_number, gettext_for, ngettext_for, shown_campaign
from pages.plain_text import escape_markdown
from pages.shared import current_user, require_role, signed_in, store

# Set by a callback that `signed_in` let through: the session was checked in this very run, so the pair's own
# check after it would ask the store the same question again (one read per Submit saved).
CHECKED_KEY = "_session_checked_by_callback"


user = require_role("annotator", "researcher")
# A whole run checked the session just above; a flag left over from a callback must never skip a later check.
st.session_state.pop(CHECKED_KEY, None)
con = store()


def _flash(kind: str, text: str) -> None:
    st.session_state["flash"] = (kind, text)


@signed_in  # a callback runs before the page's own check: none may write for a session that has ended
def _send(token: str, form_key: str, base_version: int | None, criteria: list[str], language: str) -> None:
    st.session_state[CHECKED_KEY] = True
    _ = gettext_for(language)
    entered = pair_view.answer(form_key, criteria)
    choice, scores, comment = entered.choice, entered.scores, entered.comment
    if choice is None:
        _flash("warning", _("Choose A, B, tie or both bad first."))
        return
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


# Only the pair and its buttons rerun on a click (a fragment): the menu, the campaign list and the campaign's
# configuration are not redrawn for every judgment (bench/annotation_browser.py measures the server's CPU per
# pair). The campaign selectbox above and a reload run the whole page.
@st.fragment
def judge_pairs() -> None:
    """The progress, the pair, the choice, the scores and comment, Submit, and the last judgments to edit."""
    # A session that ended (a logout in another tab, expiry) reruns the whole app, which shows the login.
    if not st.session_state.pop(CHECKED_KEY, False) and current_user() is None:
        st.rerun(scope="app")
    flash = st.session_state.pop("flash", None)

    editing = st.session_state.get("editing")
    try:
        if editing:
            pair = assignment.view(con, editing[0], user.user_id)
            progress = assignment.progress(con, campaign_id, user.user_id)
            form_key, base_version = f"{editing[0]}-e{editing[1]}", editing[1]
        else:
            # The next pair and the progress from one claim: no second campaign-wide count per Submit.
            serving = assignment.serve(con, campaign_id, user.user_id)
            pair, progress = serving.pair, serving.progress
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
        pair_view.texts(form_key, _, pair.text_a, pair.text_b, pair.source, pair.prompt, pair.references)

        question = _("Which output is better?")
        st.markdown(f"**{question}**")
        pair_view.choice_bar(form_key, _)
        pair_view.scores_and_comment(form_key, pair.criteria, config.max_comment_chars, language, _, _n)

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
                row[1].caption(f"{_(pair_view.LETTER_LABEL[mine.choice])} (v{mine.version})")
                row[2].button(_("Edit"), key=f"edit::{mine.token}", on_click=_start_edit, args=(mine,))


judge_pairs()
