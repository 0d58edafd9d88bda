"""ft_core.metrics.bleu: hand-checked values, sacreBLEU's figures, and Hugging Face evaluate's
tokenization."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from ft_core import metrics


def test_bleu_hand_checked():
    # "the cat sat on the mat today" vs "the cat sat on the mat": precisions 6/7, 5/6, 4/5, 3/4, no brevity
    # penalty (output longer) -> BLEU = (6/7 * 5/6 * 4/5 * 3/4) ** (1/4) = (3/7) ** 0.25 (Papineni et al.,
    # 2002)
    expected = (3 / 7) ** 0.25
    df = metrics.score(["the cat sat on the mat today"], [["the cat sat on the mat"]], ["bleu"])
    assert df.loc[0, "bleu"] == pytest.approx(expected)
    figures = metrics.corpus(["the cat sat on the mat today"], [["the cat sat on the mat"]], ["bleu"])
    assert figures.loc["bleu", "value"] == pytest.approx(expected)
    assert figures.loc["sacrebleu", "value"] == pytest.approx(100 * expected)
    # Shorter output: brevity penalty exp(1 - 6/5) on top of precisions 5/5, 4/4, 3/3, 2/2.
    short = metrics.corpus(["the cat sat on the"], [["the cat sat on the mat"]], ["bleu"])
    assert short.loc["bleu", "value"] == pytest.approx(math.exp(1 - 6 / 5))


def test_bleu_reference_length_rule_differs_with_several_references():
    # HF evaluate (tensorflow/nmt) uses the shortest reference (2 tokens: no brevity penalty); sacreBLEU the
    # closest one (8 tokens: penalty exp(1 - 8/6)). Everything else is equal: precisions are all 1.
    prediction = ["the cat sat on the mat"]
    refs = [["the cat sat on the mat today indeed", "a cat"]]
    figures = metrics.corpus(prediction, refs, ["bleu"])
    assert figures.loc["bleu", "value"] == pytest.approx(1.0)
    assert figures.loc["sacrebleu", "value"] == pytest.approx(100 * math.exp(1 - 8 / 6))


def test_bleu_matches_sacrebleu(scitldr_pairs):
    import sacrebleu

    predictions, references = scitldr_pairs()
    single = [[r[0]] for r in references]
    figures = metrics.corpus(predictions, single, ["bleu"])
    default = sacrebleu.corpus_bleu(predictions, [[r[0] for r in single]], tokenize="13a")
    unsmoothed = sacrebleu.corpus_bleu(
        predictions, [[r[0] for r in single]], tokenize="13a", smooth_method="none"
    )
    assert figures.loc["sacrebleu", "value"] == pytest.approx(default.score, abs=1e-9)
    assert figures.loc["bleu", "value"] == pytest.approx(unsmoothed.score / 100, abs=1e-12)
    assert figures.loc["sacrebleu", "signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp")
    # Several references (equal counts per item, as sacreBLEU's streams need): same sacreBLEU score.
    two = [r[:2] for r in references if len(r) >= 2]
    preds2 = [p for p, r in zip(predictions, references) if len(r) >= 2]
    streams = [[r[0] for r in two], [r[1] for r in two]]
    assert metrics.corpus(preds2, two, ["bleu"]).loc["sacrebleu", "value"] == pytest.approx(
        sacrebleu.corpus_bleu(preds2, streams).score, abs=1e-9
    )
    # Per example: sacreBLEU's sentence BLEU (effective order, exp smoothing).
    df = metrics.score(predictions[:5], single[:5], ["bleu"])
    bleu = sacrebleu.metrics.BLEU(effective_order=True)
    for i in range(5):
        assert df.loc[i, "sacrebleu"] == pytest.approx(bleu.sentence_score(predictions[i], single[i]).score)


# A copy of the rule Hugging Face evaluate's "bleu" tokenizes with: huggingface/evaluate,
# metrics/bleu/tokenizer_13a.py (`Tokenizer13a.__call__` and `TokenizerRegexp.__call__`, themselves copied
# from sacreBLEU's tokenizer_13a.py, Apache 2.0). evaluate's `Bleu._compute` calls it on each text as given.
_EVALUATE_13A_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def evaluate_tokenizer_13a(line: str) -> list[str]:
    line = line.replace("<skipped>", "")
    line = line.replace("-\n", "")
    line = line.replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"')
        line = line.replace("&amp;", "&")
        line = line.replace("&lt;", "<")
        line = line.replace("&gt;", ">")
    line = f" {line} "
    for regexp, replacement in _EVALUATE_13A_RULES:
        line = regexp.sub(replacement, line)
    return line.split()


def evaluate_corpus_bleu(predictions: list[str], references: list[list[str]]) -> float:
    """tensorflow/nmt `compute_bleu` (what evaluate's bleu.py calls, smooth=False, max_order=4) on the tokens
    of the copy above: clipped n-gram matches, brevity penalty against the shortest reference."""
    matches, possible = [0] * 4, [0] * 4
    hyp_len = ref_len = 0
    for prediction, refs in zip(predictions, references):
        tokens = evaluate_tokenizer_13a(prediction)
        ref_tokens = [evaluate_tokenizer_13a(r) for r in refs]
        hyp_len += len(tokens)
        ref_len += min(len(r) for r in ref_tokens)
        for n in range(1, 5):
            grams = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
            best: Counter = Counter()
            for r in ref_tokens:
                best |= Counter(tuple(r[i : i + n]) for i in range(len(r) - n + 1))
            matches[n - 1] += sum((grams & best).values())
            possible[n - 1] += max(0, len(tokens) - n + 1)
    precisions = [m / p if p else 0.0 for m, p in zip(matches, possible)]
    if min(precisions) == 0:
        return 0.0
    ratio = hyp_len / ref_len
    penalty = 1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio)
    return math.exp(sum(math.log(p) for p in precisions) / 4) * penalty


SEGMENTS_THAT_END_IN_A_HYPHEN = [
    ("a b c d-\n", ["a b c d"]),  # evaluate joins "d-\n" to "d": 1.0; sacreBLEU strips first and keeps "d-"
    ("the model was fine-\ntuned on data -\n", ["the model was finetuned on data", "a model"]),
    ("Results improve by 3-\n4 points.\n", ["Results improve by 34 points."]),
    ("plain text with no break at all", ["plain text with no break at all here"]),
]


def test_bleu_tokenizes_as_evaluates_bleu_even_after_a_hyphen_and_newline():
    from ft_core.metrics.tokenize import evaluate_bleu_segment, sacrebleu_segment

    for prediction, refs in SEGMENTS_THAT_END_IN_A_HYPHEN:
        for text in (prediction, *refs):
            assert evaluate_bleu_segment(text).split() == evaluate_tokenizer_13a(text)
    assert sacrebleu_segment("a b c d-\n").split() == ["a", "b", "c", "d-"]  # sacreBLEU's own rule, kept
    figures = metrics.corpus(["a b c d-\n"], [["a b c d"]], metrics=["bleu"])
    assert figures.loc["bleu", "value"] == pytest.approx(1.0)
    assert metrics.score(["a b c d-\n"], [["a b c d"]], ["bleu"]).loc[0, "bleu"] == pytest.approx(1.0)
    predictions = [p for p, _ in SEGMENTS_THAT_END_IN_A_HYPHEN]
    references = [r for _, r in SEGMENTS_THAT_END_IN_A_HYPHEN]
    figures = metrics.corpus(predictions, references, ["bleu"])
    assert figures.loc["bleu", "value"] == pytest.approx(evaluate_corpus_bleu(predictions, references))
    for i, (prediction, refs) in enumerate(SEGMENTS_THAT_END_IN_A_HYPHEN):
        assert metrics.score([prediction], [refs], ["bleu"]).loc[0, "bleu"] == pytest.approx(
            evaluate_corpus_bleu([prediction], [refs])
        ), i
