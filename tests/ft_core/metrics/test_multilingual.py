"""Metrics in the language of the data: ROUGE's tokens and stems by hand, XL-Sum's multilingual ROUGE,
sacreBLEU's tokenizer per language, English unchanged, and the language recorded in every signature."""

from __future__ import annotations

import numpy as np
import pytest

from ft_core import metrics
from ft_core.errors import ConfigError
from ft_core.metrics.tokenize import rouge_tokenizer, split_sentences


def rouge(prediction: str, reference: str, language: str, stem: bool = True) -> list[float]:
    frame = metrics.score([prediction], [[reference]], ["rouge"], language=language, use_stemmer=stem)
    return [frame.loc[0, key] for key in ("rouge1", "rouge2", "rougeL")]


def f1(matches: int, predicted: int, referenced: int) -> float:
    p, r = matches / predicted, matches / referenced
    return 0.0 if not matches else 2 * p * r / (p + r)


def test_portuguese_keeps_accented_words_whole():
    prediction, reference = "A ação não foi concluída", "A eleição não terminou"
    # rouge_score (language="en") keeps [a-z0-9] only: "a a o n o foi conclu da" vs "a elei o n o terminou":
    # 8 and 6 tokens; a (1), o (2), n (1) match = 4 spurious-looking matches -> F1 = 2*(4/8)*(4/6)/(4/8+4/6)
    english = rouge(prediction, reference, "en")
    assert english[0] == pytest.approx(f1(4, 8, 6)) == pytest.approx(0.5714, abs=1e-4)  # the 0.571
    # Portuguese: a, ação, não, foi, concluída | a, eleição, não, terminou; Snowball stems açã, concluíd,
    # eleiçã, termin (and keeps a, não, foi: 3 characters or fewer). Matches: a, não -> F1 =
    # 2*(2/5)*(2/4)/(2/5+2/4)
    assert rouge_tokenizer("pt", True).tokenize(prediction) == ["a", "açã", "não", "foi", "concluíd"]
    assert rouge_tokenizer("pt", True).tokenize(reference) == ["a", "eleiçã", "não", "termin"]
    r1, r2, rl = rouge(prediction, reference, "pt")
    assert r1 == pytest.approx(f1(2, 5, 4)) == pytest.approx(4 / 9)
    assert (
        r2 == 0.0
    )  # bigrams (a açã) (açã não) (não foi) (foi concluíd) vs (a eleiçã) (eleiçã não) (não termin)
    assert rl == pytest.approx(4 / 9)  # LCS "a não"


def test_portuguese_stems_join_inflections():
    prediction = "O modelo não é capaz de gerar uma atenção adequada às informações."
    reference = "O modelo gera informações adequadas, com atenção."
    # stems: o model não é capaz de ger uma atençã adequ às inform (12) | o model ger inform adequ com atençã
    # (7) matches: o, model, ger, inform, adequ, atençã = 6 -> F1 = 2*(6/12)*(6/7)/(6/12+6/7) = 12/19
    r1, r2, rl = rouge(prediction, reference, "pt")
    assert r1 == pytest.approx(f1(6, 12, 7)) == pytest.approx(12 / 19)
    assert r2 == pytest.approx(f1(1, 11, 6))  # only "o model" is a shared bigram
    # LCS: o model ger ... inform? the reference order o model ger inform adequ com atençã; prediction order
    # o model ... ger ... atençã adequ ... inform: longest common subsequence o model ger atençã = 4
    assert rl == pytest.approx(f1(4, 12, 7))
    # unstemmed, only o, modelo, atenção, informações match exactly
    assert rouge(prediction, reference, "pt", stem=False)[0] == pytest.approx(f1(4, 12, 7))


def test_spanish_and_german_stems():
    # Spanish: los niñ jug en el parqu con sus amig | el niñ jueg en los parqu con un amig (9 and 9 tokens):
    # matches los, niñ, en, el, parqu, con, amig = 7 -> F1 = 7/9; bigrams: only "parqu con" -> 1/8
    r1, r2, _ = rouge(
        "Los niños jugaban en el parque con sus amigos.", "El niño juega en los parques con un amigo.", "es"
    )
    assert r1 == pytest.approx(7 / 9) and r2 == pytest.approx(1 / 8)
    # German: die haus wurd im somm gebaut | das haus wurd im somm 2020 gebaut ("Häuser" and "Haus" share the
    # stem haus, "wurden"/"wurde" wurd): matches haus wurd im somm gebaut = 5 of 6 and 7 -> 2*5/(6+7) = 10/13
    r1, r2, rl = rouge("Die Häuser wurden im Sommer gebaut.", "Das Haus wurde im Sommer 2020 gebaut.", "de")
    assert r1 == pytest.approx(10 / 13)
    assert r2 == pytest.approx(f1(3, 5, 6))  # haus wurd, wurd im, im somm
    assert rl == pytest.approx(10 / 13)
    # English tokenizer on the same German: "h user" fragments, no stems in common beyond im, sommer, gebaut
    assert rouge("Die Häuser wurden im Sommer gebaut.", "Das Haus wurde im Sommer 2020 gebaut.", "en")[0] < r1


def test_chinese_is_segmented_and_arabic_kept():
    assert rouge("这是一个测试", "这是一个测试", "en") == [0.0, 0.0, 0.0]  # rouge_score sees no token at all
    assert rouge("这是一个测试", "这是一个测试", "zh") == [1.0, 1.0, 1.0]
    # jieba: 我们 今天 很 高兴 | 我们 明天 很 高兴 -> 3 of 4 unigrams, bigrams (很 高兴) 1 of 3
    assert rouge_tokenizer("zh", True).tokenize("我们今天很高兴") == ["我们", "今天", "很", "高兴"]
    assert rouge("我们今天很高兴", "我们明天很高兴", "zh") == pytest.approx([0.75, 1 / 3, 0.75])
    # Arabic: ذهب الولد إلى المدرسة صباحا | ذهب الولد الى المدرسة; Snowball strips the article: ولد, مدرس;
    # "إلى" and "الى" (with and without hamza) stay different. Matches ذهب ولد مدرس = 3 of 5 and 4 -> 2/3
    tokens = rouge_tokenizer("ar", True).tokenize("ذهب الولد إلى المدرسة صباحا")
    assert tokens == ["ذهب", "ولد", "إلى", "مدرس", "صباح"]
    r1, r2, _ = rouge("ذهب الولد إلى المدرسة صباحا", "ذهب الولد الى المدرسة", "ar")
    assert r1 == pytest.approx(f1(3, 5, 4)) and r2 == pytest.approx(f1(1, 4, 3))  # bigram ذهب ولد
    assert rouge("ذهب الولد إلى المدرسة", "ذهب الولد إلى المدرسة", "en") == [0.0, 0.0, 0.0]


def test_scripts_without_spaces_fall_back_to_characters_and_thai_keeps_marks():
    tokenizer = rouge_tokenizer("th", True)
    # one token per character with its combining marks (no Thai segmenter is installed): ง่ = ง + mai ek
    assert tokenizer.tokenize("ง่าย") == ["ง่", "า", "ย"]
    # a Chinese name inside Portuguese text is cut per character, the Portuguese words stay whole
    assert rouge_tokenizer("pt", False).tokenize("O presidente 习近平 falou") == [
        "o",
        "presidente",
        "习",
        "近",
        "平",
        "falou",
    ]
    # composed and decomposed accents are the same word (Unicode NFC)
    assert rouge("a ac\u0327a\u0303o", "a ação", "pt") == [1.0, 1.0, 1.0]


# XL-Sum's multilingual ROUGE (csebuetnlp/xl-sum, multilingual_rouge_scoring at commit afcd803, installed from
# its source in a separate virtual environment with jieba and pyonmttok; bench/xlsum_reference.py recomputes
# every row below with it): RougeScorer(["rouge1", "rouge2", "rougeL"], lang=<name>, use_stemmer=...)
# .score(reference, prediction), F-measures. With the stemmer, NLTK's
# Snowball is passed as `callable_stemmer` (XL-Sum's default skips NLTK's stopwords, a corpus that must be
# downloaded); XL-Sum applies it to tokens of more than 3 characters, as we do.
XLSUM = [
    ("pt", "A ação não foi concluída", "A eleição não terminou",
     [0.4444444444444445, 0.0, 0.4444444444444445], [0.4444444444444445, 0.0, 0.4444444444444445]),
    ("pt", "O modelo não é capaz de gerar uma atenção adequada às informações.",
     "O modelo gera informações adequadas, com atenção.",
     [0.4210526315789474, 0.11764705882352942, 0.3157894736842105],
     [0.631578947368421, 0.11764705882352942, 0.4210526315789474]),
    ("es", "Los niños jugaban en el parque con sus amigos.", "El niño juega en los parques con un amigo.",
     [0.4444444444444444, 0.0, 0.2222222222222222], [0.7777777777777778, 0.125, 0.5555555555555556]),
    ("de", "Die Häuser wurden im Sommer gebaut.", "Das Haus wurde im Sommer 2020 gebaut.",
     [0.4615384615384615, 0.1818181818181818, 0.4615384615384615],
     [0.7692307692307692, 0.5454545454545454, 0.7692307692307692]),
    ("zh", "我们今天很高兴", "我们明天很高兴", [0.75, 0.3333333333333333, 0.75], [0.75, 0.3333333333333333, 0.75]),  # noqa: E501
    ("ar", "ذهب الولد إلى المدرسة صباحا", "ذهب الولد الى المدرسة",
     [0.6666666666666665, 0.28571428571428575, 0.6666666666666665],
     [0.6666666666666665, 0.28571428571428575, 0.6666666666666665]),
    ("fr", "Les étudiants ont présenté leurs résultats.", "L'étudiant présente ses résultats.",
     [0.1818181818181818, 0.0, 0.1818181818181818], [0.5454545454545454, 0.0, 0.5454545454545454]),
    # news-length pairs: punctuation, numbers, a currency sign, hyphenated words
    ("pt", "O presidente Luiz Inácio Lula da Silva anunciou nesta terça-feira (12) um pacote de R$ 15 "
           "bilhões para a educação básica, com foco em escolas públicas do Nordeste.",
     "Lula anuncia investimento de 15 bilhões de reais em escolas públicas; o Nordeste será a região mais "
     "beneficiada.",
     [0.4255319148936171, 0.13333333333333333, 0.3404255319148936],
     [0.46808510638297873, 0.13333333333333333, 0.3829787234042554]),
    ("es", "El Gobierno español aprobó el martes una reforma de las pensiones que eleva las cotizaciones de "
           "los trabajadores con salarios más altos.",
     "España aprueba la reforma de pensiones: suben las cotizaciones para los salarios altos.",
     [0.4571428571428572, 0.12121212121212123, 0.4571428571428572],
     [0.4571428571428572, 0.12121212121212123, 0.4571428571428572]),
    ("de", "Die Bundesregierung hat am Mittwoch beschlossen, die Förderung für Elektroautos zum Jahresende "
           "auslaufen zu lassen.",
     "Förderprogramm für E-Autos endet: Die Regierung stoppt die Kaufprämie Ende des Jahres.",
     [0.21428571428571427, 0.0, 0.14285714285714288],
     [0.21428571428571427, 0.0, 0.14285714285714288]),
]  # fmt: skip


@pytest.mark.parametrize("language, prediction, reference, unstemmed, stemmed", XLSUM)
def test_matches_xlsum_multilingual_rouge(language, prediction, reference, unstemmed, stemmed):
    assert rouge(prediction, reference, language, stem=False) == pytest.approx(unstemmed, abs=1e-12)
    assert rouge(prediction, reference, language, stem=True) == pytest.approx(stemmed, abs=1e-12)


def test_sentences_split_in_other_scripts():
    assert split_sentences("今天下雨。明天晴天！", "zh") == "今天下雨。\n明天晴天！"
    assert split_sentences("ذهب الولد. هذا اختبار", "ar") == "ذهب الولد.\nهذا اختبار"
    assert split_sentences("Ele saiu. ¿Volta? Sim.", "pt") == "Ele saiu.\n¿Volta?\nSim."
    assert split_sentences("a b. c d", "en") == "a b. c d"  # English: the rule it always had


def test_bleu_uses_the_languages_tokenizer():
    import sacrebleu

    predictions, references = ["这是一个测试。", "我们今天很高兴"], [["这是一个测验。"], ["我们明天很高兴"]]
    figures = metrics.corpus(predictions, references, ["bleu"], language="zh")
    expected = sacrebleu.corpus_bleu(predictions, [[r[0] for r in references]], tokenize="zh").score
    assert figures.loc["sacrebleu", "value"] == pytest.approx(expected)
    assert "tok:zh" in figures.loc["sacrebleu", "signature"] and "lang:zh" in figures.loc["bleu", "signature"]
    # 13a sees one token per sentence here: an unsmoothed BLEU of 0, and a different smoothed one
    assert metrics.corpus(predictions, references, ["bleu"]).loc["sacrebleu", "value"] != pytest.approx(
        expected
    )
    # Portuguese: intl
    pt = metrics.corpus(["A ação foi concluída."], [["A ação não foi concluída."]], ["bleu"], language="pt")
    assert pt.loc["sacrebleu", "value"] == pytest.approx(
        sacrebleu.corpus_bleu(
            ["A ação foi concluída."], [["A ação não foi concluída."]], tokenize="intl"
        ).score
    )
    assert "tok:intl" in pt.loc["sacrebleu", "signature"]


def test_japanese_bleu_uses_mecab():
    import sacrebleu

    predictions, references = ["これはテストです。"], [["これはペンです。"]]
    figures = metrics.corpus(predictions, references, ["bleu"], language="ja")
    expected = sacrebleu.corpus_bleu(predictions, [[references[0][0]]], tokenize="ja-mecab").score
    assert figures.loc["sacrebleu", "value"] == pytest.approx(expected)
    assert "tok:ja-mecab" in figures.loc["sacrebleu", "signature"]
    assert rouge_tokenizer("ja", False).tokenize("これはテストです。") == ["これ", "は", "テスト", "です"]


def test_english_default_is_unchanged_and_every_signature_names_the_language(scitldr_pairs):
    predictions, references = scitldr_pairs(n=10)
    default = metrics.score(predictions, references, ["bleu", "rouge", "chrf"])
    english = metrics.score(predictions, references, ["bleu", "rouge", "chrf"], language="en")
    assert np.array_equal(default.to_numpy(float), english.to_numpy(float))
    for column, signature in english.attrs["signatures"].items():
        assert "lang:en" in signature, column
    portuguese = metrics.score(predictions, references, ["bleu", "rouge", "chrf"], language="pt-BR")
    for column, signature in portuguese.attrs["signatures"].items():
        assert "lang:pt" in signature, column
    assert "snowball-portuguese" in portuguese.attrs["signatures"]["rouge1"]
    assert "tok:intl" in portuguese.attrs["signatures"]["sacrebleu"]


@pytest.mark.parametrize("bad", ["xx", "portuguese", "p", "", None, "zz-BR"])
def test_bad_language_codes_are_a_clear_error(bad):
    with pytest.raises(ConfigError, match="ISO 639-1"):
        metrics.score(["a"], [["a"]], ["rouge"], language=bad)
    with pytest.raises(ConfigError, match="ISO 639-1"):
        metrics.corpus(["a"], [["a"]], ["bleu"], language=bad)


def test_fast_word_split_equals_the_one_regex():
    # the speed trick (letter runs first, unspaced scripts cut again) against the plain reading of the rule
    from ft_core.metrics.tokenize import _TOKEN_PER_CHARACTER, per_character_tokens

    alphabet = list("ab ção1 2\u0301.-") + [
        "中",
        "文",
        "ภ",
        "่",
        "ア",
        "の",
        "ह",
        "ि",
        "ب",
        "٣",
        "ー",
        "\u0301",
        " ",
    ]
    rng = np.random.default_rng(0)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet, size=rng.integers(0, 25)))
        assert per_character_tokens(text) == _TOKEN_PER_CHARACTER.findall(text), repr(text)
