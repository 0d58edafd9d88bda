"""The crowd room: study links per platform, the secret, one account per participant id bound to its first
session, the phases, attention checks kept apart from judgments, and the per-participant outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from annotations import store
from annotations.accounts import sessions, users
from annotations.accounts.logins import log_in
from annotations.campaigns import campaign_judges
from annotations.crowd import (
    CrowdLinkError,
    PhaseError,
    StudyConfig,
    advance,
    answer_attention,
    answer_training,
    arrive,
    check_outcomes,
    finish_task,
    finish_training,
    next_attention_check,
    next_training_item,
    open_study,
    parse_arrival,
    participant_outcomes,
    phase_outcomes,
    read_link,
    read_training,
    record_consent,
    record_instructions_read,
    study_link,
    task_state,
)
from annotations.crowd.config import StudyConfigError
from annotations.crowd.links import completion_target
from annotations.crowd.participants import participant_of_user
from annotations.judging import assignment, judgments

PROLIFIC = {"PROLIFIC_PID": "5f1e2d3c4b5a69788796a5b4", "STUDY_ID": "s1", "SESSION_ID": "x1"}


def _prolific(**overrides) -> StudyConfig:
    settings = dict(
        platform="prolific", consent_text="You agree.", completion_code="C0MPL", screen_out_code="SCR33N"
    )
    settings.update(overrides)
    return StudyConfig(**settings)


def _link_params(study_id: str, secret: str, **params) -> dict:
    return {"study": study_id, "key": secret, **params}


# ------------------------------------------------------------------------------------------------ links
def test_prolific_arrival_reads_its_three_ids():
    arrival = parse_arrival(_prolific(), {**PROLIFIC, "lang": "pt-BR"})
    assert arrival.participant_id == PROLIFIC["PROLIFIC_PID"]
    assert arrival.platform_ids == {"STUDY_ID": "s1", "SESSION_ID": "x1"}
    assert arrival.language == "pt" and not arrival.preview


def test_mturk_preview_admits_nobody_and_submit_host_is_checked():
    config = StudyConfig(platform="mturk", completion_code="DONE")
    assert parse_arrival(config, {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "h"}).preview
    good = {
        "workerId": "A1B2C3",
        "assignmentId": "3AB",
        "hitId": "H1",
        "turkSubmitTo": "https://www.mturk.com",
    }
    arrival = parse_arrival(config, good)
    assert arrival.participant_id == "A1B2C3"
    assert (
        completion_target(config, arrival.platform_ids, "DONE")
        == "https://www.mturk.com/mturk/externalSubmit"
    )
    with pytest.raises(CrowdLinkError) as e:
        parse_arrival(config, {**good, "turkSubmitTo": "https://evil.example"})
    assert e.value.reason == "bad_parameter"
    with pytest.raises(CrowdLinkError):
        parse_arrival(config, {k: v for k, v in good.items() if k != "hitId"})


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "no_participant"),
        ({"PROLIFIC_PID": "  "}, "no_participant"),
        ({"PROLIFIC_PID": "{{%PROLIFIC_PID%}}"}, "placeholder"),
        ({"PROLIFIC_PID": "a b<script>"}, "bad_parameter"),
        ({"PROLIFIC_PID": "abc", "lang": "klingon"}, "bad_parameter"),
    ],
)
def test_bad_parameters_are_refused_with_a_reason(params, reason):
    with pytest.raises(CrowdLinkError) as e:
        parse_arrival(_prolific(), params)
    assert e.value.reason == reason


def test_generic_panel_uses_its_parameter_and_links_carry_placeholders():
    config = StudyConfig(
        platform="generic",
        id_parameter="pid",
        completion_code="OK1",
        completion_url="https://panel.example/done?c={code}",
    )
    assert parse_arrival(config, {"pid": "p-17"}).participant_id == "p-17"
    assert completion_target(config, {}, "OK1") == "https://panel.example/done?c=OK1"
    assert study_link("https://app.example/", "stu-1", "s3cret", config).endswith("&pid=PARTICIPANT_ID")
    prolific_link = study_link("https://app.example", "stu-1", "s3cret", _prolific())
    assert prolific_link.startswith(
        "https://app.example/?study=stu-1&key=s3cret&PROLIFIC_PID={{%PROLIFIC_PID%}}"
    )
    assert (
        completion_target(_prolific(), {}, "C0MPL")
        == "https://app.prolific.com/submissions/complete?cc=C0MPL"
    )
    with pytest.raises(StudyConfigError):
        StudyConfig(platform="generic", id_parameter="key", completion_code="x")
    with pytest.raises(StudyConfigError):
        StudyConfig(platform="prolific", completion_code="")


def test_training_file_is_read_from_csv_or_yaml_and_checked():
    csv_items = read_training("item_id,gold,explanation\nitem-000,A,A is right\nitem-001,tie,\n")
    yaml_items = read_training(
        "- {item_id: item-000, gold: A, explanation: A is right}\n- {item_id: item-001, gold: tie}\n",
        "t.yaml",
    )
    assert csv_items == yaml_items and csv_items[0].explanation == "A is right"
    with pytest.raises(StudyConfigError, match="item 1"):
        read_training("item_id,gold\n,A\n")


# ---------------------------------------------------------------------------------------- secret, binding
def test_only_the_secret_hash_is_stored_and_a_wrong_key_is_refused(con, make_campaign):
    campaign_id = make_campaign()
    opened = open_study(con, campaign_id, _prolific())
    stored = con.execute("SELECT secret_hash FROM crowd_studies").fetchone()[0]
    assert stored == sessions.token_hash(opened.secret) and opened.secret not in stored
    for params, reason in (
        ({"key": opened.secret, **PROLIFIC}, "no_study"),
        (_link_params("stu-nope", opened.secret, **PROLIFIC), "no_study"),
        (_link_params(opened.study_id, "", **PROLIFIC), "bad_key"),
        (_link_params(opened.study_id, opened.secret + "x", **PROLIFIC), "bad_key"),
    ):
        with pytest.raises(CrowdLinkError) as e:
            read_link(con, params)
        assert e.value.reason == reason
    study, arrival = read_link(con, _link_params(opened.study_id, opened.secret, **PROLIFIC))
    assert study.campaign_id == campaign_id and arrival.participant_id == PROLIFIC["PROLIFIC_PID"]


def test_first_arrival_binds_a_session_and_no_second_account_or_browser(con, make_campaign):
    campaign_id = make_campaign()
    researcher = users.create_user(con, "rita", "velvet-harbor-pines-29", "researcher")
    other = users.create_user(con, "otto", "velvet-harbor-pines-30", "annotator")
    opened = open_study(con, campaign_id, _prolific(), created_by=researcher.user_id)
    study, arrival = read_link(con, _link_params(opened.study_id, opened.secret, **PROLIFIC))
    first = arrive(con, study, arrival)
    assert first.new_session is not None and first.participant.phase == "consent"
    user_id = first.participant.user_id
    # the campaign is now limited to its researcher and its participants: other accounts get nothing
    assert set(campaign_judges(con, campaign_id)) == {researcher.user_id, user_id}
    assert assignment.open_campaigns(con, other.user_id) == {}
    # the same browser (its bound session) resumes, and no new account or session is made
    again = arrive(con, study, arrival, session_id=first.new_session.session_id)
    assert again.resumed and again.participant.user_id == user_id
    # a second browser with the copied link (no session, or another one) is refused, and counted
    for session_id in (None, sessions.start(con, other.user_id).session_id):
        with pytest.raises(CrowdLinkError) as e:
            arrive(con, study, arrival, session_id=session_id)
        assert e.value.reason == "bound_elsewhere"
    assert con.execute("SELECT count(*) FROM users WHERE created_by LIKE 'crowd:%'").fetchone()[0] == 1
    assert con.execute("SELECT refused_arrivals FROM crowd_participants").fetchone()[0] == 2
    # the same platform id in a second study keeps its one account
    second = open_study(con, campaign_id, _prolific())
    study2, arrival2 = read_link(con, _link_params(second.study_id, second.secret, **PROLIFIC))
    assert arrive(con, study2, arrival2).participant.user_id == user_id
    assert con.execute("SELECT count(*) FROM crowd_accounts").fetchone()[0] == 1
    # the account has no password: no login can match it
    username = con.execute("SELECT username FROM users WHERE user_id = ?", [user_id]).fetchone()[0]
    assert log_in(con, username, "", "local").user is None
    assert log_in(con, username, "!crowd: no password", "local").user is None


def test_a_closed_study_takes_no_new_participant(con, make_campaign):
    from annotations.crowd import close_study

    opened = open_study(con, make_campaign(), _prolific())
    close_study(con, opened.study_id)
    study, arrival = read_link(con, _link_params(opened.study_id, opened.secret, **PROLIFIC))
    with pytest.raises(CrowdLinkError) as e:
        arrive(con, study, arrival)
    assert e.value.reason == "closed"


# -------------------------------------------------------------------------------------------------- phases
def test_phase_machine_has_only_the_path():
    assert advance("consent", "agree") == "instructions"
    assert advance("consent", "decline") == "screened_out"
    assert advance("instructions", "continue") == "training"
    assert advance("instructions", "continue_without_training") == "task"
    assert advance("training", "pass") == "task" and advance("training", "fail") == "screened_out"
    assert advance("task", "finish") == "complete"
    for phase, event in (
        ("consent", "pass"),
        ("complete", "agree"),
        ("screened_out", "agree"),
        ("task", "agree"),
    ):
        with pytest.raises(PhaseError):
            advance(phase, event)


def _enter(con, make_campaign, **overrides):
    campaign_id = make_campaign(**overrides.pop("campaign", {}))
    opened = open_study(con, campaign_id, _prolific(**overrides))
    study, arrival = read_link(con, _link_params(opened.study_id, opened.secret, **PROLIFIC))
    return study, arrive(con, study, arrival).participant


def test_declining_consent_screens_out_and_is_stored(con, make_campaign):
    study, participant = _enter(con, make_campaign)
    assert record_consent(con, participant, agreed=False) == "screened_out"
    with pytest.raises(PhaseError):  # a resent "I agree" changes nothing
        record_consent(con, participant, agreed=True)
    outcomes = participant_outcomes(con, study.campaign_id)
    assert outcomes.loc[0, "outcome"] == "screened_out" and outcomes.loc[0, "consent"] == "declined"


def _answer_all(con, participant, study, right: set[str]):
    """Answer every training item: right on the items in `right`, wrong on the others."""
    while (pair := next_training_item(con, participant, study)) is not None:
        item = next(t for t in study.config.training if t.item_id == pair.item_id)
        # the right choice as shown to this participant (the outputs name their system)
        systems = con.execute("SELECT system_a, system_b FROM campaigns").fetchone()
        left_text = pair.text_a
        left_system = next(s for s in systems if s in left_text)
        right_choice = (
            item.gold if item.gold in ("tie", "both_bad") else ("A" if item.gold == left_system else "B")
        )
        wrong_choice = "both_bad" if right_choice != "both_bad" else "tie"
        feedback = answer_training(
            con, participant, study, pair.item_id, right_choice if pair.item_id in right else wrong_choice
        )
        assert feedback.correct == (pair.item_id in right)
        assert feedback.gold_choice == right_choice and feedback.explanation == item.explanation


TRAINING = [
    {"item_id": "item-000", "gold": "A", "explanation": "A keeps the facts."},
    {"item_id": "item-001", "gold": "B", "explanation": "B is shorter."},
]


def test_training_below_the_threshold_screens_out(con, make_campaign):
    study, participant = _enter(con, make_campaign, training=TRAINING, qualification=1.0)
    record_consent(con, participant, agreed=True)
    assert record_instructions_read(con, participant, study) == "training"
    with pytest.raises(PhaseError):
        finish_training(con, participant, study)  # not every item answered
    _answer_all(con, participant, study, right={"item-000"})
    assert finish_training(con, participant, study) == "screened_out"
    row = participant_outcomes(con).iloc[0]
    assert row.qualification == "failed" and row.training_score == pytest.approx(0.5)


def test_task_with_gold_attention_checks_quota_and_completion(con, make_campaign):
    study, participant = _enter(
        con,
        make_campaign,
        training=TRAINING,
        qualification=0.5,
        quota=5,
        attention_every=2,
        campaign={"gold_rate": 0.25, "k": 1, "gold_items": {"item-010": "base", "item-011": "finetuned"}},
    )
    record_consent(con, participant, agreed=True)
    record_instructions_read(con, participant, study)
    _answer_all(con, participant, study, right={"item-000", "item-001"})
    assert finish_training(con, participant, study) == "task"
    participant = participant_of_user(con, participant.user_id)
    assert participant.task_started_at is not None
    checks = []
    while not (state := task_state(con, participant, study)).over:
        check = next_attention_check(con, participant, study, state.done)
        if check is not None:
            checks.append(check)
            # the first is instructed (A or B), the second two identical texts (a tie)
            answer_attention(
                con,
                participant,
                check.check_id,
                {"left": "A", "right": "B"}.get(check.expected, "tie") if len(checks) == 1 else "A",
            )
            continue
        pair = assignment.next_item(con, study.campaign_id, participant.user_id)
        judgments.submit(con, pair.token, participant.user_id, "A")
    assert state.reason == "quota" and state.done == 5
    assert [c.kind for c in checks] == ["instructed", "identical"]
    # two identical outputs under the item's source, as any pair looks; the expected answer is a tie
    assert checks[1].expected == "tie" and checks[1].source.startswith("source text")
    assert con.execute("SELECT count(*) FROM outputs WHERE output = ?", [checks[1].text]).fetchone()[0] == 1
    assert finish_task(con, participant) == "complete"
    row = participant_outcomes(con, study.campaign_id).iloc[0]
    assert (row.outcome, row.attention_total, row.attention_passed, row.judged) == ("complete", 2, 1, 5)
    assert row.gold_total >= 1 and 0 <= row.gold_correct <= row.gold_total
    # the form Results' participant table takes: one failed check of two is a failed participant
    checks = check_outcomes(con, study.campaign_id)
    assert checks.columns.tolist() == ["user_id", "attention_passed", "gold_accuracy"]
    assert checks.user_id.tolist() == [participant.user_id] and checks.attention_passed.tolist() == [False]
    assert checks.gold_accuracy.iloc[0] == pytest.approx(row.gold_correct / row.gold_total)
    # attention checks never became judgments: only the 5 task pairs are stored as judgments
    assert con.execute("SELECT count(*) FROM judgments").fetchone()[0] == 5
    phases = phase_outcomes(con, study.campaign_id)
    assert phases.phase.tolist() == ["consent", "instructions", "training", "task"]
    assert phases.outcome.tolist() == ["agreed", "read", "passed", "completed"]


def test_time_limit_ends_the_task(con, make_campaign):
    study, participant = _enter(con, make_campaign, consent_text="", time_limit_minutes=10)
    assert participant.phase == "instructions"
    record_instructions_read(con, participant, study)
    participant = participant_of_user(con, participant.user_id)
    later = participant.task_started_at + timedelta(minutes=11)
    assert task_state(con, participant, study, now=later).reason == "time_limit"
    assert 0 < task_state(con, participant, study).seconds_left <= 600


def test_open_study_checks_training_items_against_the_campaign(con, make_campaign):
    campaign_id = make_campaign()
    with pytest.raises(StudyConfigError, match="not an item"):
        open_study(con, campaign_id, _prolific(training=[{"item_id": "nope", "gold": "A"}]))
    with pytest.raises(StudyConfigError, match="gold must be"):
        open_study(con, campaign_id, _prolific(training=[{"item_id": "item-000", "gold": "C"}]))
    assert con.execute("SELECT count(*) FROM crowd_studies").fetchone()[0] == 0
    assert store.schema_version(con) >= 14
