"""What a Submit on the annotate page does not pay for: the last judgments are read and drawn only while
their list is open, "Undo last" reads the last judgment when it is clicked, and a Submit checks the session
once."""

from __future__ import annotations

from helpers.login_as import login_as

from annotations.accounts import sessions
from annotations.judging import judgments
from annotations.judging.judgments import judgments_frame
from pages.shared import SESSION_KEY, store

CHECKED_KEY = "_session_checked_by_callback"  # pages/annotate.py (importing a page runs it)


def _annotate(open_page, user):
    at = open_page("annotate")
    login_as(at, user)
    return at.run()


def _current_token(at) -> str:
    return next(b.key for b in at.button if b.key and b.key.startswith("choose::")).split("::")[1]


def _judge(at, choice: str = "A") -> str:
    token = _current_token(at)
    at.button(key=f"choose::{token}::{choice}").click().run()
    at.button(key="submit").click().run()
    return token


def _edit_buttons(at) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith("edit::")]


def test_last_judgments_are_drawn_only_while_their_list_is_open(open_page, app_env, annotator, campaign):
    at = _annotate(open_page, annotator)
    assert not [e for e in at.expander if "last judgments" in e.label]  # nothing judged: no list
    first = _judge(at)
    second = _judge(at)
    assert [e for e in at.expander if "last judgments" in e.label]
    assert _edit_buttons(at) == []  # closed: no rows drawn, none read
    at.session_state["last_judgments"] = True  # the annotator opens the list
    at.run()
    assert _edit_buttons(at) == [f"edit::{second}", f"edit::{first}"]  # newest first
    at.button(key=f"edit::{first}").click().run()
    assert "editing an earlier judgment (version 1)" in at.info[0].value


def test_undo_last_edits_the_judgment_that_is_last_when_clicked(open_page, app_env, annotator, campaign):
    at = _annotate(open_page, annotator)
    _judge(at)
    # Another tab of the same annotator judges the pair this tab shows: it is now the last judgment.
    shown = _current_token(at)
    judgments.submit(app_env, shown, annotator.user_id, "B")
    at.button(key="undo_last").click().run()
    assert "editing an earlier judgment (version 1)" in at.info[0].value
    assert _current_token(at) == f"{shown}-e1"


def test_a_submit_checks_the_session_once_and_leaves_no_flag(open_page, app_env, annotator, campaign):
    at = _annotate(open_page, annotator)
    _judge(at)
    assert len(judgments_frame(app_env, campaign)) == 1
    assert CHECKED_KEY not in at.session_state  # the pair's run took the callback's check: nothing left over


def test_a_submit_after_the_session_ended_stores_nothing(open_page, app_env, annotator, campaign):
    at = _annotate(open_page, annotator)
    token = _current_token(at)
    at.button(key=f"choose::{token}::A").click().run()
    sessions.revoke(store(), at.session_state[SESSION_KEY])  # a logout in another tab
    at.button(key="submit").click().run()
    assert len(judgments_frame(app_env, campaign)) == 0
    assert CHECKED_KEY not in at.session_state
    assert "Please log in first." in [e.value for e in at.error]
