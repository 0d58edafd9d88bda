"""Moved to `annotations.judging.design`; this name keeps old imports working."""

from annotations.judging.design import *  # noqa: F403
