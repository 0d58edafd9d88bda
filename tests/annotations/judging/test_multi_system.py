"""A campaign over three systems (base, SFT, DPO): every pair of systems about equally often per annotator,
sides random and balanced per pair of systems, blind, k per item; old two-system configs read unchanged."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest
from helpers.run_folders import write_run_folder

from annotations.campaigns import CampaignConfig, campaign_config, create_campaign
from annotations.errors import CampaignError
from annotations.judging import assignment, judgments
from annotations.judging.design import SYSTEM_PAIR_STREAM
from annotations.stats.ranking import rank_systems

SYSTEMS = ["base", "sft", "dpo"]
PAIRS = [frozenset(p) for p in itertools.combinations(SYSTEMS, 2)]


@pytest.fixture
def three_systems(con, tmp_path):
    folder = write_run_folder(
        tmp_path / "runs" / "run-3",
        n_items=60,
        systems=tuple(SYSTEMS),
        output_text=lambda s, i: f"{s} says {i}",
    )
    config = CampaignConfig(
        name="next study", run_dir=str(folder), systems=SYSTEMS, system_a="sft", system_b="dpo", k=2
    )
    return create_campaign(con, config)


def _judge_everything(con, cid, annotators, prefer="dpo"):
    """Each annotator in turn takes pairs until none is left; the `prefer` system wins when shown."""
    served = []
    active = list(annotators)
    while active:
        for annotator in list(active):
            pair = assignment.next_item(con, cid, annotator)
            if pair is None:
                active.remove(annotator)
                continue
            served.append((annotator, pair))
            choice = (
                "A" if pair.text_a.startswith(prefer) else "B" if pair.text_b.startswith(prefer) else "tie"
            )
            judgments.submit(con, pair.token, annotator, choice)
    return served


def test_each_annotator_meets_every_pair_of_systems_equally_often_with_balanced_sides(con, three_systems):
    served = _judge_everything(con, three_systems, ["ann-1", "ann-2"])
    rows = con.execute(
        "SELECT annotator_id, item_id, shown_left, shown_right FROM assignments WHERE campaign_id = ? "
        "ORDER BY served_at",
        [three_systems],
    ).fetchall()
    assert len(rows) == len(served) == 120  # 60 items, k = 2
    assert Counter(item for _, item, _, _ in rows).most_common(1)[0][1] == 2
    order = {}
    for annotator in ("ann-1", "ann-2"):
        mine = [(left, right) for who, _, left, right in rows if who == annotator]
        assert len(mine) == 60
        pair_counts = Counter(frozenset(p) for p in mine)
        assert set(pair_counts) == set(PAIRS)
        assert all(n == 20 for n in pair_counts.values())  # 20 whole cycles of the 3 pairs
        for pair in PAIRS:
            first = sorted(pair, key=SYSTEMS.index)[0]
            on_left = sum(left == first for left, right in mine if frozenset((left, right)) == pair)
            assert abs(on_left - (20 - on_left)) <= 3  # the design's most left-side lead
        order[annotator] = [frozenset(p) for p in mine]
    # the cycles come in random orders: the two annotators' pair sequences differ
    assert order["ann-1"] != order["ann-2"]


def test_pair_sides_follow_each_pairs_own_design_sequence(con, three_systems):
    from annotations.campaigns import campaign_design

    _judge_everything(con, three_systems, ["ann-1"])
    design = campaign_design(con, three_systems)
    mine = con.execute(
        "SELECT shown_left, shown_right FROM assignments WHERE campaign_id = ? AND annotator_id = 'ann-1' "
        "ORDER BY served_at",
        [three_systems],
    ).fetchall()
    for pair in itertools.combinations(SYSTEMS, 2):
        sides = [left == pair[0] for left, right in mine if {left, right} == set(pair)]
        assert sides == design.sides("ann-1", len(sides), f"{SYSTEM_PAIR_STREAM}{pair[0]}|{pair[1]}")


def test_three_system_pairs_are_blind_and_the_ranking_answers_whether_dpo_beat_sft(con, three_systems):
    served = _judge_everything(con, three_systems, ["ann-1", "ann-2", "ann-3"])
    for _, pair in served:
        for text in (pair.text_a, pair.text_b):
            assert text.split(" says ")[0] in SYSTEMS  # our fixture's texts; the pair itself names no system
        assert not any(hasattr(pair, name) for name in ("shown_left", "system", "system_a"))
    frame = judgments.judgments_frame(con, three_systems)
    assert set(frame.shown_left) | set(frame.shown_right) == set(SYSTEMS)
    assert frame.apply(lambda r: r.winner in (r.shown_left, r.shown_right, "tie"), axis=1).all()
    ranking = rank_systems(frame, n_boot=200)
    assert ranking.systems[0] == "dpo"
    assert ranking.compare("dpo", "sft").verdict == "better"


def test_two_system_configs_are_unchanged(con, tmp_path):
    stored = CampaignConfig(name="old", run_dir=str(tmp_path)).to_json()
    old = json.loads(stored)
    del old["systems"]  # a config stored before the field existed
    config = CampaignConfig.from_json(json.dumps(old))
    assert config.systems is None and config.compared_systems == ["base", "finetuned"]
    assert not config.multi_system
    two = CampaignConfig(name="two", run_dir=str(tmp_path), systems=["base", "finetuned"])
    assert not two.multi_system


def test_two_system_campaign_sides_still_come_from_the_pairs_sequence(con, make_campaign):
    from annotations.campaigns import campaign_design

    cid = make_campaign(k=1)
    _judge_everything(con, cid, ["ann-1"], prefer="base")
    assert campaign_config(con, cid).compared_systems == ["base", "finetuned"]
    lefts = [
        left == "base"
        for (left,) in con.execute(
            "SELECT shown_left FROM assignments WHERE campaign_id = ? ORDER BY served_at", [cid]
        ).fetchall()
    ]
    assert lefts == campaign_design(con, cid).sides("ann-1", len(lefts), "pairs")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"systems": ["base", "base", "sft"]}, "at least two different systems"),
        ({"systems": ["sft", "dpo", "other"], "system_a": "base"}, "system_a 'base' must be one of"),
    ],
)
def test_bad_system_lists_are_refused_in_one_line(tmp_path, overrides, message):
    settings = {"system_a": "sft", "system_b": "dpo", **overrides}
    with pytest.raises(CampaignError, match=message):
        CampaignConfig(name="bad", run_dir=str(tmp_path), **settings)


def test_a_system_without_outputs_is_named(con, tmp_path):
    folder = write_run_folder(tmp_path / "runs" / "two", systems=("sft", "dpo"))
    config = CampaignConfig(name="x", run_dir=str(folder), systems=SYSTEMS, system_a="sft", system_b="dpo")
    with pytest.raises(CampaignError, match="no outputs for system 'base'"):
        create_campaign(con, config)
    assert con.execute("SELECT count(*) FROM campaigns").fetchone()[0] == 0


def test_gold_pairs_compare_system_a_with_system_b_and_repeats_flip_their_original(con, tmp_path):
    folder = write_run_folder(tmp_path / "runs" / "run-g", n_items=30, systems=tuple(SYSTEMS))
    config = CampaignConfig(
        name="gold",
        run_dir=str(folder),
        systems=SYSTEMS,
        system_a="sft",
        system_b="dpo",
        k=1,
        gold_items={"item-000": "dpo", "item-001": "sft"},
        gold_rate=0.2,
        repeat_rate=0.2,
    )
    cid = create_campaign(con, config)
    _judge_everything(con, cid, ["ann-1"])
    rows = con.execute(
        "SELECT assignment_id, shown_left, shown_right, is_gold, is_repeat, repeat_of FROM assignments "
        "WHERE campaign_id = ?",
        [cid],
    ).fetchall()
    sides = {a: (left, right) for a, left, right, *_ in rows}
    gold = [(left, right) for _, left, right, is_gold, *_ in rows if is_gold]
    repeats = [(sides[of], (left, right)) for _, left, right, _, is_repeat, of in rows if is_repeat]
    assert len(gold) == 2 and all({left, right} == {"sft", "dpo"} for left, right in gold)
    assert repeats and all(original == flipped[::-1] for original, flipped in repeats)
    regular = Counter(frozenset((left, right)) for _, left, right, g, rep, _ in rows if not g and not rep)
    assert set(regular) == set(PAIRS) and max(regular.values()) - min(regular.values()) <= 1
