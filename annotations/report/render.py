"""The report's blocks written out as Markdown (report.md, beside loss_curve.svg) or as one HTML page."""

from __future__ import annotations

import html

import pandas as pd


def _md_table(df: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = [
        "| " + " | ".join(str(v).replace("|", "/") for v in row) + " |" for row in df.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def render_markdown(blocks, svg_name: str = "loss_curve.svg") -> str:
    out = []
    for kind, content in blocks:
        if kind == "h1":
            out.append(f"# {content}")
        elif kind == "h2":
            out.append(f"## {content}")
        elif kind == "p":
            out.append(str(content))
        elif kind == "list":
            out.append("\n".join(f"- {line}" for line in content))
        elif kind == "table":
            out.append(_md_table(content))
        elif kind == "svg":
            out.append(f"![training loss]({svg_name})")
    return "\n\n".join(out) + "\n"


def render_html(blocks) -> str:
    def inline(text: str) -> str:
        escaped = html.escape(str(text))
        parts = escaped.split("**")
        escaped = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
        parts = escaped.split("`")
        return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))

    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Report</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px}"
        "</style></head><body>"
    ]
    for kind, content in blocks:
        if kind == "h1":
            out.append(f"<h1>{inline(content)}</h1>")
        elif kind == "h2":
            out.append(f"<h2>{inline(content)}</h2>")
        elif kind == "p":
            out.append(f"<p>{inline(content)}</p>")
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{inline(line)}</li>" for line in content) + "</ul>")
        elif kind == "table":
            out.append(content.to_html(index=False, border=0, na_rep=""))
        elif kind == "svg":
            out.append(str(content))
    out.append("</body></html>")
    return "\n".join(out)
