"""Moved to `annotations.store.backup_manifest`; this name keeps old imports working."""

from annotations.store.backup_manifest import *  # noqa: F403
