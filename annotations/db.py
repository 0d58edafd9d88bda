"""Old name of the store, kept for outside checks: `annotations.db.connect(path)`; see annotations.store."""

from annotations.store import *  # noqa: F403
