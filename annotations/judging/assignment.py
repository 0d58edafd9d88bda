"""Who judges which pair next, and which output is shown on the left.

Rules, all enforced inside one serialized write transaction (`store.write`) so concurrent annotators cannot
break them:
- an annotator never gets an item someone already gave them (except a deliberate flipped repeat);
- an item gets at most k judgments: submitted assignments plus open ones whose lease has not run out;
- an open assignment whose lease ran out (default 15 minutes) no longer holds its slot: the item returns to
  the
  pool; if its holder comes back before someone else took the slot, they keep it;
- the left side is drawn, not alternated: each annotator has a random design of their own
  (annotations.judging.design: random permuted blocks of the campaign's `side_block_sizes`, from the
  campaign's server-side secret), so both systems are on their left equally often within every block, never
  more than `side_max_imbalance` apart, and earlier sides tell little about the next
  (annotations.judging.design says how little). The n-th regular pair given to an annotator takes slot n of
  their sequence; every regular pair given counts (skipped and expired ones too: re-using a slot would repeat
  a known side). Gold pairs take the slots of a second sequence of their own, so they never unbalance the
  regular ones; a flipped repeat takes no slot (its sides are its original's, swapped). The side is stored on
  the assignment (`shown_left`, `shown_right`), which is what analyses read.
- each annotator meets the items in an order of their own (md5 of a keyed hash of the annotator and the item
  id), and items in progress are finished first: once the campaign's `max_items_in_progress` items are
  started and short of k, an annotator gets one of those (the first in their order) before any new one, so a
  campaign stopped early holds complete items, while annotators working side by side still meet items at
  different positions. Within the next SIDE_LOOKAHEAD items of their order, an item whose other judgments
  need the design's side comes first, which keeps items balanced across annotators too;
- gold items (known answer) are mixed in at the campaign's `gold_rate`; a share `repeat_rate` of an
  annotator's judged items comes back later with the sides flipped (intra-annotator consistency);
- a campaign over three or more systems (`CampaignConfig.systems`) shows each regular item once per
  judgment as one pair of its systems: each annotator's n-th regular pair compares the pair of systems at
  slot n of cycles of all C(n, 2) pairs, each cycle in a random order of its own (Design.system_pair), so
  every pair of systems comes about equally often; the side comes from that pair's own balanced sequence
  (stream "pairs:<first>|<second>"). Gold pairs compare system_a with system_b;
- a quota (`items_per_annotator`) caps an annotator's regular judgments;
- a campaign switched to "humans where the judge is unsure" (annotations/campaigns/active_selection.py)
  serves only the regular items its one stored draw chose (`active_draws.drawn`); gold items as before.

Speed: a redraw of the page whose pair is held and needs no new lease is served from one read; the search for
an annotator's next items (the costly query) runs before the write lock, beside other annotators' claims, and
the claim re-reads only those few items inside the lock (k-limit, never twice), searching again in the lock
only when none of them may be taken any more. The preferences (items in progress first, the side an item
needs) come from that earlier read, so they may be a few claims old; the rules never are.

What the annotator's page gets is a `ServedPair`: an opaque token and texts "A" (left) and "B" (right); never
a system name, never whether the pair is gold or a repeat, never anything of the design.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import duckdb

from annotations import store
from annotations.campaigns import CampaignConfig, Criterion, campaign_config, campaign_design
from annotations.campaigns.judges import JUDGE_OF_EACH_CAMPAIGN_SQL, check_judge
from annotations.errors import AnnotationError, AuthError
from annotations.judging.design import SYSTEM_PAIR_STREAM, Design

# The write lane of assignment (see store.write): judgments of pairs whose lease still runs use their own
# lane.
ASSIGNMENT_LANE = "assignments"

# A repeat is never served right after its original: at least this many other judgments come in between.
REPEAT_MIN_GAP = 3

# How far down their own order an annotator's next item may come from, to give an item the side it needs.
SIDE_LOOKAHEAD = 8

_NO_LIMIT = 2**31 - 1

# The regular items a campaign switched to "humans where the judge is unsure" left out (migration 013).
# Only this table is read, never the judge's verdicts: what the judge said stays off the annotator's path.
UNDRAWN_ITEMS_SQL = "(SELECT item_id FROM active_draws WHERE campaign_id = ? AND NOT drawn)"


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


@dataclass(frozen=True)
class Serving:
    """What the annotate page shows an annotator: the pair to judge now (None when done) and their
    progress."""

    pair: ServedPair | None
    progress: Progress


def next_item(
    con: duckdb.DuckDBPyConnection, campaign_id: str, annotator_id: str, now: datetime | None = None
) -> ServedPair | None:
    """The pair this annotator should judge now (their open one, renewed, if they hold one); None when done.
    AuthError when the campaign lists its judges and this account is not one of them."""
    claimed, _ = _next(con, campaign_id, annotator_id, now or store.utcnow())
    return None if claimed is None else _served(con, campaign_id, *claimed, status="open")


def serve(
    con: duckdb.DuckDBPyConnection, campaign_id: str, annotator_id: str, now: datetime | None = None
) -> Serving:
    """`next_item` and `progress` together, as the annotate page shows them after every Submit: when a new
    pair is claimed, the progress comes from the reads the claim made anyway (its search for the annotator's
    next items counts every item still open to them), so no second campaign-wide query runs."""
    now = now or store.utcnow()
    claimed, counts = _next(con, campaign_id, annotator_id, now)
    pair = None if claimed is None else _served(con, campaign_id, *claimed, status="open")
    if counts is None:  # the pair held already, or a claim that changed what it held: counted afresh
        return Serving(pair, progress(con, campaign_id, annotator_id, now))
    return Serving(pair, counts.progress(campaign_config(con, campaign_id)))


class _Counts(NamedTuple):
    """What `progress` counts, as a claim saw it: pairs judged, held, judged among the regular ones, and
    items still open to the annotator (with room, never given to them, not left out of an active draw)."""

    done: int
    held: int
    regular_done: int
    available: int

    def progress(self, cfg: CampaignConfig) -> Progress:
        available = self.available
        if cfg.items_per_annotator is not None:
            available = min(available, max(cfg.items_per_annotator - self.regular_done - self.held, 0))
        return Progress(done=self.done, assigned=self.done + self.held + available)


def _next(
    con: duckdb.DuckDBPyConnection, campaign_id: str, annotator_id: str, now: datetime
) -> tuple[_Claimed | None, _Counts | None]:
    """The assignment to show now, and the progress counts when the claim that made it knows them."""
    cur = store.read(con)
    check_judge(cur, campaign_id, annotator_id)
    config = campaign_config(con, campaign_id)
    held = _held_without_renewal(cur, campaign_id, config, annotator_id, now)
    if held is not None:  # every redraw of the page lands here: one read, no write transaction
        return held, None
    # The costly search for the annotator's next items runs before the write lock, beside other annotators'
    # claims; inside the lock the claim re-reads those few items and takes one only if it still may.
    design = campaign_design(con, campaign_id)
    window = _window(store.read(con), campaign_id, config, annotator_id, now, design.order_key(annotator_id))
    # Everything is decided inside the write lock, the annotator's own counts too: two tabs of one annotator
    # are concurrent requests that must not both see "no open pair" and exceed the quota.
    return store.write(
        con,
        lambda cur: _claim(cur, campaign_id, config, design, annotator_id, now, window),
        lane=ASSIGNMENT_LANE,
    )


def _held_without_renewal(
    cur: duckdb.DuckDBPyConnection, cid: str, cfg: CampaignConfig, annotator_id: str, now: datetime
) -> _Claimed | None:
    """The pair the claim would return unchanged: the annotator's first open pair in an active campaign, while
    more than half of its lease is left (the claim renews a lease only after that). None: ask the claim.
    `cur`: a read cursor of this thread."""
    # An annotator holds one open pair, rarely two: sorted here, which DuckDB's plan of ORDER BY ... LIMIT 1
    # made twice as costly as the read.
    rows = cur.execute(
        "SELECT served_at, assignment_id, item_id, shown_left, shown_right, lease_expires_at "
        "FROM assignments WHERE campaign_id = ? AND annotator_id = ? AND status = 'open'",
        [cid, annotator_id],
    ).fetchall()
    if not rows:
        return None
    _, assignment_id, item_id, shown_left, shown_right, lease_expires_at = min(rows)
    if lease_expires_at - now < timedelta(minutes=cfg.lease_minutes) / 2:
        return None
    (status,) = cur.execute("SELECT status FROM campaigns WHERE campaign_id = ?", [cid]).fetchone()
    return _Claimed(assignment_id, item_id, shown_left, shown_right) if status == "active" else None


class _Claimed(NamedTuple):
    """The assignment a claim holds for the annotator: all the page's view needs, without reading it again."""

    token: str
    item_id: str
    shown_left: str
    shown_right: str


class _History(NamedTuple):
    """What the claim needs to know of one annotator in one campaign."""

    n_open: int  # pairs they hold now
    n_done: int  # pairs judged, gold and repeats too (the progress counts these)
    n_regular: int  # regular pairs judged (the quota counts these)
    n_repeats: int  # repeats given, open or judged
    n_gold: int  # gold pairs given, open or judged
    pair_slots: int  # regular pairs ever given, whatever became of them: the next one takes this design slot
    gold_slots: int  # gold pairs ever given: the next gold pair takes this slot of the gold sequence


def _annotator_history(cur: duckdb.DuckDBPyConnection, cid: str, annotator_id: str) -> _History:
    # a few rows (status x gold x repeat) counted here: cheaper for DuckDB to plan than one FILTER per figure
    counts = {
        (status, is_gold, is_repeat): int(n)
        for status, is_gold, is_repeat, n in cur.execute(
            "SELECT status, is_gold, is_repeat, count(*) FROM assignments "
            "WHERE campaign_id = ? AND annotator_id = ? GROUP BY status, is_gold, is_repeat",
            [cid, annotator_id],
        ).fetchall()
    }
    held_or_judged = ("open", "submitted")

    def total(status=None, gold=None, repeat=None) -> int:
        return sum(
            n
            for (s, g, r), n in counts.items()
            if (status is None or s in status)
            and (gold is None or g == gold)
            and (repeat is None or r == repeat)
        )

    return _History(
        n_open=total(status=("open",)),
        n_done=total(status=("submitted",)),
        n_regular=total(status=("submitted",), gold=False, repeat=False),
        n_repeats=total(status=held_or_judged, repeat=True),
        n_gold=total(status=held_or_judged, gold=True),
        pair_slots=total(gold=False, repeat=False),
        gold_slots=total(gold=True),
    )


def _claim(
    cur: duckdb.DuckDBPyConnection,
    cid: str,
    cfg: CampaignConfig,
    design: Design,
    annotator_id: str,
    now: datetime,
    window: _Window,
) -> tuple[_Claimed | None, _Counts | None]:
    """The assignment to show the annotator now, and the progress counts after it when they are known without
    another read: the annotator held no pair, so their counts are the history read here plus what the claim
    added, and the items still open to them are those the search counted (less the one it gave them)."""
    lease_until = now + timedelta(minutes=cfg.lease_minutes)
    (status,) = cur.execute("SELECT status FROM campaigns WHERE campaign_id = ?", [cid]).fetchone()
    if status != "active":
        return None, None
    n_open, n_done, n_regular, n_repeats, n_gold, pair_slots, gold_slots = _annotator_history(
        cur, cid, annotator_id
    )

    def known(claimed: _Claimed | None, open_items: int) -> tuple[_Claimed | None, _Counts | None]:
        if n_open:  # the held pairs were renewed or expired below: the page counts afresh
            return claimed, None
        return claimed, _Counts(n_done, int(claimed is not None), n_regular, open_items)

    if n_open:
        held = cur.execute(
            "SELECT assignment_id, item_id, lease_expires_at, is_gold, is_repeat, shown_left, shown_right "
            "FROM assignments WHERE campaign_id = ? AND annotator_id = ? AND status = 'open' ORDER BY "
            "served_at",
            [cid, annotator_id],
        ).fetchall()
        for assignment_id, item_id, lease_expires_at, is_gold, is_repeat, left, right in held:
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
                return _Claimed(assignment_id, item_id, left, right), None
            cur.execute("UPDATE assignments SET status = 'expired' WHERE assignment_id = ?", [assignment_id])

    if cfg.items_per_annotator is not None and n_regular >= cfg.items_per_annotator:
        return known(None, window.open_items)

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
            original_id, item_id, shown_left, shown_right = original
            # Flipped sides: what was on the left is now on the right (a repeat takes no slot of the design).
            repeat = _insert(
                cur,
                cid,
                item_id,
                annotator_id,
                shown_right,
                shown_left,
                now,
                lease_until,
                is_repeat=True,
                repeat_of=original_id,
            )
            return known(repeat, window.open_items)  # its item was given to them before: not an open one

    order_key = design.order_key(annotator_id)
    if cfg.gold_rate > 0 and n_gold < math.floor((n_regular + n_gold + 1) * cfg.gold_rate):
        a_left = design.a_left(annotator_id, gold_slots, "gold")
        gold = _window(cur, cid, cfg, annotator_id, now, order_key, gold=True).items
        if gold:
            item_id = _best_fit(gold, a_left)
            given = _insert(
                cur, cid, item_id, annotator_id, *_sides(cfg, a_left), now, lease_until, is_gold=True
            )
            return known(given, window.open_items)  # gold items are not counted among the open ones

    # The window read before the lock, re-checked; when none of it may be taken any more, a search in the
    # lock.
    searched = window
    candidates = _still_open(cur, cid, cfg, annotator_id, now, window.items)
    if not candidates:
        searched = _window(cur, cid, cfg, annotator_id, now, order_key)
        candidates = searched.items
    if not candidates:
        return known(None, searched.open_items)
    if cfg.multi_system:
        # The item's balance counts system_a on the left, which says nothing of other pairs of systems:
        # the annotator's own order decides.
        sides = _system_pair_sides(cfg, design, annotator_id, pair_slots)
        given = _insert(cur, cid, candidates[0][0], annotator_id, *sides, now, lease_until)
    else:
        a_left = design.a_left(annotator_id, pair_slots, "pairs")
        given = _insert(
            cur, cid, _best_fit(candidates, a_left), annotator_id, *_sides(cfg, a_left), now, lease_until
        )
    return known(given, searched.open_items - 1)  # the item given was one of those the search counted


def _system_pair_sides(cfg: CampaignConfig, design: Design, annotator_id: str, slot: int) -> tuple[str, str]:
    """(shown_left, shown_right) of an annotator's `slot`-th regular pair in a campaign over three or more
    systems: the pair of systems from the annotator's cycles of all pairs (Design.system_pair), the side from
    that pair's own balanced sequence, whose slot is the cycle (each cycle holds every pair once)."""
    pairs = list(itertools.combinations(cfg.compared_systems, 2))
    first, second = pairs[design.system_pair(annotator_id, slot, len(pairs))]
    first_left = design.a_left(annotator_id, slot // len(pairs), f"{SYSTEM_PAIR_STREAM}{first}|{second}")
    return (first, second) if first_left else (second, first)


def _sides(cfg: CampaignConfig, a_left: bool) -> tuple[str, str]:
    """(shown_left, shown_right) for a side of the design."""
    return (cfg.system_a, cfg.system_b) if a_left else (cfg.system_b, cfg.system_a)


def has_room(
    cur: duckdb.DuckDBPyConnection, cid: str, item_id: str, k: int, now: datetime, except_id: str
) -> bool:
    """Whether `item_id` can take one more judgment besides the assignment `except_id`: the k-limit rule, used
    by assignment and by a submit that comes in after its lease ran out."""
    (judged_or_held,) = cur.execute(
        "SELECT count(*) FROM assignments WHERE campaign_id = ? AND item_id = ? AND NOT is_repeat AND NOT "
        f"is_gold AND assignment_id <> ? AND {_active()}",
        [cid, item_id, except_id, now],
    ).fetchone()
    return int(judged_or_held) < k


class _Window(NamedTuple):
    """The items an annotator may meet next, and how many items are open to them in all."""

    items: list[tuple[str, int]]  # (item_id, left balance), in the annotator's order
    open_items: int  # every item the search found, before the window was cut to its first few


def _window(
    cur: duckdb.DuckDBPyConnection,
    cid: str,
    cfg: CampaignConfig,
    annotator_id: str,
    now: datetime,
    order_key: str,
    *,
    gold: bool = False,
) -> _Window:
    """(item_id, left balance) of the items this annotator may meet next, in their own order, and the number
    of items open to them (what `progress` counts as still to come, for regular items).

    Among the items with room that the annotator was never given: while `max_items_in_progress` items are
    started and short of k, only those (items in progress are finished before new ones start); of these the
    first SIDE_LOOKAHEAD in the annotator's own order (md5 of their order key and the item id). The balance is
    (judgments with system A on the left) - (with B on the left) among those that hold a slot.
    """
    # Gold items are not limited to k: every annotator may see each one once.
    room = "TRUE" if gold else "coalesce(c.active, 0) < ?"
    in_progress_limit = _NO_LIMIT if gold else cfg.max_items_in_progress
    params: list[object] = [
        cfg.system_a,
        cid,
        gold,
        now,
        cfg.k,
        in_progress_limit,
        cid,
        gold,
        cid,
        annotator_id,
        cid,
    ]
    if not gold:
        params.append(cfg.k)
    params += [order_key, SIDE_LOOKAHEAD]
    rows = cur.execute(
        f"""
        WITH c AS (
            SELECT item_id, count(*) AS active, sum(CASE WHEN shown_left = ? THEN 1 ELSE -1 END) AS diff
            FROM assignments WHERE campaign_id = ? AND NOT is_repeat AND is_gold = ? AND {_active()}
            GROUP BY item_id
        ),
        in_progress AS (SELECT count(*) AS n FROM c WHERE active < ?)
        SELECT i.item_id, coalesce(c.diff, 0) AS diff,
               -- tier 1: a new item while enough are in progress; taken only when no started one is left
               CASE WHEN c.active IS NULL AND (SELECT n FROM in_progress) >= ? THEN 1 ELSE 0 END AS tier,
               count(*) OVER () AS open_items
        FROM items i LEFT JOIN c ON c.item_id = i.item_id
        WHERE i.campaign_id = ? AND i.is_gold = ?
          AND i.item_id NOT IN (SELECT item_id FROM assignments WHERE campaign_id = ? AND annotator_id = ?)
          AND i.item_id NOT IN {UNDRAWN_ITEMS_SQL}
          AND {room}
        ORDER BY tier, md5(? || i.item_id)
        LIMIT ?
        """,
        params,
    ).fetchall()
    if not rows:
        return _Window([], 0)
    first_tier, open_items = rows[0][2], int(rows[0][3])
    return _Window(
        [(item_id, int(diff)) for item_id, diff, tier, _ in rows if tier == first_tier], open_items
    )


def _still_open(
    cur: duckdb.DuckDBPyConnection,
    cid: str,
    cfg: CampaignConfig,
    annotator_id: str,
    now: datetime,
    window: list[tuple[str, int]],
) -> list[tuple[str, int]]:
    """The items of a window read earlier that the annotator may still be given, with their balance now: the
    k-limit, "never the same item twice" and the active draw are checked here, inside the write lock."""
    if not window:
        return []
    wanted = [item_id for item_id, _ in window]
    undrawn = cur.execute(  # a switch to "humans where the judge is unsure" may have come after the window
        "SELECT item_id FROM active_draws WHERE campaign_id = ? AND NOT drawn "
        f"AND item_id IN ({store.in_list(wanted)})",
        [cid, *wanted],
    ).fetchall()
    wanted = [item_id for item_id in wanted if (item_id,) not in undrawn]
    if not wanted:
        return []
    state = {item_id: [0, 0, 0] for item_id in wanted}  # given to this annotator, holding a slot, balance
    rows = cur.execute(  # a few rows (k per item), counted here: cheaper than asking DuckDB to aggregate
        "SELECT item_id, annotator_id, shown_left, status, lease_expires_at, is_repeat, is_gold FROM "
        f"assignments WHERE campaign_id = ? AND item_id IN ({store.in_list(wanted)})",
        [cid, *wanted],
    ).fetchall()
    for item_id, holder, shown_left, status, lease_expires_at, is_repeat, is_gold in rows:
        counts = state[item_id]
        counts[0] += holder == annotator_id
        if (
            not is_repeat
            and not is_gold
            and (status == "submitted" or (status == "open" and lease_expires_at > now))
        ):
            counts[1] += 1
            counts[2] += 1 if shown_left == cfg.system_a else -1
    return [
        (item_id, diff) for item_id, (mine, active, diff) in state.items() if mine == 0 and active < cfg.k
    ]


def _best_fit(candidates: list[tuple[str, int]], a_left: bool) -> str:
    """Of (item_id, balance) in the annotator's order, the first whose judgments need the design's side (so
    items stay balanced across annotators too), else the first that is even, else the first."""
    side = 1 if a_left else -1

    def fit(candidate: tuple[str, int]) -> int:
        _, diff = candidate  # 0: this side rebalances the item, 1: the item is even, 2: it unbalances it
        return 0 if diff * side < 0 else 1 if diff == 0 else 2

    item_id, _ = min(candidates, key=fit)  # min keeps the first of equals: the annotator's order
    return item_id


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
) -> _Claimed:
    assignment_id = store.new_id()
    cur.execute(
        "INSERT INTO assignments (assignment_id, campaign_id, item_id, annotator_id, shown_left, "
        "shown_right, status, is_gold, is_repeat, repeat_of, served_at, lease_expires_at) VALUES (?, ?, ?, "
        "?, ?, ?, 'open', ?, ?, ?, ?, ?)",
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
    return _Claimed(assignment_id, item_id, shown_left, shown_right)


def view(con: duckdb.DuckDBPyConnection, token: str, annotator_id: str) -> ServedPair:
    """The blind view of one of this annotator's assignments; AuthError if the token is someone else's."""
    row = (
        store.read(con)
        .execute(
            "SELECT annotator_id, campaign_id, item_id, shown_left, shown_right, status FROM assignments "
            "WHERE assignment_id = ?",
            [token],
        )
        .fetchone()
    )
    owner, campaign_id, item_id, shown_left, shown_right, status = row if row is not None else (None,) * 6
    if owner is None or owner != annotator_id:
        raise AuthError("this pair is not assigned to you")
    return _served(con, campaign_id, token, item_id, shown_left, shown_right, status=status)


@dataclass(frozen=True)
class _ItemTexts:
    prompt: str | None
    source: str | None
    references: tuple[str, ...]
    outputs: dict[str, str]  # system -> output


# Items and outputs never change once a campaign exists, so the texts of the pairs being judged are kept in
# the process: serving a pair then reads only its assignment row. Bounded: least recently served out first.
ITEM_TEXT_CACHE = 4096
_TEXTS: OrderedDict[tuple[str, str], _ItemTexts] = OrderedDict()
_TEXTS_LOCK = threading.Lock()


def _item_texts(con: duckdb.DuckDBPyConnection, campaign_id: str, item_id: str) -> _ItemTexts:
    key = (campaign_id, item_id)
    with _TEXTS_LOCK:
        texts = _TEXTS.get(key)
        if texts is not None:
            _TEXTS.move_to_end(key)
            return texts
    rows = (
        store.read(con)
        .execute(
            "SELECT i.prompt, i.source, i.reference_texts, o.system, o.output FROM items i "
            "JOIN outputs o ON o.campaign_id = i.campaign_id AND o.item_id = i.item_id "
            "WHERE i.campaign_id = ? AND i.item_id = ?",
            [campaign_id, item_id],
        )
        .fetchall()
    )
    if not rows:
        raise AnnotationError(f"item {item_id} of campaign {campaign_id} has no outputs")
    prompt, source, references, *_ = rows[0]
    outputs = {system: output for *_, system, output in rows}
    texts = _ItemTexts(prompt, source, tuple(references or ()), outputs)
    with _TEXTS_LOCK:
        _TEXTS[key] = texts
        while len(_TEXTS) > ITEM_TEXT_CACHE:
            _TEXTS.popitem(last=False)
    return texts


def _served(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    token: str,
    item_id: str,
    shown_left: str,
    shown_right: str,
    *,
    status: str,
) -> ServedPair:
    cfg = campaign_config(con, campaign_id)
    texts = _item_texts(con, campaign_id, item_id)
    return ServedPair(
        token=token,
        campaign_name=cfg.name,
        instructions=cfg.instructions or "",
        prompt=texts.prompt,
        source=texts.source,
        references=list(texts.references) if cfg.show_reference else [],
        text_a=texts.outputs[shown_left],
        text_b=texts.outputs[shown_right],
        criteria=list(cfg.criteria),
        status=status,
    )


def progress(
    con: duckdb.DuckDBPyConnection, campaign_id: str, annotator_id: str, now: datetime | None = None
) -> Progress:
    """Pairs judged by this annotator, and pairs assigned: judged + held + those still open to them."""
    now = now or store.utcnow()
    cfg = campaign_config(con, campaign_id)
    cur = store.read(con)
    done, held, regular_done = cur.execute(
        "SELECT count(*) FILTER (WHERE status = 'submitted'), count(*) FILTER (WHERE status = 'open'), "
        "count(*) FILTER (WHERE status = 'submitted' AND NOT is_gold AND NOT is_repeat) "
        "FROM assignments WHERE campaign_id = ? AND annotator_id = ?",
        [campaign_id, annotator_id],
    ).fetchone()
    (available,) = cur.execute(
        f"""
        WITH c AS (
            SELECT item_id, count(*) FILTER (WHERE NOT is_repeat AND NOT is_gold AND {_active()}) AS active,
                   bool_or(annotator_id = ?) AS seen
            FROM assignments WHERE campaign_id = ? GROUP BY item_id
        )
        SELECT count(*) FROM items i LEFT JOIN c ON c.item_id = i.item_id
        WHERE i.campaign_id = ? AND NOT i.is_gold AND NOT coalesce(c.seen, FALSE)
          AND coalesce(c.active, 0) < ? AND i.item_id NOT IN {UNDRAWN_ITEMS_SQL}
        """,
        [now, annotator_id, campaign_id, campaign_id, cfg.k, campaign_id],
    ).fetchone()
    if cfg.items_per_annotator is not None:
        available = min(available, max(cfg.items_per_annotator - regular_done - held, 0))
    return Progress(done=int(done), assigned=int(done + held + available))


@dataclass(frozen=True)
class OwnedPair:
    """An assignment checked to belong to the annotator: which item, and which system is shown on each
    side."""

    campaign_id: str
    item_id: str
    shown_left: str
    shown_right: str


def own_assignment(con: duckdb.DuckDBPyConnection, token: str, annotator_id: str) -> OwnedPair:
    """The campaign, item and sides of an assignment, checked to belong to the annotator.

    For the store's own use (judgments); never hand its result to the annotator's page.
    """
    row = (
        store.read(con)
        .execute(
            "SELECT annotator_id, campaign_id, item_id, shown_left, shown_right FROM assignments WHERE "
            "assignment_id = ?",
            [token],
        )
        .fetchone()
    )
    if row is None:
        raise AnnotationError("this pair does not exist (any more)")
    owner, campaign_id, item_id, shown_left, shown_right = row
    if owner != annotator_id:
        raise AuthError("this pair is not assigned to you")
    return OwnedPair(campaign_id, item_id, shown_left, shown_right)


def open_campaigns(con: duckdb.DuckDBPyConnection, annotator_id: str | None = None) -> dict[str, str]:
    """campaign_id -> name of the campaigns annotators may work on (no system names: safe for the annotate
    page); with `annotator_id`, only those this account may judge (annotations/campaigns/judges.py), the
    campaigns that list this account first: an annotator lands on a campaign they were invited to, not on
    the newest one open to all."""
    query = "SELECT c.campaign_id, c.name FROM campaigns c WHERE c.status = 'active'"
    params: list[str] = []
    order = "c.created_at DESC"
    if annotator_id is not None:
        query += f" AND {JUDGE_OF_EACH_CAMPAIGN_SQL}"
        order = (
            "EXISTS (SELECT 1 FROM campaign_judges j WHERE j.campaign_id = c.campaign_id AND j.user_id = ?) "
            f"DESC, {order}"
        )
        params = [annotator_id, annotator_id]
    rows = store.read(con).execute(f"{query} ORDER BY {order}", params).fetchall()
    return dict(rows)
