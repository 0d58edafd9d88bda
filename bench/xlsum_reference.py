"""The reference values of tests/ft_core/metrics/test_multilingual.py (XLSUM), recomputed with XL-Sum's own
code.

XL-Sum's multilingual ROUGE (Hasan et al., 2021; github csebuetnlp/xl-sum, folder multilingual_rouge_scoring,
commit afcd803) installs as a fork of `rouge_score` under the same name, so it runs in an environment of its
own:

    python -m venv /tmp/xlsum-venv
    /tmp/xlsum-venv/bin/pip install ./xl-sum/multilingual_rouge_scoring jieba pyonmttok nltk
    /tmp/xlsum-venv/bin/python bench/xlsum_reference.py       # prints each example and whether it matches

It reads the examples and our pinned F-measures from the test file (no import of ours), scores each with
`RougeScorer(["rouge1", "rouge2", "rougeL"], lang=<name>, use_stemmer=...).score(reference, prediction)` and
compares. With the stemmer, NLTK's Snowball is passed as `callable_stemmer` (XL-Sum's default Snowball skips
NLTK's stopwords, a corpus that must be downloaded); XL-Sum stems tokens over 3 characters, as we do.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests" / "ft_core" / "metrics" / "test_multilingual.py"
NAMES = {"pt": "portuguese", "es": "spanish", "de": "german", "zh": "chinese", "ar": "arabic", "fr": "french"}


def pinned() -> list[tuple]:
    """The XLSUM list of the test file, read as a literal."""
    for node in ast.parse(TESTS.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "XLSUM":
            return ast.literal_eval(node.value)
    raise SystemExit(f"no XLSUM list in {TESTS}")


def main() -> None:
    from nltk.stem.snowball import SnowballStemmer
    from rouge_score import rouge_scorer  # XL-Sum's fork (it takes `lang`)

    mismatches = 0
    for language, prediction, reference, *expected in pinned():
        for stem, want in zip((False, True), expected):
            kwargs = {"lang": NAMES[language], "use_stemmer": stem}
            if stem and language != "zh":  # no Snowball for Chinese
                kwargs["callable_stemmer"] = SnowballStemmer(NAMES[language]).stem
            scores = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], **kwargs).score(
                reference, prediction
            )
            got = [scores[key].fmeasure for key in ("rouge1", "rouge2", "rougeL")]
            same = all(abs(g - w) < 1e-12 for g, w in zip(got, want))
            mismatches += not same
            print(
                f"{language} stem={stem!s:<5} {prediction[:30]!r:<34} xl-sum {got} {'==' if same else '!='} "
                "ours"
            )
    print("all equal" if not mismatches else f"{mismatches} differ")
    raise SystemExit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
