"""The Results page's ranking block (pages/results_ranking.py) with AppTest on a real store judged through
the real assignment path: a campaign over base, SFT and DPO shows the Bradley-Terry table, the win-rate
matrix and the answer to "did preference tuning help beyond SFT?"; a two-system campaign shows no block."""

from __future__ import annotations

from helpers.login_as import open_as
from helpers.synthetic import judge_round_robin

from annotations import store
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging import judgments
from pages.plain_text import escape_markdown

SYSTEMS = ("base", "sft", "dpo")


def _three_system_campaign(con, run_dir) -> str:
    config = CampaignConfig(
        name="next study", run_dir=str(run_dir), systems=list(SYSTEMS), system_a="sft", system_b="dpo", k=2
    )
    cid = create_campaign(con, config)

    def judge(annotator, pair, item_id, left, right, now):
        # DPO wins whenever shown, SFT beats base
        strongest = next(s for s in ("dpo", "sft", "base") if s in (left, right))
        judgments.submit(con, pair.token, annotator, "A" if left == strongest else "B", now=now)
        return now

    judge_round_robin(con, cid, ["ann-1", "ann-2", "ann-3"], store.utcnow(), judge)
    return cid


def test_ranking_block_answers_whether_dpo_beat_sft(app_env, researcher, tmp_path, run_writer):
    run_dir = run_writer(tmp_path / "runs" / "run-3", n_items=30, systems=SYSTEMS)
    _three_system_campaign(app_env, run_dir)
    at = open_as("results", researcher)
    assert not at.exception, at.exception
    assert any(h.value == "Ranking of the systems" for h in at.subheader)
    assert not any(h.value == "Bradley–Terry strengths" for h in at.subheader)  # one ranking, not two
    answer = next(m.value for m in at.markdown if "beats" in m.value)
    assert answer.startswith(escape_markdown("Yes: dpo is better than sft"))
    tables = [d.value for d in at.dataframe]
    bt = next(t for t in tables if "strength" in t.columns)
    assert list(bt["system"]) == ["dpo", "sft", "base"]
    matrix = next(t for t in tables if list(t.columns) == ["dpo", "sft", "base"])
    assert matrix.loc["dpo", "sft"] == 1.0 and matrix.loc["sft", "dpo"] == 0.0


def test_two_system_campaign_has_no_ranking_block(app_env, researcher, tmp_path, run_writer):
    from helpers import synthetic

    run_dir = run_writer(tmp_path / "runs" / "run-2", n_items=8)
    synthetic.fill_store(app_env, run_dir, n_annotators=3, name="two systems")
    at = open_as("results", researcher)
    assert not at.exception, at.exception
    assert not any(h.value == "Ranking of the systems" for h in at.subheader)


def test_campaign_form_turns_the_systems_line_into_the_configs_list(tmp_path):
    from pages.campaign_form import CampaignOptions

    fields = CampaignOptions({"k": 2}, systems_text=" base, sft ,, dpo ").config_fields()
    assert fields["systems"] == ["base", "sft", "dpo"]
    config = CampaignConfig(name="x", run_dir=str(tmp_path), system_a="sft", system_b="dpo", **fields)
    assert config.multi_system
    assert "systems" not in CampaignOptions({"k": 2}).config_fields()  # empty: the two systems only
