"""Moved to `annotations.campaigns.runs`; this name keeps old imports working."""

from annotations.campaigns.runs import *  # noqa: F403
