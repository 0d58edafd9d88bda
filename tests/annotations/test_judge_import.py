"""Importing a judge's verdicts into the store (annotations.campaigns.judge_verdicts, migration 011): only
the campaign's own pairs, replaced on a second import, one-line errors with nothing written; and kept
apart: the campaign's analysis is identical before and after, and the annotator's next pair carries nothing
of the judge."""

from __future__ import annotations

import json

import pytest
from helpers.judge_verdicts import write_judge
from helpers.small_campaigns import fill_decided

from annotations import store
from annotations.__main__ import main
from annotations.campaigns import (
    CampaignConfig,
    create_campaign,
    import_judge,
    judge_runs,
    judge_verdicts_frame,
)
from annotations.errors import CampaignError
from annotations.judging import assignment
from annotations.report import load_campaign
from annotations.stats.analysis import analyze
from annotations.stats.judges import judge_card

JUDGE = "judge-sentinel-7"


def _analysis(con, cid) -> str:
    data = load_campaign(con, cid)
    table = analyze(data.judgments, data.scores, data.metrics, campaign_id=cid).statistics_table()
    return table.drop(
        columns=[c for c in table.columns if "time" in c or "environment" in c], errors="ignore"
    ).to_json()


def test_import_keeps_the_campaigns_pairs_and_reimport_replaces(con, run_folder, make_campaign):
    cid = make_campaign(k=1)
    other_decoding = {
        **json.loads('{"item_id": "item-001", "decoding": "sample", "seed": 0}'),
        "system_a": "base",
        "system_b": "finetuned",
        "verdict": "base",
        "p_b_better": 0.1,
    }
    outsider = {
        "item_id": "item-999",
        "decoding": "greedy",
        "seed": 0,
        "system_a": "base",
        "system_b": "finetuned",
        "verdict": "base",
        "p_b_better": 0.1,
    }
    write_judge(
        run_folder, JUDGE, n_items=10, p_finetuned=lambda i: i / 10, extra_records=[other_decoding, outsider]
    )
    done = import_judge(con, cid, JUDGE)
    assert (done.imported, done.other_pairs, done.missing, done.finished) == (10, 2, 2, True)
    frame = judge_verdicts_frame(con, cid)
    assert len(frame) == 10 and set(frame["judge"]) == {JUDGE}
    assert frame.set_index("item_id").loc["item-003", "p_system_b"] == pytest.approx(0.3)
    assert (frame["length_a"] > 0).all() and (frame["length_b"] > 0).all()
    runs = judge_runs(con, cid)
    assert runs.iloc[0]["summary"]["pairs"] == 10 and runs.iloc[0]["n_verdicts"] == 10
    write_judge(run_folder, JUDGE, n_items=12, prefers=lambda i: "base", p_finetuned=lambda i: 0.2)
    assert import_judge(con, cid, JUDGE).imported == 12
    again = judge_verdicts_frame(con, cid)
    assert len(again) == 12 and set(again["winner"]) == {"base"} and len(judge_runs(con, cid)) == 1


def test_a_judge_with_its_systems_swapped_is_seen_from_the_campaign(con, run_folder, make_campaign):
    cid = make_campaign(k=1)
    write_judge(
        run_folder, JUDGE, n_items=12, system_a="finetuned", system_b="base", p_finetuned=lambda i: 0.9
    )
    import_judge(con, cid, JUDGE)
    frame = judge_verdicts_frame(con, cid)
    assert frame["p_system_b"].round(6).eq(0.9).all() and set(frame["winner"]) == {"finetuned"}


def test_bad_input_is_one_line_and_writes_nothing(con, run_folder, make_campaign, tmp_path, capsys):
    cid = make_campaign(k=1)
    with pytest.raises(CampaignError, match="no judge 'nobody' in .*judges there: none"):
        import_judge(con, cid, "nobody")
    with pytest.raises(CampaignError, match="no campaign with id 'nope'"):
        import_judge(con, "nope", JUDGE)
    csv = tmp_path / "outputs.csv"
    csv.write_text(
        "item_id,system,output\n" + "".join(f"i{i},base,a{i}\ni{i},finetuned,b{i}\n" for i in range(3))
    )
    from_file = create_campaign(con, CampaignConfig(name="file", source_file=str(csv), k=1))
    with pytest.raises(CampaignError, match="built from a file, not a run folder"):
        import_judge(con, from_file, JUDGE)
    db = tmp_path / "store.duckdb"
    con.close()
    assert main(["import-judge", "--campaign", cid, "--judge", "nobody", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no judge 'nobody'") and err.count("\n") == 1
    again = store.connect(db)
    assert again.execute("SELECT count(*) FROM judge_verdicts").fetchone()[0] == 0
    assert again.execute("SELECT count(*) FROM judge_runs").fetchone()[0] == 0
    again.close()


def test_the_command_line_imports_and_says_what_it_did(con, run_folder, make_campaign, tmp_path, capsys):
    cid = make_campaign(k=1)
    write_judge(run_folder, JUDGE, n_items=5, finished=False)
    con.close()
    assert (
        main(["import-judge", "--campaign", cid, "--judge", JUDGE, "--db", str(tmp_path / "store.duckdb")])
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "5 verdicts imported" in out
        and "7 of its items without a verdict" in out
        and "not finished yet" in out
    )


def test_no_human_statistic_changes_and_no_annotator_sees_the_judge(con, run_folder):
    cid = fill_decided(
        con, run_folder, k=3, decide=lambda item, annotator: "base" if item.endswith("3") else "finetuned"
    )
    before = _analysis(con, cid)
    judgments_before = con.execute("SELECT count(*) FROM judgments").fetchone()[0]
    write_judge(run_folder, JUDGE, n_items=12, prefers=lambda i: "base", p_finetuned=lambda i: 0.05)
    import_judge(con, cid, JUDGE)
    assert _analysis(con, cid) == before
    assert con.execute("SELECT count(*) FROM judgments").fetchone()[0] == judgments_before
    # a fresh annotator's pair: nothing in it names the judge or carries its verdict or probability
    pair = assignment.next_item(con, cid, "ann-new")
    assert pair is not None
    shown = repr(vars(pair) if hasattr(pair, "__dict__") else pair).lower()
    assert JUDGE not in shown and "verdict" not in shown and "p_b_better" not in shown


@pytest.mark.slow
def test_the_real_local_judge_on_a_tiny_model_imports_and_gives_a_card(con, run_folder, tiny_causal_dir):
    """The format end to end: `ft_core.judge` (a tiny random Llama through the local backend) writes the
    run folder's verdicts, the import reads every one of the campaign's pairs, and the card is computed
    from them."""
    from ft_core.judge import JudgeConfig, run_judge
    from ft_core.judge.local import LocalJudge

    cid = fill_decided(con, run_folder, decide=lambda item, annotator: "finetuned")
    cfg = JudgeConfig(run_dir=str(run_folder), model=str(tiny_causal_dir), name="tiny", batch_size=6)
    run_judge(cfg, LocalJudge(cfg))
    done = import_judge(con, cid, "tiny")
    assert (done.imported, done.missing, done.other_pairs, done.finished) == (12, 0, 0, True)
    frame = judge_verdicts_frame(con, cid)
    assert (
        frame["p_system_b"].between(0, 1).all() and frame["winner"].isin(["base", "finetuned", "tie"]).all()
    )
    data = load_campaign(con, cid)
    card = judge_card("tiny", data.judgments, frame, n_boot=200)
    assert card.agreement.n_items == 12 and card.n_pairs == 12 and card.calibration.n_items == 12
    assert judge_runs(con, cid).iloc[0]["summary"]["pairs"] == 12
