"""Adjudication: a researcher decides an item where the annotators disagree, blind, and the decision is stored
apart from the judgments (table `adjudications`, migration 016), never changing them. The latest decision on
an item counts; Results may use the decisions in place of the items' judgments
(`annotations.stats.competence.with_adjudications`).

The pair is shown the way the Annotate page shows one: texts only, the sides drawn at random for each view;
which system sat on the left stays on the server (`BlindPair.shown_left`), and `record` de-randomizes the
click.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from annotations import store
from annotations.errors import AnnotationError

CHOICES = ("left", "right", "tie", "both_bad")


@dataclass
class BlindPair:
    """What the adjudicator sees (source, references, the two texts) and, kept on the server, the sides."""

    item_id: str
    source: str
    references: list[str]
    text_left: str
    text_right: str
    shown_left: str = field(repr=False)  # never shown: which system wrote the left text
    shown_right: str = field(repr=False)


def _systems(con: duckdb.DuckDBPyConnection, campaign_id: str) -> tuple[str, str]:
    row = (
        store.read(con)
        .execute("SELECT system_a, system_b FROM campaigns WHERE campaign_id = ?", [campaign_id])
        .fetchone()
    )
    if row is None:
        raise AnnotationError(f"campaign {campaign_id!r} not found")
    system_a, system_b = row
    return str(system_a), str(system_b)


def blind_pair(
    con: duckdb.DuckDBPyConnection, campaign_id: str, item_id: str, rng: random.Random | None = None
) -> BlindPair:
    """The item's two outputs (the campaign's two systems) with the sides drawn at random."""
    system_a, system_b = _systems(con, campaign_id)
    rows = (
        store.read(con)
        .execute(
            "SELECT i.source, i.prompt, i.reference_texts, o.system, o.output FROM items i "
            "JOIN outputs o ON o.campaign_id = i.campaign_id AND o.item_id = i.item_id "
            "WHERE i.campaign_id = ? AND i.item_id = ? AND o.system IN (?, ?)",
            [campaign_id, item_id, system_a, system_b],
        )
        .fetchall()
    )
    texts = {system: output for *_rest, system, output in rows}
    if set(texts) != {system_a, system_b}:
        raise AnnotationError(f"item {item_id!r} of campaign {campaign_id!r} lacks an output of each system")
    source, prompt, references = rows[0][0], rows[0][1], rows[0][2]
    flip = (rng or random.SystemRandom()).random() < 0.5
    left, right = (system_b, system_a) if flip else (system_a, system_b)
    return BlindPair(
        item_id=item_id,
        source=source or prompt or "",
        references=list(references or []),
        text_left=texts[left],
        text_right=texts[right],
        shown_left=left,
        shown_right=right,
    )


def record(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    pair: BlindPair,
    choice: str,
    researcher_id: str,
    note: str | None = None,
) -> str:
    """Store the adjudicator's click on `pair` (left, right, tie, both_bad), de-randomized; returns the
    adjudication's id. Nothing else is written: the judgments stay as they are."""
    if choice not in CHOICES:
        raise AnnotationError(f"choice must be one of {', '.join(CHOICES)}; got {choice!r}")
    winner = {"left": pair.shown_left, "right": pair.shown_right}.get(choice, choice)
    adjudication_id = store.new_id("adj")
    store.write_statement(
        con,
        "INSERT INTO adjudications (adjudication_id, campaign_id, item_id, winner, choice, shown_left, note, "
        "adjudicated_by, adjudicated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            adjudication_id,
            campaign_id,
            pair.item_id,
            winner,
            choice,
            pair.shown_left,
            (note or "").strip() or None,
            researcher_id,
            store.utcnow(),
        ],
    )
    return adjudication_id


def adjudications_frame(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """The latest adjudication per item: item_id, winner, note, adjudicated_by, adjudicated_at, n_decisions
    (how many times the item was decided)."""
    return store.read_frame(
        con,
        """
        SELECT item_id, winner, note, adjudicated_by, adjudicated_at, n_decisions FROM (
            SELECT *,
                   row_number() OVER (
                       PARTITION BY item_id ORDER BY adjudicated_at DESC, adjudication_id DESC
                   ) AS newest,
                   count(*) OVER (PARTITION BY item_id) AS n_decisions
            FROM adjudications WHERE campaign_id = ?) AS decisions
        WHERE newest = 1 ORDER BY item_id
        """,
        [campaign_id],
    )
