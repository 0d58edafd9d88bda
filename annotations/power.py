"""Moved to `annotations.stats.power`; this name keeps old imports working."""

from annotations.stats.power import *  # noqa: F403
