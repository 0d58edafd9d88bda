"""Moved to `annotations.accounts.users`; this name keeps old imports working."""

from annotations.accounts.users import *  # noqa: F403
