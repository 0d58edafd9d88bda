"""Errors a researcher or annotator can act on."""


class AnnotationError(Exception):
    """Base class: the CLI prints the message on one line and exits non-zero; pages show it."""


class StoreError(AnnotationError):
    """The DuckDB file cannot be opened, migrated or written."""


class CampaignError(AnnotationError):
    """A campaign cannot be built from the given outputs or options."""


class AuthError(AnnotationError):
    """Wrong credentials, an expired invitation, or a role that may not do this."""


class WriteFailed(StoreError):
    """A write could not be stored (full disk, quota, I/O error); nothing of it was kept, so it may be
    retried."""


class OptionError(AnnotationError, ValueError):
    """An analysis option or quality threshold out of its range (a ValueError too, as configs raise)."""
