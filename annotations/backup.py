"""Moved to `annotations.store.backup`; this name keeps old imports working."""

from annotations.store.backup import *  # noqa: F403
