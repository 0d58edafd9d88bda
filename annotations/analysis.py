"""Moved to `annotations.stats.analysis`; this name keeps old imports working."""

from annotations.stats.analysis import *  # noqa: F403
