"""Shared by the metric tests: real SciTLDR-A pairs with partial overlap."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def scitldr_pairs(shared_data):
    """`scitldr_pairs(n)`: the first sentence of n dev abstracts as stand-in outputs, their TLDRs as
    references."""

    def pairs(n: int = 40) -> tuple[list[str], list[list[str]]]:
        lines = (shared_data / "scitldr-a" / "dev.jsonl").read_text().splitlines()[:n]
        rows = [json.loads(line) for line in lines]
        # Use the first sentence of each abstract as a stand-in "output": real text, partial overlap.
        return [r["source"][0] for r in rows], [list(r["target"]) for r in rows]

    return pairs
