"""Who judges which pair next, and which output is shown on the left.

Rules, all enforced inside one serialized write transaction (`db.write`) so concurrent annotators cannot break
them:
- an annotator never gets an item someone already gave them (except a deliberate flipped repeat);
- an item gets at most k judgments: submitted assignments plus open ones whose lease has not run out;
- an open assignment whose lease ran out (default 15 minutes) no longer holds its slot: the item returns to the
  pool; if its holder comes back before someone else took the slot, they keep it;
- the left side is counterbalanced, not drawn: an item that has shown system A on the left more often shows B
  next, and when the item is even, the annotator's own running balance decides. Among the items with room we
  prefer one whose needed side matches what the annotator needs, so both stay within +-1. The side is stored
  on the assignment (`shown_left`, `shown_right`).
- gold items (known answer) are mixed in at the campaign's `gold_rate`; a share `repeat_rate` of an
  annotator's judged items comes back later with the sides flipped (intra-annotator consistency).

What the annotator's page gets is a `ServedPair`: an opaque token and texts "A" (left) and "B" (right); never a
system name, never whether the pair is gold or a repeat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from annotations import db
from annotations.campaigns import CampaignConfig, Criterion, campaign_config
from annotations.errors import AnnotationError, AuthError

# The write lane of assignment (see db.write): judgments of pairs whose lease still runs use their own lane.
ASSIGNMENT_LANE = "assignments"

# A repeat is never served right after its original: at least this many other judgments come in between.
REPEAT_MIN_GAP = 3


@dataclass(frozen=True)
class ServedPair:
    """One pair as the annotator's page sees it: blind by construction."""

    token: str  # the assignment id: random, says nothing about the systems
    campaign_name: str
    instructions: str
    prompt: str | None
    source: str | None
    references: list[str]  # empty when the campaign hides the reference
    text_a: str  # shown on the left
    text_b: str  # shown on the right
    criteria: list[Criterion] = field(default_factory=list)
    status: str = "open"  # open | submitted | skipped | expired


@dataclass(frozen=True)
class Progress:
    """How far an annotator is in a campaign: `done` of `assigned` pairs."""

    done: int
    assigned: int

    @property
    def share(self) -> float:
        return self.done / self.assigned if self.assigned else 0.0


def _active(now_param: str = "?") -> str:
    # An assignment holds a slot when it was judged, or is open with a lease still running.
    return f"(status = 'submitted' OR (status = 'open' AND lease_expires_at > {now_param}))"


def next_item(
    con: duckdb.DuckDBPyConnection, campaign_id: str, annotator_id: str, now: datetime | None = None
) -> ServedPair | None:
    """The pair this annotator should judge now (their open one, renewed, if they hold one); None when done."""
    config = campaign_config(con, campaign_id)
    # Everything is read and decided inside the write lock, the annotator's own counts too: two tabs of one
    # annotator are concurrent requests that must not both see "no open pair" and exceed the quota.
    token = db.write(
        con,
        lambda cur: _claim(cur, campaign_id, config, annotator_id, now or db.utcnow()),
        lane=ASSIGNMENT_LANE,
    )
    return None if token is None else view(con, token, annotator_id)


def _annotator_counts(
    cur: duckdb.DuckDBPyConnection, cid: str, cfg: CampaignConfig, annotator_id: str
) -> tuple:
    """(campaign status, open, regular judged, repeats, gold, left balance, ever given) for one annotator."""
    regular = "NOT is_gold AND NOT is_repeat AND status IN ('open', 'submitted')"
    return cur.execute(
        "SELECT (SELECT status FROM campaigns WHERE campaign_id = ?), "
        "count(*) FILTER (WHERE status = 'open'), "
        "count(*) FILTER (WHERE status = 'submitted' AND NOT is_gold AND NOT is_repeat), "
        "count(*) FILTER (WHERE is_repeat AND status IN ('open', 'submitted')), "
        "count(*) FILTER (WHERE is_gold AND status IN ('open', 'submitted')), "
        f"count(*) FILTER (WHERE {regular} AND shown_left = ?) - count(*) FILTER (WHERE {regular} AND shown_left <> ?), "
        "count(*) FROM assignments WHERE campaign_id = ? AND annotator_id = ?",
        [cid, cfg.system_a, cfg.system_a, cid, annotator_id],
    ).fetchone()


def _claim(
    cur: duckdb.DuckDBPyConnection,
    cid: str,
    cfg: CampaignConfig,
    annotator_id: str,
    now: datetime,
) -> str | None:
    lease_until = now + timedelta(minutes=cfg.lease_minutes)
    counts = _annotator_counts(cur, cid, cfg, annotator_id)
    if counts[0] != "active":
        return None
    n_open, n_regular, n_repeats, n_gold, annotator_diff, n_ever = (int(x or 0) for x in counts[1:])

    if n_open:
        held = cur.execute(
            "SELECT assignment_id, item_id, lease_expires_at, is_gold, is_repeat, shown_left FROM assignments "
            "WHERE campaign_id = ? AND annotator_id = ? AND status = 'open' ORDER BY served_at",
            [cid, annotator_id],
        ).fetchall()
        for assignment_id, item_id, lease_expires_at, is_gold, is_repeat, shown_left in held:
            if (
                lease_expires_at > now
                or is_gold
                or is_repeat
                or has_room(cur, cid, item_id, cfg.k, now, assignment_id)
            ):
                # Renew the lease, but not on every redraw of the page: only once half of it has run out.
                if lease_expires_at - now < (lease_until - now) / 2:
                    cur.execute(
                        "UPDATE assignments SET lease_expires_at = ? WHERE assignment_id = ?",
                        [lease_until, assignment_id],
                    )
                return assignment_id
            cur.execute("UPDATE assignments SET status = 'expired' WHERE assignment_id = ?", [assignment_id])
            annotator_diff -= 1 if shown_left == cfg.system_a else -1

    if cfg.items_per_annotator is not None and n_regular >= cfg.items_per_annotator:
        return None

    if cfg.repeat_rate > 0 and n_repeats < math.floor(n_regular * cfg.repeat_rate):
        original = cur.execute(
            """
            SELECT a.assignment_id, a.item_id, a.shown_left, a.shown_right FROM assignments a
            WHERE a.campaign_id = ? AND a.annotator_id = ? AND a.status = 'submitted' AND NOT a.is_repeat
              AND NOT a.is_gold
              AND NOT EXISTS (SELECT 1 FROM assignments r WHERE r.repeat_of = a.assignment_id)
              AND (SELECT count(*) FROM assignments b WHERE b.campaign_id = a.campaign_id
                   AND b.annotator_id = a.annotator_id AND b.status = 'submitted'
                   AND b.submitted_at > a.submitted_at) >= ?
            ORDER BY a.submitted_at LIMIT 1
            """,
            [cid, annotator_id, REPEAT_MIN_GAP],
        ).fetchone()
        if original is not None:
            # Flipped sides: what was on the left is now on the right.
            return _insert(
                cur,
                cid,
                original[1],
                annotator_id,
                original[3],
                original[2],
                now,
                lease_until,
                is_repeat=True,
                repeat_of=original[0],
            )

    if cfg.gold_rate > 0 and n_gold < math.floor((n_regular + n_gold + 1) * cfg.gold_rate):
        gold = _pick_item(cur, cid, cfg, annotator_id, now, annotator_diff, n_ever, gold=True)
        if gold is not None:
            return _insert(cur, cid, gold[0], annotator_id, *gold[1], now, lease_until, is_gold=True)

    picked = _pick_item(cur, cid, cfg, annotator_id, now, annotator_diff, n_ever, gold=False)
    if picked is None:
        return None
    return _insert(cur, cid, picked[0], annotator_id, *picked[1], now, lease_until)


def has_room(
    cur: duckdb.DuckDBPyConnection, cid: str, item_id: str, k: int, now: datetime, except_id: str
) -> bool:
    """Whether `item_id` can take one more judgment besides the assignment `except_id`: the k-limit rule, used
    by assignment and by a submit that comes in after its lease ran out."""
    row = cur.execute(
        f"SELECT count(*) FROM assignments WHERE campaign_id = ? AND item_id = ? AND NOT is_repeat AND NOT is_gold "
        f"AND assignment_id <> ? AND {_active()}",
        [cid, item_id, except_id, now],
    ).fetchone()
    return int(row[0]) < k


def _pick_item(
    cur: duckdb.DuckDBPyConnection,
    cid: str,
    cfg: CampaignConfig,
    annotator_id: str,
    now: datetime,
    annotator_diff: int,
    n_ever: int,
    *,
    gold: bool,
) -> tuple[str, tuple[str, str]] | None:
    """The best item with room that this annotator has never been given, and the (left, right) systems."""
    a, b = cfg.system_a, cfg.system_b
    # Gold items are not limited to k: every annotator may see each one once.
    room = "TRUE" if gold else "coalesce(c.active, 0) < ?"
    params: list[object] = [
        now,
        a,
        now,
        cid,
        gold,
        cid,
        cid,
        annotator_id,
        gold,
    ]
    if not gold:
        params.append(cfg.k)
    params += [annotator_diff, annotator_diff]
    row = cur.execute(
        f"""
        WITH c AS (
            SELECT item_id,
                   count(*) FILTER (WHERE {_active()}) AS active,
                   sum(CASE WHEN shown_left = ? THEN 1 ELSE -1 END) FILTER (WHERE {_active()}) AS diff
            FROM assignments WHERE campaign_id = ? AND NOT is_repeat AND is_gold = ?
            GROUP BY item_id
        )
        SELECT i.item_id, i.position, coalesce(c.diff, 0) AS diff
        FROM items i LEFT JOIN c ON c.item_id = i.item_id
        WHERE i.campaign_id = ?
          AND i.item_id NOT IN (SELECT item_id FROM assignments WHERE campaign_id = ? AND annotator_id = ?)
          AND i.is_gold = ? AND {room}
        ORDER BY
          -- an item whose next side matches what the annotator needs keeps both balanced
          -- (an item that needs the very side the annotator needs first: it rebalances both)
          CASE WHEN coalesce(c.diff, 0) <> 0 AND (? = 0 OR sign(coalesce(c.diff, 0)) = sign(?)) THEN 0
               WHEN coalesce(c.diff, 0) = 0 THEN 1 ELSE 2 END,
          -- finish items that are nearly complete first, so partial campaigns hold complete items
          coalesce(c.active, 0) DESC,
          i.position
        LIMIT 1
        """,
        params,
    ).fetchone()
    if row is None:
        return None
    item_id, position, item_diff = row[0], int(row[1]), int(row[2])
    if item_diff > 0:
        a_left = False
    elif item_diff < 0:
        a_left = True
    elif annotator_diff != 0:
        a_left = annotator_diff < 0
    else:
        # Both balanced: alternate by the item's position and the annotator's count (deterministic, not a coin).
        a_left = (position + n_ever) % 2 == 0
    return item_id, ((a, b) if a_left else (b, a))


def _insert(
    cur: duckdb.DuckDBPyConnection,
    cid: str,
    item_id: str,
    annotator_id: str,
    shown_left: str,
    shown_right: str,
    now: datetime,
    lease_until: datetime,
    *,
    is_gold: bool = False,
    is_repeat: bool = False,
    repeat_of: str | None = None,
) -> str:
    assignment_id = db.new_id()
    cur.execute(
        "INSERT INTO assignments (assignment_id, campaign_id, item_id, annotator_id, shown_left, shown_right, "
        "status, is_gold, is_repeat, repeat_of, served_at, lease_expires_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)",
        [
            assignment_id,
            cid,
            item_id,
            annotator_id,
            shown_left,
            shown_right,
            is_gold,
            is_repeat,
            repeat_of,
            now,
            lease_until,
        ],
    )
    return assignment_id


def view(con: duckdb.DuckDBPyConnection, token: str, annotator_id: str) -> ServedPair:
    """The blind view of one of this annotator's assignments; AuthError if the token is someone else's."""
    row = (
        db.read(con)
        .execute(
            """
        SELECT a.annotator_id, a.campaign_id, a.status, c.name, c.instructions, c.show_reference,
               i.prompt, i.source, i.reference_texts, ol.output, orr.output
        FROM assignments a
        JOIN campaigns c ON c.campaign_id = a.campaign_id
        JOIN items i ON i.campaign_id = a.campaign_id AND i.item_id = a.item_id
        JOIN outputs ol ON ol.campaign_id = a.campaign_id AND ol.item_id = a.item_id AND ol.system = a.shown_left
        JOIN outputs orr ON orr.campaign_id = a.campaign_id AND orr.item_id = a.item_id AND orr.system = a.shown_right
        WHERE a.assignment_id = ?
        """,
            [token],
        )
        .fetchone()
    )
    if row is None or row[0] != annotator_id:
        raise AuthError("this pair is not assigned to you")
    return ServedPair(
        token=token,
        campaign_name=row[3],
        instructions=row[4] or "",
        prompt=row[6],
        source=row[7],
        references=list(row[8] or []) if row[5] else [],
        text_a=row[9],
        text_b=row[10],
        criteria=list(campaign_config(con, row[1]).criteria),
        status=row[2],
    )


def progress(
    con: duckdb.DuckDBPyConnection, campaign_id: str, annotator_id: str, now: datetime | None = None
) -> Progress:
    """Pairs judged by this annotator, and pairs assigned: judged + held + those still open to them."""
    now = now or db.utcnow()
    cfg = campaign_config(con, campaign_id)
    cur = db.read(con)
    done, held, regular_done = cur.execute(
        "SELECT count(*) FILTER (WHERE status = 'submitted'), count(*) FILTER (WHERE status = 'open'), "
        "count(*) FILTER (WHERE status = 'submitted' AND NOT is_gold AND NOT is_repeat) "
        "FROM assignments WHERE campaign_id = ? AND annotator_id = ?",
        [campaign_id, annotator_id],
    ).fetchone()
    (available,) = cur.execute(
        f"""
        SELECT count(*) FROM items i
        WHERE i.campaign_id = ? AND NOT i.is_gold
          AND i.item_id NOT IN (SELECT item_id FROM assignments WHERE campaign_id = ? AND annotator_id = ?)
          AND (SELECT count(*) FROM assignments a WHERE a.campaign_id = i.campaign_id AND a.item_id = i.item_id
               AND NOT a.is_repeat AND NOT a.is_gold AND {_active()}) < ?
        """,
        [campaign_id, campaign_id, annotator_id, now, cfg.k],
    ).fetchone()
    if cfg.items_per_annotator is not None:
        available = min(available, max(cfg.items_per_annotator - regular_done - held, 0))
    return Progress(done=int(done), assigned=int(done + held + available))


def own_assignment(
    con: duckdb.DuckDBPyConnection, token: str, annotator_id: str
) -> tuple[str, str, str, str]:
    """(campaign_id, item_id, shown_left, shown_right) of an assignment, checked to belong to the annotator.

    For the store's own use (judgments); never hand its result to the annotator's page.
    """
    row = (
        db.read(con)
        .execute(
            "SELECT annotator_id, campaign_id, item_id, shown_left, shown_right FROM assignments WHERE assignment_id = ?",
            [token],
        )
        .fetchone()
    )
    if row is None:
        raise AnnotationError("this pair does not exist (any more)")
    if row[0] != annotator_id:
        raise AuthError("this pair is not assigned to you")
    return row[1], row[2], row[3], row[4]


def open_campaigns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """campaign_id -> name of the campaigns annotators may work on (no system names: safe for the annotate page)."""
    rows = (
        db.read(con)
        .execute("SELECT campaign_id, name FROM campaigns WHERE status = 'active' ORDER BY created_at DESC")
        .fetchall()
    )
    return dict(rows)
