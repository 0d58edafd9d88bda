"""The report's blocks written out as Markdown (report.md, beside loss_curve.svg) or as one HTML page.

Both treat the blocks' text alike: `**` marks bold and a backtick code, and everything else is text, whoever
wrote it. Campaign names, system names, model outputs, sources, comments, usernames and criteria names reach
the blocks as they were typed, so the HTML escapes them (`html.escape`) and the Markdown escapes them
(`markdown_inline`, `markdown_text`, also used by the slide deck): `![x](http://evil/x.png)` or `<img
src=...>` in a campaign name is shown as those characters, never as an image, a link or HTML.
"""

from __future__ import annotations

import html
import numbers
import re

import pandas as pd

# Escaped with a backslash (CommonMark and Python-Markdown both read these): emphasis, strikethrough, links
# and images (`[`), tables, headings (a closing `#` run), math (Marp), code, and the backslash itself.
_BACKSLASHED = str.maketrans({c: "\\" + c for c in "\\`*[]|~#$"})
# Written as character references: raw HTML, autolinks (`<http://...>`), entities.
_REFERENCES = str.maketrans({"<": "&lt;", ">": "&gt;", "&": "&amp;"})
_LINE_START = re.compile(r"^([-+=>]|\d{1,9}[.)])")  # a list, quote or setext mark when it opens a line
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # `_` not between two letters or digits: emphasis
# `http://` and `www.`, which GitHub and linkify turn into links: broken up with a character reference.
_BARE_LINK = re.compile(r"(?<=[A-Za-z]):(?=//)|(?<=\bwww)\.", re.IGNORECASE)
_NEWLINE = re.compile(r"\r\n|\r|\n")


def _escape(text: str) -> str:
    text = text.translate(_REFERENCES).translate(_BACKSLASHED)
    text = _LOOSE_UNDERSCORE.sub(r"\\_", text)
    return _BARE_LINK.sub(lambda m: "&#58;" if m.group() == ":" else "&#46;", text)


def _one_line(text) -> str:
    """Newlines would start new blocks (a heading, `---`, a list): a user string stays on its line."""
    return _NEWLINE.sub(" ", str(text)).strip()


def _guard_line_start(text: str) -> str:
    return _LINE_START.sub(lambda m: m.group()[:-1] + "\\" + m.group()[-1], text, count=1)


def markdown_text(text, line_start: bool = True) -> str:
    """`text` as Markdown that renders as exactly these characters: no emphasis, link, image, HTML, code or
    table cell comes from it. `line_start=False` for a table cell, where no list or heading can begin."""
    escaped = _escape(_one_line(text))
    return _guard_line_start(escaped) if line_start else escaped


def markdown_inline(text) -> str:
    """Like `markdown_text`, but `**` marks bold and a backtick code, as the HTML renderer reads them; a
    code span holds its text as is (Markdown shows a code span's characters literally), an unclosed one is
    closed."""
    out, code, bold = [], False, False
    for token in re.split(r"(`|\*\*)", _one_line(text)):
        if token == "`":
            code = not code
            out.append("`")
        elif code:
            out.append(token)
        elif token == "**":
            bold = not bold
            out.append("**")
        else:
            out.append(_escape(token))
    if code:
        out.append("`")
    elif bold:
        out.append("**")
    joined = re.sub(r"``", "", "".join(out))  # an empty code span: nothing
    return _guard_line_start(joined)


def _md_cell(value) -> str:
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return str(value)
    return markdown_text("" if value is None else value, line_start=False)


def _md_table(df: pd.DataFrame) -> str:
    header = "| " + " | ".join(_md_cell(c) for c in df.columns) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def render_markdown(blocks, svg_name: str = "loss_curve.svg") -> str:
    out = []
    for kind, content in blocks:
        if kind == "h1":
            out.append(f"# {markdown_inline(content)}")
        elif kind == "h2":
            out.append(f"## {markdown_inline(content)}")
        elif kind == "p":
            out.append(markdown_inline(content))
        elif kind == "list":
            out.append("\n".join(f"- {markdown_inline(line)}" for line in content))
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
        "<!doctype html><html><head><meta "
        "charset='utf-8'><title>Report</title><style>body{font-family:sans-serif;max-width:1100px;margin:2em "
        "auto;line-height:1.4}table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px "
        "solid #ccc;padding:3px 6px}</style></head><body>"
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
