"""Config fields with limits, for the configs of `annotations` (AnalysisOptions, QualityThresholds): ft_core's
`option` (label, help, choices, the command-line flag) plus `min`/`max` (inclusive) and `above`/`below`
(exclusive) in the field's metadata, and the one check that reads them, so a form, a command line and the
config's own `__post_init__` share one source of limits."""

from __future__ import annotations

import dataclasses
import types
from typing import Any

from ft_core.config import check_fields, option

LIMITS = ("min", "max", "above", "below")


def bounded(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    label: str,
    min: float | None = None,  # noqa: A002 - the metadata key, as the form reads it
    max: float | None = None,  # noqa: A002
    above: float | None = None,
    below: float | None = None,
    **more: Any,
) -> Any:
    """`ft_core.config.option` with limits on the value (None: no limit on that side)."""
    f = option(default, help=help, label=label, **more)
    limits = {k: v for k, v in zip(LIMITS, (min, max, above, below), strict=True) if v is not None}
    f.metadata = types.MappingProxyType({**f.metadata, **limits})
    return f


def allowed_range(metadata: Any) -> str:
    """The limits of a field in words: "between 0 and 1", "> 0", "at least 0"."""
    low = (
        (">=", metadata["min"])
        if "min" in metadata
        else (">", metadata["above"])
        if "above" in metadata
        else None
    )
    high = (
        ("<=", metadata["max"])
        if "max" in metadata
        else ("<", metadata["below"])
        if "below" in metadata
        else None
    )
    if low and high:
        inclusive = low[0] == ">=" and high[0] == "<="
        exclusive = low[0] == ">" and high[0] == "<"
        if inclusive or exclusive:
            return f"between {low[1]} and {high[1]}{'' if inclusive else ' (both excluded)'}"
        return f"{low[0]} {low[1]} and {high[0]} {high[1]}"
    bound = low or high
    return f"{bound[0]} {bound[1]}" if bound else "any value"


def out_of_range(value: Any, metadata: Any) -> bool:
    """Whether `value` breaks a limit in `metadata` (None is never checked: it means "not set")."""
    if value is None:
        return False
    return (
        ("min" in metadata and value < metadata["min"])
        or ("max" in metadata and value > metadata["max"])
        or ("above" in metadata and value <= metadata["above"])
        or ("below" in metadata and value >= metadata["below"])
    )


def check_limits(cfg: Any, error: type[Exception]) -> None:
    """Coerce every field to its type and check its choices (ft_core's `check_fields`), then its limits: raise
    `error` naming the first bad field and its allowed range, on one line."""
    check_fields(cfg, error)
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if out_of_range(value, f.metadata):
            raise error(f"{f.name} must be {allowed_range(f.metadata)}; got {value!r}")
