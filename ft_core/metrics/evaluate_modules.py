"""Any Hugging Face `evaluate` module as a metric: `metrics=["evaluate:/path/to/module"]` (or a hub id
online).

Per example, the module is computed on each (prediction, references) pair; at corpus level, once on the items
that have references. Its scalar results become columns named after the module (`word_match`, or
`<module>_<key>` for further keys).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from ft_core.errors import ConfigError

PREFIX = "evaluate:"


@functools.lru_cache(maxsize=8)
def load_module(location: str) -> Any:
    import evaluate

    try:
        return evaluate.load(location)
    except Exception as e:  # a missing path, offline hub, or a broken script: all mean "cannot use this"
        raise ConfigError(
            f"cannot load the evaluate module {location!r} ({type(e).__name__}); give a local module folder "
            "or script, or a hub id when online"
        ) from None


def scalars(name: str, result: dict[str, Any]) -> dict[str, float]:
    """The numeric results of a module's `compute`, named `name` or `name_key`."""
    out = {}
    for key, value in (result or {}).items():
        if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
            out[key if key == name else f"{name}_{key}"] = float(value)
    return out


def location_and_name(metric: str) -> tuple[str, str]:
    """`evaluate:/x/word-match` -> ('/x/word-match', 'word_match')."""
    location = metric.split(":", 1)[1]
    return location, Path(location.rstrip("/")).stem.replace("-", "_")
