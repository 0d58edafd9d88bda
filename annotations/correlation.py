"""Moved to `annotations.stats.correlation`; this name keeps old imports working."""

from annotations.stats.correlation import *  # noqa: F403
