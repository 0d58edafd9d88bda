"""Moved to `annotations.stats.agreement`; this name keeps old imports working."""

from annotations.stats.agreement import *  # noqa: F403
