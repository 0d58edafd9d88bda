"""The statistics' one check on the frames they take (docs/frames.md describes every column): the columns a
function needs are there, or an error that names the missing ones and the ones the frame has."""

from __future__ import annotations

import pandas as pd

from annotations.errors import AnnotationError
from annotations.plurals import plural


def require_columns(df: pd.DataFrame, columns: list[str], what: str) -> None:
    """Raise AnnotationError when `df` lacks any of `columns` (`what`: the function asking, for the
    message)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise AnnotationError(
            f"{what}: {plural(len(missing), 'column')} {missing} not found; columns are: "
            f"{', '.join(map(str, df.columns))}"
        )
