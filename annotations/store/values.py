"""The values every table row gets from the store: opaque random ids and UTC timestamps; and the
placeholders of a list of values in a query (`x IN (...)`)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, as the naive datetime the TIMESTAMP columns store."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id(prefix: str = "") -> str:
    """A random opaque id (128 bits); it says nothing about what it names."""
    return prefix + secrets.token_hex(16)


def in_list(values: object) -> str:
    """The inside of `x IN (...)` with one `?` per value, to be bound one parameter each (every driver binds
    plain values; a list parameter is DuckDB's alone); `NULL`, which matches nothing, for no value."""
    return ", ".join("?" * len(values)) or "NULL"  # type: ignore[arg-type]
