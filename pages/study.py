"""A crowd study, as its participant sees it: arrival through the study link, consent, instructions, training
with feedback, the task (pairs with silent gold items and attention checks), and the completion or screen-out
page with the platform's code and redirect.

Thin: annotations.crowd admits, binds and moves the participant through the phases; annotations.judging serves
and stores the pairs (blind, balanced sides, the participant's own order, k-overlap, leases) exactly as on the
Annotate page. The page speaks the participant's language (the link's `lang=`, else the campaign's). Every bad
link or parameter ends on a clear page in that language, never a traceback.
"""

from __future__ import annotations

import html

import streamlit as st
import streamlit.components.v1 as components

from annotations import crowd
from annotations.accounts.users import get_user
from annotations.campaigns import campaign_config
from annotations.crowd.links import completion_target
from annotations.crowd.participants import finish_training, next_training_item, participant_of_session
from annotations.errors import AnnotationError, WriteFailed
from annotations.judging import assignment, judgments
from pages import pair_view
from pages.annotate_layout import phone_css, scroll_to_top
from pages.i18n import format_number, gettext_for, ngettext_for
from pages.plain_text import escape_markdown
from pages.shared import SESSION_KEY, client, current_user, log_in, signed_in, store
from pages.study_messages import CHOICES, REFUSALS, SIDE_LETTER

con = store()
params = st.query_params.to_dict()
language = params.get("lang") if params.get("lang") in ("en", "pt") else None
_, _n = gettext_for(language), ngettext_for(language)


def refuse(reason: str) -> None:
    """A clear page for a refused link, and nothing else."""
    st.title(_("Study"))
    st.error(_(REFUSALS.get(reason, REFUSALS["bad_parameter"])))
    st.stop()


user = current_user()
session_id = st.session_state.get(SESSION_KEY) if user is not None else None
participant = participant_of_session(con, session_id) if session_id else None
if params.get("study"):
    try:
        study, arrival = crowd.read_link(con, params)
    except crowd.CrowdLinkError as e:
        refuse(e.reason)
    if language is None:
        language = arrival.language or campaign_config(con, study.campaign_id).language
        _, _n = gettext_for(language), ngettext_for(language)
    if arrival.preview:  # MTurk's preview: the instructions, nothing judged, nobody admitted
        st.title(_("Study"))
        st.info(_("This is a preview. Accept the task to start."))
        st.text(_(campaign_config(con, study.campaign_id).instructions))
        st.stop()
    same = participant is not None and (participant.study_id, participant.participant_id) == (
        study.study_id,
        arrival.participant_id,
    )
    if not same:
        try:
            entry = crowd.arrive(con, study, arrival, session_id=session_id, client=client())
        except crowd.CrowdLinkError as e:
            refuse(e.reason)
        if entry.new_session is not None:
            log_in(get_user(con, entry.participant.user_id), started=entry.new_session)
            st.rerun()
        participant = entry.participant
elif participant is None:
    refuse("not_participant")
study = crowd.get_study(con, participant.study_id)
config = campaign_config(con, study.campaign_id)
language = participant.language or config.language
_, _n = gettext_for(language), ngettext_for(language)
st.title(_("Study"))


def _go(action, *args) -> None:
    """Run a phase's step, then redraw; a resent button of a phase already left changes nothing."""
    try:
        action(*args)
    except crowd.PhaseError:
        pass
    st.rerun()


def _flash(kind: str, text: str) -> None:
    st.session_state["flash"] = (kind, text)


def pair_form(
    form_key: str, text_a: str, text_b: str, source: str, on_submit, args: tuple, criteria=()
) -> None:
    """A pair drawn exactly as on the Annotate page (pages/pair_view.py: texts that fold on a phone, the
    choice bar with its shortcuts, scores, comment), with this page's Submit; a new pair starts at its top."""
    scroll_to_top(form_key)
    flash = st.session_state.pop("flash", None)
    if flash:
        getattr(st, flash[0])(flash[1])
    pair_view.texts(form_key, _, text_a, text_b, source=source)
    question = _("Which output is better?")
    st.markdown(f"**{question}**")
    pair_view.choice_bar(form_key, _)
    pair_view.scores_and_comment(form_key, criteria, config.max_comment_chars, language, _, _n)
    with st.container(horizontal=True, key="submit_bar"):
        st.button(
            _("Submit"), key="submit", type="primary", shortcut="Ctrl+Enter", on_click=on_submit, args=args
        )


def _entered(form_key: str, criteria=()) -> pair_view.Answer | None:
    """The answer entered for a pair, or None (and a warning) when no choice is made yet."""
    entered = pair_view.answer(form_key, [c.name for c in criteria])
    if entered.choice is None:
        _flash("warning", _("Choose A, B, tie or both bad first."))
        return None
    return entered


# Submit's callbacks run before the page, and only while the tab's session is live (pages/shared.signed_in).
@signed_in
def _answer_training(form_key: str, item_id: str) -> None:
    entered = _entered(form_key)
    if entered is not None:
        crowd.answer_training(con, participant, study, item_id, entered.choice)
        st.session_state["training_feedback"] = item_id


@signed_in
def _answer_check(form_key: str, check_id: str, criteria) -> None:
    entered = _entered(form_key, criteria)
    if entered is not None:
        crowd.answer_attention(con, participant, check_id, entered.choice)


@signed_in
def _submit_pair(form_key: str, token: str, criteria) -> None:
    entered = _entered(form_key, criteria)
    if entered is None:
        return
    try:
        judgments.submit(con, token, participant.user_id, entered.choice, entered.scores, entered.comment)
    except WriteFailed:  # e.g. a full disk: nothing was stored; the choice stays on the page for a retry
        _flash("error", _("Saving failed: your judgment was not stored. Try again."))
    except AnnotationError as e:
        _flash("error", escape_markdown(e))


def _next_training() -> None:
    st.session_state.pop("training_feedback", None)


def end_page(code: str, completed: bool) -> None:
    """The completion or screen-out page: the code and the way back to the panel."""
    if completed:
        st.success(_("Thank you! You have completed the study."))
    else:
        st.info(_("Thank you for your time. This study ends here for you."))
    if code:
        st.markdown(_("Your code: **{code}**").format(code=code))
    target = completion_target(study.config, participant.platform_ids, code) if code else None
    if study.platform == "mturk":
        if not completed:
            st.info(_("Please return the task on MTurk."))
        elif target:
            assignment_id = html.escape(participant.platform_ids.get("assignmentId", ""))
            label = html.escape(_("Submit the task to MTurk"))
            components.html(
                f'<form method="POST" action="{html.escape(target)}" target="_top">'
                f'<input type="hidden" name="assignmentId" value="{assignment_id}">'
                f'<input type="hidden" name="completionCode" value="{html.escape(code)}">'
                f'<button type="submit" style="font-size:1.1rem;padding:.5rem 1rem">{label}</button></form>',
                height=70,
            )
    elif target:
        st.link_button(_("Back to the panel"), target, type="primary")
    else:
        st.caption(_("You may close this window."))


# Training and the task are fragments: a click reruns only the pair and its buttons, not the page around it
# (the link, the participant's binding and the study are read once per page run).
@st.fragment
def training_view() -> None:
    """A training pair, then the feedback on the answer (the gold answer and the researcher's explanation)."""
    if current_user() is None:
        st.rerun(scope="app")
    st.subheader(_("Training"))
    shown = st.session_state.get("training_feedback")
    feedback = crowd.training_feedback(con, participant, study, shown) if shown else None
    if feedback is not None:
        if feedback.correct:
            st.success(_("Correct."))
        else:
            st.warning(
                _("Not quite: the expected answer was “{choice}”.").format(
                    choice=_(CHOICES[feedback.gold_choice])
                )
            )
        if feedback.explanation:
            st.text(feedback.explanation)
        st.button(_("Next"), type="primary", key="training_next", on_click=_next_training)
        return
    pair = next_training_item(con, participant, study)
    if pair is None:
        _go(finish_training, con, participant, study)
    st.caption(
        _("Training pair {number} of {total}").format(
            number=format_number(pair.number, language), total=format_number(pair.total, language)
        )
    )
    form_key = f"training::{pair.item_id}"
    pair_form(form_key, pair.text_a, pair.text_b, pair.source, _answer_training, (form_key, pair.item_id))


@st.fragment
def task_view() -> None:
    """The progress, then an attention check when one is due (it looks like any pair and is stored apart
    from the judgments), else the participant's next pair; the end when the quota, pairs or time run out."""
    if current_user() is None:
        st.rerun(scope="app")
    state = crowd.task_state(con, participant, study)
    if state.over:
        _go(crowd.finish_task, con, participant, "completed" if state.reason == "quota" else "time_limit")
    if state.quota:
        st.progress(
            min(1.0, state.done / state.quota),
            text=_("{done} of {quota} pairs judged").format(
                done=format_number(state.done, language), quota=format_number(state.quota, language)
            ),
        )
    if state.seconds_left is not None:
        st.caption(
            _("Time left: {minutes} min").format(
                minutes=format_number(int(state.seconds_left // 60), language)
            )
        )
    criteria = list(config.criteria)
    check = crowd.next_attention_check(con, participant, study, state.done)
    if check is not None:
        text = check.text or _("This is an attention check. Please choose “{choice}”.").format(
            choice=_(CHOICES[SIDE_LETTER[check.expected]])
        )
        form_key = f"check::{check.check_id}"
        pair_form(
            form_key, text, text, check.source, _answer_check, (form_key, check.check_id, criteria), criteria
        )
        return
    try:
        pair = assignment.next_item(con, study.campaign_id, participant.user_id)
    except AnnotationError as e:
        st.error(escape_markdown(e))
        return
    if pair is None:
        _go(crowd.finish_task, con, participant, "completed")
    form_key = f"pair::{pair.token}"
    pair_form(
        form_key,
        pair.text_a,
        pair.text_b,
        pair.source or pair.prompt or "",
        _submit_pair,
        (form_key, pair.token, pair.criteria),
        pair.criteria,
    )


phase = participant.phase
if phase == "consent":
    st.subheader(_("Consent"))
    st.text(study.config.consent_text)
    agree, decline = st.columns(2)
    if agree.button(_("I agree"), type="primary", key="consent_yes"):
        _go(crowd.record_consent, con, participant, True)
    if decline.button(_("I do not agree"), key="consent_no"):
        _go(crowd.record_consent, con, participant, False)
elif phase == "instructions":
    st.subheader(_("Instructions"))
    st.text(_(config.instructions))  # the default instructions are in the catalog; a researcher's own are not
    if study.config.training:
        st.caption(
            _n(
                "First comes {count} training pair with feedback.",
                "First come {count} training pairs with feedback.",
                len(study.config.training),
            ).format(count=format_number(len(study.config.training), language))
        )
    if st.button(_("Begin"), type="primary", key="begin"):
        _go(crowd.record_instructions_read, con, participant, study)
elif phase == "training":
    phone_css()
    training_view()
elif phase == "task":
    phone_css()
    task_view()
elif phase == "complete":
    end_page(study.config.completion_code, completed=True)
else:
    end_page(study.config.screen_out_code, completed=False)
