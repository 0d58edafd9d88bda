"""Moved to `annotations.judging.judgments`; this name keeps old imports working."""

from annotations.judging.judgments import *  # noqa: F403
