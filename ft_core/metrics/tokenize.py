"""How each metric cuts text into tokens, per language: the one place where tokenization is chosen.

The metric modules ask this module for tokens and never tokenize themselves. `language` is an ISO 639-1 code
(`ft_core.languages.check_language`); English keeps exactly the tokenizers the metrics had before languages
existed, so English scores are unchanged.

- BLEU: sacreBLEU's tokenizer for the language (`bleu_tokenizer_name`): `13a` (mteval-v13a, as WMT uses it)
  for English; `zh` for Chinese; `ja-mecab` (MeCab with IPAdic, the `sacrebleu[ja]` extra) for Japanese;
  `char` for Thai, Lao, Khmer and Burmese, which write no spaces between words (sacreBLEU's `flores200`
  SentencePiece model would segment them better, but sacreBLEU downloads it at run time, and nothing here may
  download); `intl` (Unicode punctuation and symbols split off, letters with diacritics kept) for every other
  language. For `13a`, `sacrebleu` scores follow sacreBLEU, which strips trailing whitespace from a segment
  before tokenizing; `bleu` follows Hugging Face `evaluate`'s "bleu" module, which tokenizes the segment as
  given. The two differ only where a segment ends in `-` plus a newline: 13a joins a word broken by `-\\n`, so
  `"a b c d-\\n"` is `a b c d` for `evaluate` but `a b c d-` for sacreBLEU.
- chrF and chrF++: sacreBLEU's own character and word n-grams of the text; for the languages BLEU segments
  (`zh`, `ja-mecab`, `char`) the text goes in segmented, so chrF++'s word n-grams are words, not whole
  sentences (chrF's character n-grams ignore spaces, so chrF itself is unchanged: tested).
- ROUGE, English: `rouge_score`'s default tokenizer (lowercase, non-`[a-z0-9]` to spaces), optionally with the
  Porter stemmer, memoized (the same tokens, computed once per text): Google's `rouge_score` exactly.
- ROUGE, every other language (`UnicodeTokenizer`): text in Unicode NFC, lowercased; a token is a run of
  letters with their combining marks (so `ação`, `eleição`, `नमस्ते`, `بالعالم` stay whole) or a run of
  digits, and everything else (punctuation, symbols, spaces) separates tokens. Scripts written without spaces
  are segmented: Chinese with `jieba` (its default dictionary, shipped in the package), Japanese with MeCab
  (IPAdic); otherwise each character of Han, Hiragana, Katakana, Thai, Lao, Khmer or Myanmar script (with its
  combining marks) is a token. Tokens longer than 3 characters are stemmed with NLTK's Snowball stemmer where
  it has the language (ar, da, de, es, fi, fr, hu, it, nl, no/nb/nn, pt, ro, ru, sv), as `rouge_score` does
  with Porter. This follows XL-Sum's multilingual ROUGE (Hasan et al., 2021; csebuetnlp/xl-sum,
  `multilingual_rouge_scoring`: punctuation by Unicode category, jieba for Chinese, per-character CJK,
  Snowball for tokens over 3 characters) and gives its numbers on the texts of
  tests/ft_core/metrics/test_languages.py; the differences: XL-Sum skips NLTK's stopwords when stemming (that
  needs a downloaded corpus), keeps non-ASCII symbols (`€`, `°`) as tokens, segments Japanese with UniDic (a
  500 MB download) and, after jieba, keeps the spaces it put where punctuation was as tokens of their own.
- rougeLsum: one sentence per line, split after sentence-final punctuation (English: the rule ROUGE always had
  here; other languages add `。！？؟।۔` and sentences that start with a letter of a caseless script).
- Faithfulness scores (`words`): the Unicode tokens above, for every language, case kept or not, never
  stemmed.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
import unicodedata
from collections.abc import Callable

import regex

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
# Other languages: after . ! ? … and a space, before an upper-case letter, a digit or a letter of a caseless
# script (Arabic, Devanagari, Han, ...: \p{Lo}); after full-width and Arabic/Devanagari stops, at once.
_SENTENCE_END_ANY = regex.compile(
    r"(?<=[.!?…])\s+(?=[\p{Pi}\p{Ps}\"'¿¡]?[\p{Lu}\p{Lt}\p{N}\p{Lo}])|(?<=[。！？؟।۔])\s*"
)
# Scripts written without spaces between words: one token per character (with its combining marks) when no
# segmenter is at hand for the language.
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_TOKEN_PER_CHARACTER = regex.compile(
    rf"(?V1)[{_UNSPACED}]\p{{M}}*|[[\p{{L}}\p{{M}}]--[{_UNSPACED}]]+|\p{{N}}+"
)
_TOKEN = regex.compile(r"[\p{L}\p{M}]+|\p{N}+")  # after a segmenter: its words stay whole
_HAS_UNSPACED = regex.compile(rf"[{_UNSPACED}]")

SNOWBALL = {
    "ar": "arabic", "da": "danish", "de": "german", "en": "english", "es": "spanish", "fi": "finnish",
    "fr": "french", "hu": "hungarian", "it": "italian", "nb": "norwegian", "nl": "dutch", "nn": "norwegian",
    "no": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sv": "swedish",
}  # fmt: skip
UNSPACED_LANGUAGES = ("zh", "ja", "th", "lo", "km", "my")
MIN_STEMMED_LENGTH = 4  # rouge_score and XL-Sum stem tokens longer than 3 characters only


# --------------------------------------------------------------------------------------------- segmenters
def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@functools.lru_cache(maxsize=1)
def _jieba() -> Callable[[str], list[str]]:
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at INFO on every first use
    return lambda text: jieba.lcut(text)


@functools.lru_cache(maxsize=1)
def _mecab() -> Callable[[str], list[str]]:
    from sacrebleu.tokenizers.tokenizer_ja_mecab import TokenizerJaMecab

    tokenizer = TokenizerJaMecab()
    return lambda text: tokenizer(text).split()


def segmenter_name(language: str) -> str:
    """How a script without spaces is cut for ROUGE and the faithfulness scores: 'jieba', 'mecab-ipadic',
    'char' (one token per character of an unspaced script) when no segmenter is installed or known."""
    if language == "zh" and _has("jieba"):
        return "jieba"
    if language == "ja" and _has("MeCab") and _has("ipadic"):
        return "mecab-ipadic"
    return "char"


def _segmenter(language: str) -> Callable[[str], list[str]] | None:
    name = segmenter_name(language)
    return {"jieba": _jieba, "mecab-ipadic": _mecab}.get(name, lambda: None)()


# --------------------------------------------------------------------------------------------- BLEU, chrF
def bleu_tokenizer_name(language: str) -> str:
    """sacreBLEU's tokenizer for the language (see the module docstring)."""
    if language == "en":
        return "13a"
    if language == "zh":
        return "zh"
    if language == "ja":
        return "ja-mecab" if _has("MeCab") and _has("ipadic") else "char"
    if language in ("th", "lo", "km", "my"):
        return "char"
    return "intl"


@functools.lru_cache(maxsize=8)
def _sacrebleu_tokenizer(name: str) -> Callable[[str], str]:
    from sacrebleu.metrics.bleu import _get_tokenizer

    return _get_tokenizer(name)()


def sacrebleu_segment(text: str, lowercase: bool = False, language: str = "en") -> str:
    """Tokens of a segment as sacreBLEU's BLEU extracts them (`BLEU._preprocess_segment`): lowercased when
    asked, trailing whitespace stripped, then tokenized with the language's tokenizer; space-separated."""
    tokenizer = _sacrebleu_tokenizer(bleu_tokenizer_name(language))
    return tokenizer((text.lower() if lowercase else text).rstrip())


def evaluate_bleu_segment(text: str, lowercase: bool = False, language: str = "en") -> str:
    """Tokens of a segment as Hugging Face `evaluate`'s "bleu" module extracts them: for English its 13a
    copy (`metrics/bleu/tokenizer_13a.py`, called on the text as given: no stripping first); for other
    languages the language's sacreBLEU tokenizer, as `evaluate.load("bleu").compute(..., tokenizer=...)`
    would use it."""
    if language != "en":
        return sacrebleu_segment(text, lowercase, language)
    return _sacrebleu_tokenizer("13a")(text.lower() if lowercase else text)


def chrf_segment(text: str, language: str = "en") -> str:
    """The text chrF/chrF++ read: as given, or segmented where the language writes no spaces (see above)."""
    if bleu_tokenizer_name(language) in ("zh", "ja-mecab", "char"):
        return _sacrebleu_tokenizer(bleu_tokenizer_name(language))(text.rstrip())
    return text


# --------------------------------------------------------------------------------------------- sentences
def split_sentences(text: str, language: str = "en") -> str:
    """One sentence per line, as rouge_score's rougeLsum expects; text that has newlines already is kept."""
    if "\n" in text:
        return text
    if language == "en":
        return "\n".join(s for s in _SENTENCE_END.split(text.strip()) if s)
    return "\n".join(s.strip() for s in _SENTENCE_END_ANY.split(text.strip()) if s.strip())


# --------------------------------------------------------------------------------------------- word tokens
def per_character_tokens(text: str) -> list[str]:
    """`_TOKEN_PER_CHARACTER.findall(text)`, faster: letter runs first, and only the runs that hold a
    character of an unspaced script (never an ASCII one) are cut again
    (tests/ft_core/metrics/test_multilingual.py pins the two together)."""
    tokens = _TOKEN.findall(text)
    if text.isascii():
        return tokens
    out: list[str] = []
    for token in tokens:
        if token.isascii() or not _HAS_UNSPACED.search(token):
            out.append(token)
        else:
            out.extend(_TOKEN_PER_CHARACTER.findall(token))
    return out


class UnicodeTokenizer:
    """Words of any language (see the module docstring), optionally stemmed; memoized per text."""

    def __init__(self, language: str, use_stemmer: bool = False, lowercase: bool = True):
        self.language = language
        self.lowercase = lowercase
        self._segment = _segmenter(language)
        self._stem: Callable[[str], str] | None = None
        if use_stemmer and language in SNOWBALL:
            from nltk.stem.snowball import SnowballStemmer

            self._stem = functools.lru_cache(2**18)(SnowballStemmer(SNOWBALL[language]).stem)
        self.tokenize = functools.lru_cache(2**16)(self._tokenize)

    def _tokenize(self, text: str) -> list[str]:
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        if self.lowercase:
            text = text.lower()
        if self._segment is None:
            tokens = per_character_tokens(text)
        else:
            tokens = [t for segment in self._segment(text) for t in _TOKEN.findall(segment)]
        if self._stem is not None:
            stem = self._stem
            tokens = [stem(t) if len(t) >= MIN_STEMMED_LENGTH else t for t in tokens]
        return tokens


class RougeTokenizer:
    """rouge_score's default tokenizer with the Porter stems memoized: the same tokens, several times
    faster."""

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


def rouge_tokenizer(language: str, use_stemmer: bool) -> RougeTokenizer | UnicodeTokenizer:
    """ROUGE's tokenizer for the language: rouge_score's own for English, `UnicodeTokenizer` otherwise."""
    if language == "en":
        return RougeTokenizer(use_stemmer)
    return UnicodeTokenizer(language, use_stemmer)


def rouge_tokens_name(language: str, use_stemmer: bool) -> str:
    """How ROUGE tokenized and stemmed, for the signature: `tok:rouge_score|stemmer:yes` for English (as
    before languages existed), `tok:unicode+jieba|stemmer:no`, `tok:unicode|stemmer:snowball-portuguese`,
    ..."""
    if language == "en":
        return f"tok:rouge_score|stemmer:{'yes' if use_stemmer else 'no'}"
    segmenter = f"+{segmenter_name(language)}" if language in UNSPACED_LANGUAGES else ""
    if not use_stemmer:
        stemmer = "no"
    else:
        stemmer = f"snowball-{SNOWBALL[language]}" if language in SNOWBALL else "none-for-language"
    return f"tok:unicode{segmenter}|stemmer:{stemmer}"


@functools.lru_cache(maxsize=16)
def word_tokenizer(language: str, lowercase: bool = True) -> UnicodeTokenizer:
    """Unstemmed Unicode words of the language (the faithfulness scores' tokens), one per process."""
    return UnicodeTokenizer(language, use_stemmer=False, lowercase=lowercase)


def words(text: str, language: str = "en", lowercase: bool = True) -> list[str]:
    """The Unicode words of a text (see `UnicodeTokenizer`), unstemmed."""
    return word_tokenizer(language, lowercase).tokenize(text)
