"""Moved to `annotations.accounts.sessions`; this name keeps old imports working."""

from annotations.accounts.sessions import *  # noqa: F403
