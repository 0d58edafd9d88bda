"""How each metric cuts text into tokens: the one place where tokenization is chosen.

- BLEU: the 13a tokenizer (mteval-v13a, as WMT uses it). `sacrebleu` scores follow sacreBLEU, which strips
  trailing whitespace from a segment before tokenizing; `bleu` follows Hugging Face `evaluate`'s "bleu" module,
  which tokenizes the segment as given. The two differ only where a segment ends in `-` plus a newline: 13a
  joins a word broken by `-\\n`, so `"a b c d-\\n"` is `a b c d` for `evaluate` but `a b c d-` for sacreBLEU.
- ROUGE: `rouge_score`'s default tokenizer (lowercase, non-alphanumerics to spaces), optionally with the Porter
  stemmer, memoized (the same tokens, computed once per text).
- rougeLsum: one sentence per line, split on sentence-final punctuation.

The metric modules ask this module for tokens and never tokenize themselves, so a per-language choice of
tokenizer and stemmer (a `language=` option) changes this module only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


@functools.lru_cache(maxsize=1)
def _tokenizer_13a() -> Callable[[str], str]:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    return Tokenizer13a()


def sacrebleu_segment(text: str, lowercase: bool = False) -> str:
    """13a tokens of a segment as sacreBLEU's BLEU extracts them (`BLEU._preprocess_segment`): lowercased when
    asked, trailing whitespace stripped, then tokenized; space-separated."""
    return _tokenizer_13a()((text.lower() if lowercase else text).rstrip())


def evaluate_bleu_segment(text: str, lowercase: bool = False) -> str:
    """13a tokens of a segment as Hugging Face `evaluate`'s "bleu" module extracts them
    (`metrics/bleu/tokenizer_13a.py`, called on the text as given: no stripping first); space-separated."""
    return _tokenizer_13a()(text.lower() if lowercase else text)


def split_sentences(text: str) -> str:
    """One sentence per line, as rouge_score's rougeLsum expects; text that has newlines already is kept."""
    if "\n" in text:
        return text
    return "\n".join(s for s in _SENTENCE_END.split(text.strip()) if s)


class RougeTokenizer:
    """rouge_score's default tokenizer with the Porter stems memoized: the same tokens, several times faster."""

    def __init__(self, use_stemmer: bool):
        from nltk.stem import porter

        self._stemmer = None
        if use_stemmer:
            stemmer = porter.PorterStemmer()
            self._stemmer = type(
                "Stemmer", (), {"stem": staticmethod(functools.lru_cache(2**18)(stemmer.stem))}
            )
        self.tokenize = functools.lru_cache(2**16)(self._tokenize)

    def _tokenize(self, text: str) -> list[str]:
        from rouge_score import tokenize

        return tokenize.tokenize(text, self._stemmer)
