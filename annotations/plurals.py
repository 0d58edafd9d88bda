"""Counted nouns in the messages people read: "1 annotator", "3 annotators", never "1 annotators" or
"annotator(s)". One function, so every page and message counts the same way."""

from __future__ import annotations

_IRREGULAR = {"is": "are", "was": "were", "has": "have", "this": "these", "it": "they"}


def plural(n: int | float, noun: str, many: str | None = None) -> str:
    """`noun` as it goes with the number n: 'annotator' for 1, 'annotators' otherwise (`many` when not +s)."""
    if n == 1:
        return noun
    return (
        many
        or _IRREGULAR.get(noun)
        or (noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s")
    )


def counted(n: int | float, noun: str, many: str | None = None) -> str:
    """'1 annotator', '3 annotators', '1,200 judgments' (thousands separated)."""
    number = f"{n:,}" if isinstance(n, int) or float(n).is_integer() else f"{n:,.1f}"
    if not isinstance(n, int) and float(n).is_integer():
        number = f"{int(n):,}"
    return f"{number} {plural(n, noun, many)}"
