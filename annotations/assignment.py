"""Moved to `annotations.judging.assignment`; this name keeps old imports working."""

from annotations.judging.assignment import *  # noqa: F403
