"""User strings (campaign, system, run, criterion and user names, instructions, comments, error messages that
quote them) shown as plain text where Streamlit reads Markdown.

Streamlit renders Markdown, KaTeX (`$...$`), emoji and icon shortcodes (`:material/home:`), colour directives
and links in `st.markdown`/`st.caption`/`st.error`/`st.success`, and in the labels of metrics, expanders,
tabs, radios and progress bars. A campaign named `![x](http://example.com/pixel.png)` made the browser fetch
that URL. Where a user string cannot go to `st.text` or a table cell, it goes through `escape_markdown` first.
"""

from __future__ import annotations

import re
from typing import Any

# CommonMark lets a backslash escape any ASCII punctuation; these are the characters that start something in
# Streamlit's Markdown: emphasis, code, links and images, headings, lists, quotes, tables, raw HTML
# (<script>), entities (&lt;), KaTeX ($), directives (:red[...]) and shortcodes (:smile:). GitHub-style
# autolinks (http://..., www.x, a@b.c) are found in the text after escapes are read, so a word joiner (U+2060,
# invisible) breaks them up.
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")
_AUTOLINK = re.compile(r"(?i)(://|www\.|@)")
_WORD_JOINER = "\u2060"


def escape_markdown(value: Any) -> str:
    """`value` as Markdown that Streamlit shows verbatim, on one line (no images, links, math, HTML or
    icons)."""
    text = " ".join(str(value).splitlines())
    text = _AUTOLINK.sub(lambda m: m.group(1)[:-1] + _WORD_JOINER + m.group(1)[-1], text)
    return _PUNCTUATION.sub(r"\\\1", text)


def escape_markdown_keep_bold(value: Any) -> str:
    """Like `escape_markdown`, but `**` stays bold: for our own sentences that quote names
    (export.interpret)."""
    return "**".join(escape_markdown(part) for part in str(value).split("**"))
