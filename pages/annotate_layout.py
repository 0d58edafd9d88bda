"""The annotate page on a phone: CSS for narrow and touch screens, and the scroll back to the top of each new
pair.

Used only by pages/annotate.py. Streamlit keeps the scroll position across reruns, so after Submit a phone
stayed at the bottom of the page, below the next pair's texts; `scroll_to_top(form_key)` sends a script that
runs once per pair (its body changes with the pair, an unchanged body is not run again) and scrolls
Streamlit's frame to the top. The CSS works on the containers' keys (`st-key-<key>` classes), so it needs no
knowledge of Streamlit's markup beyond `stMain`, `stMainBlockContainer` and `kbd` (the shortcut hint inside a
button).
"""

import html

import streamlit as st

NARROW = "@media (max-width: 640px)"  # where Streamlit stacks columns
TOUCH = "@media (hover: none) and (pointer: coarse)"  # a finger, no mouse: keyboard hints mean nothing

CHOICE_BOX = (
    "[data-testid='stLayoutWrapper']:has(> [data-testid='stVerticalBlock'] > [data-testid='stLayoutWrapper']"
    " > .st-key-choice_bar)"
)

CSS = f"""
<style>
{TOUCH} {{
  [data-testid='stMain'] button kbd {{ display: none; }}
}}
{NARROW} {{
  [data-testid='stMainBlockContainer'] {{ padding-top: 3.5rem; padding-bottom: 1rem; }}
  [data-testid='stMain'] h1 {{ font-size: 1.5rem; padding: 0; }}
  [data-testid='stMain'] h3 {{ font-size: 1.1rem; padding: 0.25rem 0 0; }}
  /* texts fold: the first lines show, the rest scrolls in the box until "Show the whole texts" is on */
  .st-key-instructions_text {{ max-height: 25vh; overflow-y: auto; }}
  [class*='st-key-fold-'],
  [data-testid='stLayoutWrapper']:has(> [class*='st-key-fold-']) {{ max-height: 30vh; overflow-y: auto; }}
  [class*='st-key-fold-source'],
  [data-testid='stLayoutWrapper']:has(> [class*='st-key-fold-source']) {{ max-height: 20vh; }}
  /* the choice and Submit stay in reach: they stick to the bottom of the screen until their own place (the
     choice bar is a fragment of its own: the box that sticks is the fragment's, around the bar) */
  {CHOICE_BOX},
  [data-testid='stLayoutWrapper']:has(> .st-key-submit_bar) {{
    position: sticky; z-index: 10; background: var(--st-background-color, #fff);
  }}
  [data-testid='stLayoutWrapper']:has(> .st-key-submit_bar) {{ bottom: 0; padding: 0.25rem 0; }}
  {CHOICE_BOX} {{
    bottom: 3rem; padding-top: 0.25rem; box-shadow: 0 -0.5rem 0.5rem -0.5rem rgba(0, 0, 0, 0.2);
  }}
  .st-key-submit_bar {{ flex-wrap: nowrap; overflow-x: auto; }}
  /* the four choices in one row (two when the labels are long), not four full-width rows */
  .st-key-choice_bar {{ flex-wrap: wrap; gap: 0.375rem; }}
  .st-key-choice_bar > [data-testid='stElementContainer'] {{ min-width: 0; width: auto; flex: 1 1 auto; }}
  .st-key-choice_bar button {{ min-height: 2.25rem; padding: 0.25rem 0.5rem; }}
  .st-key-choice_bar button p {{ font-size: 0.875rem; white-space: nowrap; }}
  .st-key-choice_bar [data-testid='stCaptionContainer'] {{ display: none; }}
}}
{NARROW.replace("max-width: 640px", "min-width: 641px")} {{
  .st-key-show_all_short {{ display: none; }}  /* short texts need no unfolding on a wide screen */
}}
[data-testid='stElementContainer']:has(script[data-pair]) {{ display: none; }}
</style>
"""


def phone_css() -> None:
    """The annotate page's CSS (a style-only element: it takes no room on the page)."""
    st.html(CSS)


def scroll_to_top(form_key: str) -> None:
    """Scroll to the top once when a new pair (or an edit) is shown; reruns of the same pair leave the view
    alone."""
    script = (
        f"<script data-pair='{html.escape(form_key, quote=True)}'>"
        "for (const e of [document.scrollingElement, document.querySelector(\"[data-testid='stMain']\"),"
        " document.querySelector(\"[data-testid='stAppViewContainer']\")]) if (e) e.scrollTop = 0;"
        "window.scrollTo(0, 0);</script>"
    )
    st.html(script, unsafe_allow_javascript=True, width="content")
