"""Errors a researcher can act on. Every bad input ends in one of these, raised early, at the edge."""


class FtCoreError(Exception):
    """Base class: the CLI prints the message on one line and exits non-zero."""


class ConfigError(FtCoreError):
    """A config field is missing, unknown or out of range."""


class DataError(FtCoreError):
    """A data file is missing, empty, or lacks the configured columns."""


class ModelError(FtCoreError):
    """A base model or adapter cannot be resolved or does not fit the config."""


class RunFolderError(FtCoreError):
    """A run folder exists already, lacks what a step needs, or is not a run folder."""
