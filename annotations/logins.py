"""Moved to `annotations.accounts.logins`; this name keeps old imports working."""

from annotations.accounts.logins import *  # noqa: F403
