"""Lexical faithfulness: what an output says that its source does not (reference-free, per example).

- `novel_1gram` ... `novel_4gram`: the share of the output's n-grams (occurrences) that never occur in the
  source (See et al., 2017, "Get To The Point", section 7.2; Narayan et al., 2018): 0 for an output copied
  from its source, 1 for one that shares no n-gram with it. Lower = closer to the source (more extractive; an
  abstractive summary is not unfaithful for being novel, but hallucinated content is always novel). NaN when
  the output has fewer than n words.
- `unsupported_numbers`: how many distinct numbers of the output never appear in the source. A number is a run
  of digits (any script's) with internal `.` or `,`, compared without its separators (`1,000` = `1.000` =
  `1000`; `3.5` is also `35`, a rare collision kept for the sake of languages that write `3,5`). Number words
  ("five") are not numbers here. Lower = better.
- `unsupported_entities`: how many distinct named-entity-like words of the output never appear in the source:
  a word that starts with a capital letter and does not start a sentence, or that has a capital letter after
  its first character (`NASA`, `iPhone`), compared case-insensitively with the source's words. A heuristic
  without a tagger (so it runs offline in any language with capital letters); NaN for scripts without case
  (Arabic, Chinese, Devanagari, ...), and blind to entities an output writes in lower case. Lower = better.

Words are `ft_core.metrics.tokenize.words` of the data's language (Unicode letters with their marks, digits;
Chinese and Japanese segmented), unstemmed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import regex

from ft_core.metrics.tokenize import split_sentences, words

NOVELTY_COLUMNS = tuple(f"novel_{n}gram" for n in range(1, 5))
UNSUPPORTED_COLUMNS = ("unsupported_numbers", "unsupported_entities")
# Languages whose scripts have no capital letters: no entity-like words to find by case.
CASELESS = frozenset(
    "am ar as bn bo dv dz fa gu he hi ja ka km kn ko ks lo ml mr my ne or pa ps sa sd si ta te th ti ug ur "
    "yi zh"
    .split()
)  # fmt: skip
_NUMBER = regex.compile(r"\p{Nd}+(?:[.,]\p{Nd}+)*")
_WORD = regex.compile(r"[\p{L}\p{M}]+")


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def novel_ngram_rates(
    outputs: Sequence[str], sources: Sequence[str | None], language: str = "en"
) -> dict[str, np.ndarray]:
    """Per example, the share of output n-grams (n = 1..4) absent from the source; NaN without a source or
    with fewer than n output words."""
    out = {column: np.full(len(outputs), np.nan) for column in NOVELTY_COLUMNS}
    for i, (output, source) in enumerate(zip(outputs, sources)):
        if not isinstance(source, str) or not source.strip():
            continue
        tokens, source_tokens = words(output, language), words(source, language)
        for n, column in enumerate(NOVELTY_COLUMNS, start=1):
            grams = _ngrams(tokens, n)
            if grams:
                seen = set(_ngrams(source_tokens, n))
                out[column][i] = sum(g not in seen for g in grams) / len(grams)
    return out


def numbers(text: str) -> set[str]:
    """The numbers of a text as digit strings without separators, digits of any script as ASCII."""
    found = set()
    for match in _NUMBER.findall(text):
        found.add("".join(str(int(c)) if c.isdecimal() else "" for c in match))
    return found


def entity_like_words(text: str, language: str = "en") -> set[str]:
    """Lower-cased words that look like names (see the module docstring)."""
    found = set()
    for sentence in split_sentences(text, language).split("\n"):
        for position, word in enumerate(_WORD.findall(sentence)):
            inner_capital = any(c.isupper() for c in word[1:])
            if inner_capital or (position > 0 and word[0].isupper()):
                found.add(word.lower())
    return found


def unsupported_counts(
    outputs: Sequence[str], sources: Sequence[str | None], language: str = "en"
) -> dict[str, np.ndarray]:
    """Per example, distinct numbers and entity-like words of the output absent from the source; NaN without a
    source (entities: also NaN for caseless scripts)."""
    out = {column: np.full(len(outputs), np.nan) for column in UNSUPPORTED_COLUMNS}
    for i, (output, source) in enumerate(zip(outputs, sources)):
        if not isinstance(source, str) or not source.strip():
            continue
        out["unsupported_numbers"][i] = len(numbers(output) - numbers(source))
        if language not in CASELESS:
            source_words = set(words(source, language))
            out["unsupported_entities"][i] = len(
                {
                    w
                    for w in entity_like_words(output, language)
                    if not set(words(w, language)) <= source_words
                }
            )
    return out


def faithfulness_signature(kind: str, language: str) -> str:
    if kind == "novelty":
        return f"novel-ngrams|n:1-4|share-of-output-ngrams|tok:unicode|stemmer:no|lang:{language}"
    return (
        f"unsupported|numbers:digits-without-separators|entities:capitalised-words|distinct|lang:{language}"
    )
