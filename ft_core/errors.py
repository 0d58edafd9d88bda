"""Errors a researcher can act on. Every bad input ends in one of these, raised early, at the edge; the
commands print them, and warnings, on one line each."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator


class FtCoreError(Exception):
    """Base class: the CLI prints the message on one line and exits non-zero."""


class ConfigError(FtCoreError, ValueError):
    """A config field is missing, unknown or out of range."""


class DataError(FtCoreError):
    """A data file is missing, empty, or lacks the configured columns."""


class ModelError(FtCoreError):
    """A base model or adapter cannot be resolved or does not fit the config."""


class RunFolderError(FtCoreError):
    """A run folder exists already, lacks what a step needs, or is not a run folder."""


@contextlib.contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Inside a command: every warning is printed once, as one line `warning: ...` on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *a, **k: print(f"warning: {message}", file=sys.stderr)
        yield
