"""Old name of the report and export, kept so old imports work; see annotations.report."""

from annotations.report import *  # noqa: F403
