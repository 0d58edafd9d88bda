"""Errors of the job runner that a researcher can act on.

`JobError` is the base of jobs/ alone, apart from `annotations.errors.AnnotationError`: a job that cannot be
queued, started or cancelled is no error of the human side. Pages catch both and show the message on one line.
"""


class JobError(Exception):
    """A job cannot be enqueued, started or cancelled; the message says why and what to do."""
