"""The side and order design (annotations.judging.design): balanced blocks, uniform draws, unpredictable
sides, the same design in every process, and a campaign record that names the design without giving its secret
away."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import pytest
from scipy.stats import chisquare

from annotations import store
from annotations.campaigns import (
    DEFAULT_INSTRUCTIONS,
    CampaignConfig,
    campaign_design,
    create_campaign,
    design_record,
    get_campaign,
    list_campaigns,
)
from annotations.errors import CampaignError
from annotations.judging.design import Design, _Stream, design_id, draw_block

SECRET = "0123456789abcdef" * 4


def _imbalance(sides: list[bool]) -> np.ndarray:
    return np.cumsum([1 if s else -1 for s in sides])


def test_a_block_is_drawn_uniformly_among_the_balanced_blocks_within_the_imbalance():
    """Blocks of 8 with at most 3 apart: all C(8,4) = 70 balanced blocks but AAAABBBB and BBBBAAAA, each
    equally likely (chi-square against the uniform distribution)."""
    allowed = [
        block
        for block in itertools.product([True, False], repeat=8)
        if sum(block) == 4 and np.abs(_imbalance(list(block))).max() <= 3
    ]
    assert len(allowed) == 68
    stream = _Stream(bytes(32), "test")
    drawn = Counter(tuple(draw_block(stream, 8, 3)) for _ in range(68 * 60))
    assert set(drawn) == set(allowed)
    assert chisquare([drawn[b] for b in allowed]).pvalue > 1e-4


def test_every_annotator_is_balanced_at_every_point_and_their_sequences_differ():
    design = Design(SECRET, (8, 12, 16), 3)
    sequences = [design.sides(f"ann-{i}", 200) for i in range(100)]
    for sides in sequences:
        assert np.abs(_imbalance(sides)).max() <= 3
        assert abs(sum(sides[:80]) - 40) <= 3
    assert len({tuple(s) for s in sequences}) == 100
    # Block ends fall at different places: with blocks of 8 only, every 8th point would be balanced.
    balanced_at = Counter(p for sides in sequences for p, v in enumerate(_imbalance(sides), 1) if v == 0)
    assert balanced_at[8] < 100 and balanced_at[12] > 0


def test_earlier_sides_barely_tell_the_next():
    """A guesser who knows every earlier side and bets on the system that is behind (the convergence strategy,
    Blackwell & Hodges 1957) is right 75% of the time against blocks of 2 and 50% against a coin; against
    this design well under 70%."""
    design = Design(SECRET, (8, 12, 16), 3)

    def guessed_right(sequences):
        right = total = 0.0
        for sides in sequences:
            lead = 0
            for a_left in sides:
                right += 0.5 if lead == 0 else float((lead < 0) == a_left)
                total += 1
                lead += 1 if a_left else -1
        return right / total

    ours = guessed_right([design.sides(f"ann-{i}", 80) for i in range(300)])
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(300):
        first = rng.random(40) < 0.5
        pairs.append([bool(x) for x in np.column_stack([first, ~first]).ravel()])
    assert guessed_right(pairs) == pytest.approx(0.75, abs=0.01)
    assert ours < 0.68


def test_the_same_secret_gives_the_same_design_in_another_process():
    here = Design(SECRET, (8, 12, 16), 3)
    code = (
        "from annotations.judging.design import Design; import json, sys; "
        "d = Design(sys.argv[1], (8, 12, 16), 3); "
        "print(json.dumps([d.sides('ann-x', 100), d.sides('ann-x', 10, 'gold'), d.order_key('ann-x')]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, SECRET],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == [
        here.sides("ann-x", 100),
        here.sides("ann-x", 10, "gold"),
        here.order_key("ann-x"),
    ]
    assert here.sides("ann-x", 100) != Design("f" * 64, (8, 12, 16), 3).sides("ann-x", 100)
    assert here.sides("ann-x", 100) != here.sides("ann-y", 100)
    assert here.sides("ann-x", 40) != here.sides("ann-x", 40, "gold")


def test_the_campaign_record_names_the_design_and_keeps_the_secret(con, make_campaign):
    first, second = make_campaign(), make_campaign(side_block_sizes=[10, 20], side_max_imbalance=4)
    secrets = {
        cid: con.execute("SELECT design_secret FROM campaigns WHERE campaign_id = ?", [cid]).fetchone()[0]
        for cid in (first, second)
    }
    assert len(set(secrets.values())) == 2 and all(len(s) == 64 for s in secrets.values())
    record = design_record(con, second)
    assert record["design_id"] == design_id(secrets[second]) == get_campaign(con, second).design_id
    assert record["side_block_sizes"] == [10, 20] and record["side_max_imbalance"] == 4
    assert secrets[second] not in json.dumps(record) and secrets[second] not in repr(
        campaign_design(con, second)
    )
    listed = list_campaigns(con).set_index("campaign_id")
    assert listed.loc[first, "design_id"] == design_id(secrets[first])
    config_json = con.execute("SELECT config FROM campaigns WHERE campaign_id = ?", [first]).fetchone()[0]
    assert secrets[first] not in config_json


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"side_block_sizes": [2]}, "even number >= 8"),
        ({"side_block_sizes": [8, 9]}, "even number >= 8"),
        ({"side_block_sizes": []}, "side_block_sizes is empty"),
        ({"side_max_imbalance": 1}, "side_max_imbalance must be"),
        ({"max_items_in_progress": 0}, "max_items_in_progress must be"),
    ],
)
def test_bad_design_settings_are_refused(run_folder, overrides, message):
    with pytest.raises(CampaignError, match=message):
        CampaignConfig(name="x", run_dir=str(run_folder), **overrides)


def test_a_given_design_secret_must_be_256_bits(con, run_folder):
    with pytest.raises(CampaignError, match="64 lowercase hex"):
        create_campaign(con, CampaignConfig(name="x", run_dir=str(run_folder)), design_secret="1234")


def test_a_store_from_before_the_design_gets_a_secret_per_campaign(tmp_path):
    """Migration 002 on a store whose campaigns predate it: each gets its own secret and a matching id."""
    path = tmp_path / "old.duckdb"
    raw = duckdb.connect(str(path))
    raw.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
        "applied_at TIMESTAMP NOT NULL)"
    )
    raw.execute((store.MIGRATIONS_DIR / "001_initial.sql").read_text())
    raw.execute("INSERT INTO schema_migrations VALUES (1, '001_initial', now())")
    for cid in ("c-old-1", "c-old-2"):
        raw.execute(
            "INSERT INTO campaigns (campaign_id, name, system_a, system_b, k, selection, show_reference, "
            "lease_minutes, gold_rate, repeat_rate, config, created_at) "
            "VALUES (?, 'old', 'base', 'finetuned', 3, 'all', TRUE, 15, 0, 0, ?, now())",
            [cid, CampaignConfig(name="old", source_file="x.csv").to_json()],
        )
    raw.close()
    con = store.connect(path)
    rows = con.execute("SELECT design_secret, design_id FROM campaigns ORDER BY campaign_id").fetchall()
    assert len({secret for secret, _ in rows}) == 2
    assert all(len(secret) == 64 and public == design_id(secret) for secret, public in rows)
    con.close()


def test_the_default_instructions_say_what_the_design_does():
    """The annotate page used to say "the sides are shuffled" while they alternated: the text now describes
    the design (random side per pair from a balanced sequence of one's own, an item order of one's own)."""
    text = DEFAULT_INSTRUCTIONS.lower()
    assert "shuffled" not in text and "alternat" not in text
    for claim in (
        "hidden",
        "drawn at random for each pair",
        "for you alone",
        "equally often",
        "order of your own",
    ):
        assert claim in text, claim
