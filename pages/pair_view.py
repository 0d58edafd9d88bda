"""One pair as an annotator sees it, the same on the Annotate page (pages/annotate.py) and in a crowd study's
training and task (pages/study.py): the texts (folding on a phone, until "Show the whole texts"), the four
choice buttons with their shortcuts (a fragment of their own: a choice reruns only them), the optional
criterion scores and the comment. Each page keeps its own Submit and what it does with the answer; both read
it back with `answer`.

The widgets' state lives under keys made from the pair's `form_key` (`choice::`, `score::`, `comment::`,
`show_all::`), so a new pair starts blank and an edit can be filled in before it is drawn. Model outputs are
untrusted and shown with `st.text` (no Markdown, no HTML). pages/annotate_layout.py holds the phone CSS that
works on the containers' keys used here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

from pages.i18n import N_, format_number
from pages.plain_text import escape_markdown

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
SCORE_LABEL_PX = 260  # a criterion's name and description, beside its A and B scores


@dataclass(frozen=True)
class Answer:
    """What the annotator entered for a pair: the choice (None when none yet), scores per criterion and side,
    and the comment (None when empty)."""

    choice: str | None
    scores: dict[str, dict[str, int]]
    comment: str | None


def box_height(*texts: str | None, px: int) -> int | str:
    """'content' when every text is short, else `px` (the same for A and B, so neither side stands out)."""
    short = all(len(t or "") <= SHORT_TEXT_CHARS and (t or "").count("\n") <= SHORT_TEXT_LINES for t in texts)
    return "content" if short else px


def choose(form_key: str, letter: str) -> None:
    """A choice button's callback."""
    st.session_state[f"choice::{form_key}"] = letter


def answer(form_key: str, criteria: Sequence[str]) -> Answer:
    """The pair's answer as its widgets hold it (read in a Submit callback)."""
    scores = {}
    for name in criteria:
        by_side = {s: st.session_state.get(f"score::{form_key}::{name}::{s}") for s in ("A", "B")}
        by_side = {s: v for s, v in by_side.items() if v is not None}
        if by_side:
            scores[name] = by_side
    comment = (st.session_state.get(f"comment::{form_key}") or "").strip() or None
    return Answer(st.session_state.get(f"choice::{form_key}"), scores, comment)


def texts(
    form_key: str,
    gettext: Callable[[str], str],
    text_a: str,
    text_b: str,
    source: str | None = None,
    prompt: str | None = None,
    references: Sequence[str] = (),
) -> None:
    """The source (and references), outputs A and B side by side, and the "Show the whole texts" toggle.

    Texts fold: a long one gets a bounded box that scrolls on its own, on a phone every one does (CSS on the
    `fold-` keys), until the annotator turns on "Show the whole texts" for this pair."""
    _ = gettext
    show_all = st.session_state.get(f"show_all::{form_key}", False)
    fold = "open" if show_all else "fold"

    def height(*shown: str | None, px: int) -> int | str:
        return "content" if show_all else box_height(*shown, px=px)

    # Every element is a message to the browser on every Submit: no container where none is needed.
    source_col, reference_col = st.columns(2) if references else (contextlib.nullcontext(), None)
    with source_col:
        source_label = _("Source") if source else _("Prompt")
        st.markdown(f"**{source_label}**")
        source_text = source or prompt or ""
        with st.container(border=True, height=height(source_text, px=SOURCE_BOX_PX), key=f"{fold}-source"):
            st.text(source_text)
    if reference_col is not None:
        with reference_col:
            for number, reference in enumerate(references, 1):
                several = len(references) > 1
                label = _("Reference {number}").format(number=number) if several else _("Reference")
                st.markdown(f"**{label}**")
                with st.container(
                    border=True, height=height(reference, px=SOURCE_BOX_PX), key=f"{fold}-reference-{number}"
                ):
                    st.text(reference)

    left, right = st.columns(2)
    output_height = height(text_a, text_b, px=OUTPUT_BOX_PX)
    for column, letter, text in ((left, "A", text_a), (right, "B", text_b)):
        with column:
            st.markdown(f"### {letter}")
            with st.container(border=True, height=output_height, key=f"{fold}-output-{letter}"):
                st.text(text)
    all_short = box_height(source_text, *references, text_a, text_b, px=OUTPUT_BOX_PX) == "content"
    with st.container(key="show_all_short" if all_short else "show_all_long"):  # then only a phone folds them
        st.toggle(_("Show the whole texts"), key=f"show_all::{form_key}")


# A choice reruns only its own buttons (a fragment inside the pair's): the pair, the progress and the store
# are not touched until Submit.
@st.fragment
def choice_bar(form_key: str, gettext: Callable[[str], str]) -> None:
    """The four choice buttons and the choice made; on a phone they stick to the bottom of the screen."""
    _ = gettext
    chosen = st.session_state.get(f"choice::{form_key}")
    # One wrapping row (not four columns: fewer elements to send per Submit), the choice made at its end.
    with st.container(key="choice_bar", horizontal=True):
        for letter, label, shortcut in CHOICES:
            st.button(
                _(label),
                key=f"choose::{form_key}::{letter}",
                shortcut=shortcut,
                type="primary" if chosen == letter else "secondary",
                on_click=choose,
                args=(form_key, letter),
                width="stretch",
            )
        st.caption(
            _("Your choice: {choice}").format(choice=_(LETTER_LABEL[chosen]))
            if chosen
            else _("Your choice: none yet")
        )


def scores_and_comment(
    form_key: str,
    criteria: Sequence,
    comment_limit: int,
    language: str,
    gettext: Callable[[str], str],
    ngettext: Callable[[str, str, int], str],
) -> None:
    """The optional scores per criterion and side, and the comment (a longer one is said, never cut)."""
    _, _n = gettext, ngettext
    if criteria:
        st.markdown(_("**Scores** (optional; 1 = poor, 5 = excellent)"))
        for criterion in criteria:
            options = list(range(criterion.min_score, criterion.max_score + 1))
            # A wrapping row per criterion (its name and description in one element, then A and B): a third of
            # the elements that columns took, each a message to the browser on every Submit.
            label = escape_markdown(_(criterion.name.capitalize()))
            if criterion.description:
                label += f"  \n:small[:gray[{escape_markdown(_(criterion.description))}]]"
            with st.container(
                horizontal=True, vertical_alignment="center", key=f"score-row-{criterion.name}"
            ):
                st.markdown(label, width=SCORE_LABEL_PX)
                for side in ("A", "B"):
                    st.segmented_control(side, options, key=f"score::{form_key}::{criterion.name}::{side}")
    # No max_chars: the browser would cut a longer paste without a word. A longer comment is kept in the box,
    # said here, and refused by the store (CommentTooLong) until it is shortened: nothing is ever cut.
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
        too_long = _("Your comment has {length} characters, over the limit of {limit}: shorten it to submit.")
        st.warning(
            too_long.format(
                length=format_number(len(comment.strip()), language),
                limit=format_number(comment_limit, language),
            )
        )
