"""The training-loss curve of a campaign's run as a small self-contained SVG, for the report."""

from __future__ import annotations

import pandas as pd


def loss_curve_svg(log: pd.DataFrame, width: int = 560, height: int = 240) -> str | None:
    """A small SVG line plot of training loss (and eval loss) by step; None without a log."""
    if log.empty or "step" not in log or "loss" not in log:
        return None
    series = [("loss", "#4c78a8"), ("eval_loss", "#f58518")]
    data = {name: log[["step", name]].dropna() for name, _ in series if name in log}
    data = {k: v for k, v in data.items() if not v.empty}
    if not data:
        return None
    steps = pd.concat([d["step"] for d in data.values()])
    values = pd.concat([d[name] for name, d in data.items()])
    x0, x1 = float(steps.min()), float(steps.max()) or 1.0
    y0, y1 = float(values.min()), float(values.max())
    if y1 == y0:
        y1 = y0 + 1
    pad = 40

    def xy(step, value):
        x = pad + (step - x0) / ((x1 - x0) or 1) * (width - 2 * pad)
        y = height - pad - (value - y0) / (y1 - y0) * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="11">'
    ]
    parts.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>')
    parts.append(
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>'
    )
    parts.append(f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#999"/>')
    parts.append(f'<text x="{pad}" y="{height - 10}">step {x0:.0f}</text>')
    parts.append(f'<text x="{width - pad}" y="{height - 10}" text-anchor="end">step {x1:.0f}</text>')
    parts.append(f'<text x="4" y="{pad}">{y1:.3g}</text><text x="4" y="{height - pad}">{y0:.3g}</text>')
    colours = dict(series)
    for i, (name, frame) in enumerate(data.items()):
        points = " ".join(xy(s, v) for s, v in zip(frame["step"], frame[name]))
        parts.append(f'<polyline fill="none" stroke="{colours[name]}" stroke-width="1.5" points="{points}"/>')
        parts.append(f'<text x="{width - pad - 90}" y="{pad + 14 * i}" fill="{colours[name]}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
