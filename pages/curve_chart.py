"""The live training curve of the Jobs page: loss and eval loss against the step, drawn inside its axes.

Vega-Lite's default domain for a single point is that point itself (and "nice" rounding may leave it on or
past the axis' end), and its default tick format on a range of one step prints "1.000000". Here the domains
are padded around the data (a single value or step gets a window of its own) and the step axis shows whole
numbers.
"""

from __future__ import annotations

import math

import altair as alt
import pandas as pd


def padded(low: float, high: float, share: float = 0.1, minimum: float = 0.05) -> tuple[float, float]:
    """[low, high] widened on both sides by `share` of its span (at least `minimum`, or 10% of the value when
    the span is zero), so every point lies strictly inside."""
    span = high - low
    pad = span * share if span > 0 else max(abs(high) * 0.1, minimum)
    return low - pad, high + pad


def step_domain(steps: pd.Series) -> tuple[float, float]:
    """The step axis: from the step before the first to the one after the last (whole steps, never below
    0)."""
    first, last = float(steps.min()), float(steps.max())
    return max(0.0, math.floor(first) - 1), math.ceil(last) + 1


def curve_chart(curves: pd.DataFrame, height: int = 220) -> alt.Chart:
    """Lines with points of `value` against `step`, one colour per `metric`; `curves` is runs.curves()."""
    x_lo, x_hi = step_domain(curves["step"])
    y_lo, y_hi = padded(float(curves["value"].min()), float(curves["value"].max()))
    span = x_hi - x_lo
    return (
        alt.Chart(curves)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "step:Q",
                title="step",
                scale=alt.Scale(domain=[x_lo, x_hi], nice=False),
                axis=alt.Axis(format="d", tickMinStep=1, tickCount=int(min(span, 10))),
            ),
            y=alt.Y(
                "value:Q",
                title="loss",
                scale=alt.Scale(domain=[y_lo, y_hi], nice=False, zero=False),
                axis=alt.Axis(format=".3~f", tickCount=5),
            ),
            color=alt.Color("metric:N", title=None),
            tooltip=["metric", "step", alt.Tooltip("value:Q", format=".4f")],
        )
        .properties(height=height)
    )
