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


class OutOfMemory(FtCoreError):
    """The GPU ran out of memory; the message says which settings to lower."""


def is_out_of_memory(error: BaseException) -> bool:
    """torch's out-of-memory error, or another error that says so (a CUDA or cuBLAS allocation failure).
    Needs no torch import: an error raised by torch means torch is loaded."""
    if isinstance(error, (KeyboardInterrupt, SystemExit)):
        return False
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(error, torch.OutOfMemoryError):
        return True
    return "out of memory" in str(error).lower()


@contextlib.contextmanager
def out_of_memory_hint(where: str, advice: str) -> Iterator[None]:
    """Inside a GPU job: an out-of-memory error becomes one line, `out of GPU memory at <where>: <advice>`,
    as training says it (`ft_core.train`)."""
    try:
        yield
    except FtCoreError:
        raise
    except Exception as e:
        if is_out_of_memory(e):
            raise OutOfMemory(f"out of GPU memory at {where}: {advice}") from None
        raise


@contextlib.contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Inside a command: every warning is printed once, as one line `warning: ...` on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *a, **k: print(f"warning: {message}", file=sys.stderr)
        yield
