"""Config fields with limits, for the configs of `annotations` (AnalysisOptions, QualityThresholds,
CampaignConfig): ft_core's `option` (label, help, choices, the command-line flag, and the range of a number
as one `ft_core.config.Range` in the field's metadata), spelled with the names a form reads (`min`/`max`
inclusive, `above`/`below` exclusive), and ft_core's one check of them, so a form, a command line and the
config's own `__post_init__` share one source of limits and one wording of their errors."""

from __future__ import annotations

import dataclasses
from typing import Any

from ft_core.config import Range, check_fields, option


def bounded(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    label: str,
    min: float | None = None,  # noqa: A002 - the name a form's min_value reads
    max: float | None = None,  # noqa: A002
    above: float | None = None,
    below: float | None = None,
    **more: Any,
) -> Any:
    """`ft_core.config.option` with limits on the value (None: no limit on that side)."""
    return option(
        default, help=help, label=label, at_least=min, at_most=max, above=above, below=below, **more
    )


def field_range(metadata: Any) -> Range | None:
    """The range a field declares, or None."""
    return metadata.get("range")


def widget_bounds(metadata: Any) -> tuple[float | None, float | None]:
    """The lowest and highest value a form's widget offers (an open bound is offered and refused by the config
    with its own message: Streamlit's inputs have closed bounds only)."""
    bounds = field_range(metadata)
    return (None, None) if bounds is None else (bounds.low, bounds.high)


def check_limits(cfg: Any, error: type[Exception]) -> None:
    """Coerce every field to its type, check its choices and its range (ft_core's `check_fields`): raise
    `error` naming the first bad field and its allowed range, on one line."""
    check_fields(cfg, error)
