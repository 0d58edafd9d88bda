"""Results are types, not tuples (STYLE.md; issue 19, item 5): in the rooms of accounts and judging, a row
read from the store is unpacked into names or a record next to its SELECT, never read by position further
down."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("annotations/accounts", "annotations/judging")


def positional_reads(source: str) -> list[str]:
    """`name[0]`-style reads of a name that holds a `.fetchone()` row, as 'line N: name[i]'."""
    tree = ast.parse(source)
    rows = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            call = node.value
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "fetchone"
            ):
                rows.add(node.targets[0].id)
    return [
        f"line {node.lineno}: {node.value.id}[{ast.unparse(node.slice)}]"
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id in rows
        and not (isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str))
    ]


def test_the_finder_flags_a_row_read_by_position():
    source = (
        "row = cur.execute(q).fetchone()\nif row[4] > 1:\n    x = row[1:3]\n"
        "name, = cur.execute(q).fetchone()\n"
    )
    assert positional_reads(source) == ["line 2: row[4]", "line 3: row[1:3]"]


def test_no_row_of_the_store_is_read_by_position_in_accounts_and_judging():
    found = {}
    for room in ROOMS:
        for path in sorted((ROOT / room).glob("*.py")):
            reads = positional_reads(path.read_text())
            if reads:
                found[str(path.relative_to(ROOT))] = reads
    assert not found, f"unpack the row into names or a record next to its SELECT: {found}"
