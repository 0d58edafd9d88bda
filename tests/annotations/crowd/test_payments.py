"""Paying and forgetting crowd participants (issue 22, item 5): the bonus files in the formats Prolific and
MTurk take, files named as personal data, and forgetting an id keeps the judgments under the anonymous
account."""

from __future__ import annotations

import pandas as pd
import pytest

from annotations.crowd import StudyConfig, arrive, open_study, read_link, record_instructions_read
from annotations.crowd.payments import (
    forget_participant,
    payments_frame,
    prolific_bonus_lines,
    write_payments,
)
from annotations.errors import AnnotationError
from annotations.judging import assignment, judgments

PID = "5f1e2d3c4b5a69788796a5b4"


def _judged(con, campaign_id: str, platform: str, params: dict, pairs: int) -> str:
    opened = open_study(con, campaign_id, StudyConfig(platform=platform, completion_code="DONE", quota=pairs))
    study, arrival = read_link(con, {"study": opened.study_id, "key": opened.secret, **params})
    participant = arrive(con, study, arrival).participant
    record_instructions_read(con, participant, study)
    for _ in range(pairs):
        pair = assignment.next_item(con, campaign_id, participant.user_id)
        judgments.submit(con, pair.token, participant.user_id, "A")
    return participant.user_id


def test_bonus_files_and_personal_data_names(con, make_campaign, tmp_path):
    campaign_id = make_campaign(k=2)
    _judged(con, campaign_id, "prolific", {"PROLIFIC_PID": PID}, 3)
    mturk = {
        "workerId": "A1W2",
        "assignmentId": "3AS1",
        "hitId": "H",
        "turkSubmitTo": "https://www.mturk.com",
    }
    _judged(con, campaign_id, "mturk", mturk, 2)
    frame = payments_frame(con, campaign_id, bonus_per_pair=0.5)
    assert prolific_bonus_lines(frame) == f"{PID},1.50\n"
    paths = write_payments(con, campaign_id, tmp_path / "pay", bonus_per_pair=0.5)
    assert all("PERSONAL_DATA" in p.name for p in paths)
    assert paths[1].read_text() == f"{PID},1.50\n"
    mturk_rows = pd.read_csv(paths[2]).to_dict("records")
    assert mturk_rows == [{"worker_id": "A1W2", "assignment_id": "3AS1", "amount": 1.0}]
    with pytest.raises(AnnotationError):
        payments_frame(con, campaign_id, bonus_per_pair=-1)


def test_forgetting_an_id_keeps_the_judgments(con, make_campaign):
    campaign_id = make_campaign()
    user_id = _judged(con, campaign_id, "prolific", {"PROLIFIC_PID": PID}, 2)
    anonymous = forget_participant(con, "prolific", PID)
    for table in ("crowd_accounts", "crowd_participants"):
        assert con.execute(f"SELECT count(*) FROM {table} WHERE participant_id = ?", [PID]).fetchone()[0] == 0
        assert con.execute(f"SELECT count(*) FROM {table} WHERE participant_id = ?", [anonymous]).fetchone()[
            0
        ]
    assert con.execute("SELECT count(*) FROM judgments WHERE annotator_id = ?", [user_id]).fetchone()[0] == 2
    username = con.execute("SELECT username FROM users WHERE user_id = ?", [user_id]).fetchone()[0]
    assert PID not in username and anonymous in username
    with pytest.raises(AnnotationError):
        forget_participant(con, "prolific", PID)


def test_the_command_line_forgets_and_says_so(tmp_path, capsys, run_folder):
    from annotations import store
    from annotations.__main__ import main
    from annotations.campaigns import CampaignConfig, create_campaign

    db = tmp_path / "cli.duckdb"
    con = store.connect(db)
    campaign_id = create_campaign(con, CampaignConfig(name="cli", run_dir=str(run_folder)))
    _judged(con, campaign_id, "prolific", {"PROLIFIC_PID": PID}, 1)
    con.close()
    assert (
        main(["crowd-payments", "--db", str(db), "--campaign", campaign_id, "--out", str(tmp_path / "p")])
        == 0
    )
    assert "personal data" in capsys.readouterr().out
    assert main(["forget-participant", "--db", str(db), "--platform", "prolific", "--id", PID]) == 0
    assert main(["forget-participant", "--db", str(db), "--platform", "prolific", "--id", PID]) == 1
