"""Moved to `annotations.campaigns.time_left`; this name keeps old imports working."""

from annotations.campaigns.time_left import *  # noqa: F403
