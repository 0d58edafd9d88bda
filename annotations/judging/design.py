"""The randomization design of a campaign: which system each annotator sees on the left, and in which order
they meet the items. Decided on the server from a secret of the campaign; the annotator's browser never sees
the secret, the design or its state.

Left sides: random permuted blocks (Rosenberger & Lachin, "Randomization in Clinical Trials", 2nd ed. 2016,
ch. 3.4). Each annotator has their own sequence; it is cut into blocks whose sizes are drawn at random from
the campaign's `side_block_sizes` (e.g. 8, 12, 16), and within each block both systems are on the left equally
often. A block is drawn uniformly among the balanced sequences whose running imbalance never passes
`side_max_imbalance` (the "maximal procedure" of Berger, Ivanova & Knoll, Stat. Med. 22:3017-3028, 2003), so
an annotator is balanced within that bound at every point of their sequence, not only at block ends, and
random block sizes hide where a block ends. Blocks of 2 would give the second side of every pair away; here a
guesser who knows every earlier side and the rules, and bets on the system that is behind, is right about 65%
of the time (blocks of 2: 75%, a coin: 50%; tests/annotations/test_design.py), and nobody but the server knows
the earlier sides: the page shows texts, not systems. Defaults: blocks of 8, 12 or 16, at most 3 apart.

Item order: each annotator ranks the items by md5(order_key || item_id), `order_key` being a keyed hash of the
annotator: a permutation of their own that nobody can predict without the secret, computed inside the SQL
query at no storage cost.

Reproducible: every random draw comes from HMAC-SHA256(secret, purpose, annotator, counter), so a restarted
app, another process or a later Python gives the same design. The campaign's record keeps the secret
(`campaigns.design_secret`) and a public `design_id` (a SHA-256 commitment to the secret) that the export
carries: revealing the secret after the study lets anyone recompute every annotator's design and check it
against the stored `shown_left` of each assignment.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from functools import cache

from annotations.errors import CampaignError

# The two independent side sequences of an annotator: regular pairs, and gold pairs (so a gold pair never
# unbalances the regular ones). Flipped repeats take no slot: they show the original's sides swapped.
SIDE_STREAMS = ("pairs", "gold")
# In a campaign over three or more systems each pair of systems has a side sequence of its own:
# "pairs:<first>|<second>" (True: the first on the left).
SYSTEM_PAIR_STREAM = "pairs:"


def new_secret() -> str:
    """A fresh campaign secret: 256 random bits, hex."""
    return secrets.token_hex(32)


def design_id(secret: str) -> str:
    """The public name of a design: a commitment to the secret that does not reveal it."""
    return hashlib.sha256(f"design-id:{secret}".encode()).hexdigest()[:16]


def check_design(block_sizes: list[int], max_imbalance: int) -> None:
    """Raise CampaignError naming what is wrong with a side design's settings."""
    if not block_sizes:
        raise CampaignError("side_block_sizes is empty; give even sizes of at least 8, e.g. [8, 12, 16]")
    for size in block_sizes:
        if not isinstance(size, int) or size < 8 or size % 2:
            raise CampaignError(
                f"side block size {size!r} must be an even number >= 8 (smaller blocks make the last sides "
                "of a block predictable)"
            )
    if not isinstance(max_imbalance, int) or max_imbalance < 2:
        raise CampaignError(f"side_max_imbalance must be an integer >= 2, got {max_imbalance!r}")


class _Stream:
    """Deterministic random integers: HMAC-SHA256(key, label, counter) in counter mode."""

    def __init__(self, key: bytes, label: str) -> None:
        self._key, self._label, self._counter, self._pool = key, label.encode(), 0, b""

    def below(self, n: int) -> int:
        """A uniform integer in [0, n) (rejection sampling: no modulo bias)."""
        if n == 1:
            return 0
        bits = (n - 1).bit_length()
        nbytes = (bits + 7) // 8 + 1
        while True:
            while len(self._pool) < nbytes:
                block = self._label + b"\0" + self._counter.to_bytes(8, "big")
                self._pool += hmac.new(self._key, block, hashlib.sha256).digest()
                self._counter += 1
            value, self._pool = int.from_bytes(self._pool[:nbytes], "big"), self._pool[nbytes:]
            value &= (1 << bits) - 1
            if value < n:
                return value


@cache
def _completions(size: int, max_imbalance: int) -> tuple[tuple[int, ...], ...]:
    """ways[pos][imbalance + size] = balanced completions of a block of `size` from `pos` on, never passing
    `max_imbalance` (dynamic programming, counted backwards from the block's end)."""
    limit = min(max_imbalance, size // 2)
    ways = [[0] * (2 * size + 1) for _ in range(size + 1)]
    ways[size][size] = 1
    for pos in range(size - 1, -1, -1):
        for imbalance in range(-limit, limit + 1):
            total = 0
            for step in (1, -1):
                after = imbalance + step
                if abs(after) <= limit:
                    total += ways[pos + 1][after + size]
            ways[pos][imbalance + size] = total
    return tuple(tuple(row) for row in ways)


def draw_block(stream: _Stream, size: int, max_imbalance: int) -> list[bool]:
    """One block: `size` sides (True: system A on the left), half each, uniform among those whose running
    imbalance stays within `max_imbalance`."""
    ways = _completions(size, max_imbalance)
    sides, imbalance = [], 0
    for pos in range(size):
        a_left = stream.below(ways[pos][imbalance + size]) < ways[pos + 1][imbalance + 1 + size]
        sides.append(a_left)
        imbalance += 1 if a_left else -1
    return sides


@dataclass
class _Sequence:
    stream: _Stream
    sides: list[bool] = field(default_factory=list)


@dataclass(frozen=True)
class Design:
    """A campaign's design: the secret (server only) and the side settings."""

    secret: str = field(repr=False)
    block_sizes: tuple[int, ...] = (8, 12, 16)
    max_imbalance: int = 3

    @property
    def design_id(self) -> str:
        return design_id(self.secret)

    def _key(self, purpose: str, annotator_id: str) -> bytes:
        message = f"{purpose}\0{annotator_id}".encode()
        return hmac.new(bytes.fromhex(self.secret), message, hashlib.sha256).digest()

    def a_left(self, annotator_id: str, slot: int, stream: str = "pairs") -> bool:
        """Whether system A is on the left in this annotator's `slot`-th pair (from 0) of `stream`."""
        return self.sides(annotator_id, slot + 1, stream)[slot]

    def sides(self, annotator_id: str, n: int, stream: str = "pairs") -> list[bool]:
        """The first `n` sides of an annotator's sequence (True: system A on the left)."""
        if stream not in SIDE_STREAMS and not stream.startswith(SYSTEM_PAIR_STREAM):
            raise ValueError(f"stream must be one of {SIDE_STREAMS}, got {stream!r}")
        with _LOCK:
            cache_key = (self.secret, self.block_sizes, self.max_imbalance, annotator_id, stream)
            sequence = _SEQUENCES.get(cache_key)
            if sequence is None:
                sequence = _SEQUENCES[cache_key] = _Sequence(
                    _Stream(self._key(f"sides:{stream}", annotator_id), "draws")
                )
            while len(sequence.sides) < n:
                size = self.block_sizes[sequence.stream.below(len(self.block_sizes))]
                sequence.sides += draw_block(sequence.stream, size, self.max_imbalance)
            return sequence.sides[:n]

    def system_pair(self, annotator_id: str, slot: int, n_pairs: int) -> int:
        """Which of `n_pairs` pairs of systems this annotator's `slot`-th regular pair (from 0) compares: the
        slots come in cycles of n_pairs, each cycle a random permutation of all pairs of its own, so every
        pair of systems comes equally often (to within one cycle) and the next pair cannot be told from the
        previous ones before the cycle's last."""
        cycle, position = divmod(slot, n_pairs)
        stream = _Stream(self._key(f"system-pairs:{cycle}", annotator_id), "draws")
        order = list(range(n_pairs))
        for i in range(n_pairs - 1, 0, -1):  # Fisher-Yates
            j = stream.below(i + 1)
            order[i], order[j] = order[j], order[i]
        return order[position]

    def order_key(self, annotator_id: str) -> str:
        """The annotator's key of the item order: items are ranked by md5(order_key || item_id)."""
        return self._key("order", annotator_id).hex()


# Sides already drawn, per (design, annotator, stream): a pick needs one more side, not the whole sequence
# again.
_SEQUENCES: dict[tuple, _Sequence] = {}
_LOCK = threading.Lock()
