"""Values several configs share: the tasks a model can have, the precisions, the systems `generate` writes."""

from __future__ import annotations

SYSTEMS = ("base", "finetuned")  # the systems `generate` writes: the base model, and it with the adapter
TASKS = ("causal", "seq2seq")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
