"""The study page (pages/study.py through streamlit_app.py), driven by AppTest: a Prolific participant goes
from the link through consent, training and the task to the completion code; a copied link in another browser
is refused; bad links end on a clear page, never a traceback; the participant's language comes from the
link."""

from __future__ import annotations

import pytest

from annotations.crowd import StudyConfig, open_study, participant_outcomes
from pages.study_messages import REFUSALS

PID = "5f1e2d3c4b5a69788796a5b4"
TRAINING = [{"item_id": "item-000", "gold": "tie", "explanation": "Both say the same."}]


@pytest.fixture
def study(app_env, campaign, researcher):
    config = StudyConfig(
        platform="prolific",
        consent_text="You agree to take part.",
        completion_code="C0MPL3",
        screen_out_code="SCR33N",
        training=TRAINING,
        qualification=1.0,
        quota=2,
    )
    return open_study(app_env, campaign, config, created_by=researcher.user_id)


def _arrive(open_page, params: dict):
    at = open_page("streamlit_app")
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def _link(study, **extra) -> dict:
    return {
        "study": study.study_id,
        "key": study.secret,
        "PROLIFIC_PID": PID,
        "STUDY_ID": "s",
        "SESSION_ID": "x",
        **extra,
    }


def _texts(at) -> str:
    return " ".join(
        str(e.value) for e in [*at.error, *at.info, *at.success, *at.warning, *at.markdown, *at.text]
    )


def _click(at, label: str):
    next(b for b in at.button if b.label == label).click()
    return at.run()


def _submit(at, letter: str):
    """Tap a choice button (the Annotate page's choice bar), then Submit."""
    next(
        b for b in at.button if (b.key or "").startswith("choose::") and b.key.endswith(f"::{letter}")
    ).click()
    return _click(at.run(), "Submit")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"study": "stu-unknown", "key": "k", "PROLIFIC_PID": PID}, "no_study"),
        ({"PROLIFIC_PID": PID}, None),  # no study: the login page, as before
    ],
)
def test_bad_links_end_on_a_clear_page(open_page, study, params, reason):
    at = _arrive(open_page, params)
    assert not at.exception
    if reason:
        assert REFUSALS[reason] in _texts(at)


def test_wrong_key_and_unfilled_placeholder_are_refused(open_page, study):
    at = _arrive(open_page, _link(study, key=study.secret[:-1] + "!"))
    assert not at.exception and REFUSALS["bad_key"] in _texts(at)
    at = _arrive(open_page, _link(study, PROLIFIC_PID="{{%PROLIFIC_PID%}}"))
    assert not at.exception and REFUSALS["placeholder"] in _texts(at)


def test_prolific_participant_goes_from_link_to_completion_code(open_page, study, app_env, campaign):
    at = _arrive(open_page, _link(study))
    assert not at.exception, at.exception
    assert "You agree to take part." in _texts(at)
    at = _click(at, "I agree")
    at = _click(at, "Begin")
    at = _submit(at, "tie")  # the training item's gold answer
    assert "Correct." in _texts(at) and "Both say the same." in _texts(at)
    at = _click(at, "Next")
    for _ in range(2):  # the quota
        assert [e.value for e in at.markdown if e.value.startswith("###")] == ["### A", "### B"]
        at = _submit(at, "A")
    assert not at.exception
    assert "C0MPL3" in _texts(at)
    assert any(
        b.proto.url == "https://app.prolific.com/submissions/complete?cc=C0MPL3"
        for b in at.get("link_button")
    )
    row = participant_outcomes(app_env, campaign).iloc[0]
    assert (row.outcome, row.consent, row.qualification, row.judged) == ("complete", "agreed", "passed", 2)
    # the same link in another browser (no session) is refused; it does not act in the participant's name
    other = _arrive(open_page, _link(study))
    assert REFUSALS["bound_elsewhere"] in _texts(other) and "C0MPL3" not in _texts(other)


def test_declining_consent_gives_the_screen_out_code(open_page, study):
    at = _arrive(open_page, _link(study))
    at = _click(at, "I do not agree")
    assert "SCR33N" in _texts(at)


def test_the_link_chooses_the_language(open_page, study):
    at = _arrive(open_page, _link(study, lang="pt"))
    assert not at.exception
    assert at.title[0].value == "Estudo"
    assert any(b.label == "Concordo" for b in at.button)


def test_mturk_preview_shows_instructions_and_the_completion_posts_to_mturk(open_page, app_env, campaign):
    opened = open_study(app_env, campaign, StudyConfig(platform="mturk", completion_code="D0NE", quota=1))
    base = {"study": opened.study_id, "key": opened.secret}
    preview = _arrive(open_page, {**base, "assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "H1"})
    assert not preview.exception
    assert "This is a preview. Accept the task to start." in _texts(preview)
    assert app_env.execute("SELECT count(*) FROM crowd_participants").fetchone()[0] == 0  # nobody admitted
    worker = {
        "workerId": "A1W2",
        "assignmentId": "3AS1",
        "hitId": "H1",
        "turkSubmitTo": "https://www.mturk.com",
    }
    at = _arrive(open_page, {**base, **worker})
    at = _click(at, "Begin")  # no consent text: straight to the instructions, no training: the task
    at = _submit(at, "B")
    assert "D0NE" in _texts(at)
    form = at.get("iframe")[0].proto.srcdoc
    assert 'action="https://www.mturk.com/mturk/externalSubmit"' in form and 'value="3AS1"' in form
    evil = _arrive(open_page, {**base, **worker, "workerId": "A9", "turkSubmitTo": "https://evil.example"})
    assert REFUSALS["bad_parameter"] in _texts(evil)


def test_the_task_shows_the_pair_as_the_annotate_page_does_with_scores_and_comment(
    open_page, study, app_env, campaign
):
    from annotations.judging.judgments import judgments_frame, scores_frame

    at = _arrive(open_page, _link(study))
    at = _click(_click(at, "I agree"), "Begin")
    at = _click(_submit(at, "tie"), "Next")
    # the Annotate page's pair: the four choice buttons with their shortcuts, a toggle to unfold the texts,
    # the criterion scores and the comment; no radio form
    choices = [b for b in at.button if (b.key or "").startswith("choose::")]
    assert [b.label for b in choices] == ["A is better", "B is better", "Tie", "Both bad"]
    assert not at.radio and at.toggle[0].label == "Show the whole texts"
    assert at.get("segmented_control") and at.text_area[0].label.startswith("Comment")
    at = _click(at, "Submit")  # no choice yet: said, nothing stored
    assert "Choose A, B, tie or both bad first." in _texts(at)
    assert judgments_frame(app_env, campaign).empty
    first = at.get("segmented_control")[0]
    first.set_value(4)
    at.text_area[0].input("clear and short")
    at = _submit(at.run(), "B")
    stored = judgments_frame(app_env, campaign)
    assert len(stored) == 1 and stored.comment.iloc[0] == "clear and short"
    scores = scores_frame(app_env, campaign)
    assert list(scores.score) == [4] and scores.side.iloc[0] == "left"
    assert not at.exception and "1 of 2 pairs judged" in " ".join(
        str(p.proto.text) for p in at.get("progress")
    )


def test_a_submit_after_the_session_ended_stores_nothing(open_page, study, app_env, campaign):
    from annotations.accounts import sessions
    from annotations.judging.judgments import judgments_frame
    from pages.shared import SESSION_KEY, store

    at = _arrive(open_page, _link(study))
    at = _click(_click(at, "I agree"), "Begin")
    at = _click(_submit(at, "tie"), "Next")
    choice = next(b for b in at.button if (b.key or "").startswith("choose::") and b.key.endswith("::A"))
    at = choice.click().run()
    sessions.revoke(store(), at.session_state[SESSION_KEY])  # the session ends (expiry, a revoke)
    at = _click(at, "Submit")
    assert not at.exception
    assert judgments_frame(app_env, campaign).empty
    assert REFUSALS["bound_elsewhere"] in _texts(at)  # the bound browser's session is gone: a clear page
