"""escape_markdown: what Streamlit's Markdown would act on is escaped, and nothing else about the text
changes. (The browser tests in tests/e2e/test_user_strings_browser.py show the result in a real page.)"""

from __future__ import annotations

import re

from pages.plain_text import escape_markdown, escape_markdown_keep_bold

HOSTILE = (
    "![x](http://127.0.0.1:9/p.png) [link](https://example.org) <script>alert(1)</script> $x^2$ :red[red] "
    ":material/home: **b** _i_ `code` # h > q | t | ~~s~~ &lt; 1. www.example.org ann@example.org \\ {x}"
)


def _shown(markdown: str) -> str:
    """The text a CommonMark renderer shows for escaped input: each backslash escape gives its character."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def test_the_text_comes_back_verbatim_on_one_line():
    assert _shown(escape_markdown(HOSTILE)) == HOSTILE
    assert _shown(escape_markdown("two\nlines\r\nhere")) == "two lines here"
    assert escape_markdown("plain words 42") == "plain words 42"


def test_every_markdown_character_is_escaped_and_autolinks_are_broken():
    escaped = escape_markdown(HOSTILE)
    unescaped = re.sub(r"\\.", "", escaped)
    assert not set(unescaped) & set("\\`*_{}[]()#+-.!|<>~$:&")
    flat = escaped.replace("\\", "")  # what GitHub-style autolinking looks at
    assert "://" not in flat and "www." not in flat and "n@" not in flat


def test_keep_bold_keeps_only_our_bold():
    assert escape_markdown_keep_bold("Humans preferred **$x$_y**") == "Humans preferred **\\$x\\$\\_y**"
