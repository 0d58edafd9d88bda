"""The values every table row gets from the store: opaque random ids and UTC timestamps."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, as the naive datetime the TIMESTAMP columns store."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id(prefix: str = "") -> str:
    """A random opaque id (128 bits); it says nothing about what it names."""
    return prefix + secrets.token_hex(16)
