"""The sanity-overfit recipe, in one place: train on a few examples for many epochs until the training loss is
near zero. A run that cannot overfit 32 examples has a bug (label masking, learning rate, a frozen adapter)
that more data would only hide. Training applies it (`effective`, `EXAMPLES`, `passed`); the Train page's
preset starts from it (`PRESET`).

No torch: the app imports this module.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

C = TypeVar("C")

EXAMPLES = 32  # how many training examples the run keeps (it also validates on them)
MIN_EPOCHS = 30.0  # at least this many epochs, unless max_steps is set
PASS_LOSS = 0.1  # the final training loss must end below this
# what training sets whatever the form says: nothing may slow the overfit down
FORCED: dict[str, Any] = {
    "lora_dropout": 0.0,
    "early_stopping_patience": 0,
    "warmup_ratio": 0.0,
    "lr_scheduler": "constant",
}
# the Train page's preset: the forced values, plus starting points a researcher may still change
PRESET: dict[str, Any] = {
    "sanity_overfit": True,
    "max_train_examples": EXAMPLES,
    "epochs": MIN_EPOCHS,
    "learning_rate": 1e-3,
    "eval_every_steps": 0,
    **FORCED,
}


def effective(cfg: C) -> C:
    """The TrainConfig a run trains with: unchanged unless `sanity_overfit` is set, then `FORCED` and at least
    `MIN_EPOCHS` epochs (when it is not bounded by max_steps)."""
    if not getattr(cfg, "sanity_overfit", False):
        return cfg
    epochs = max(cfg.epochs, MIN_EPOCHS) if cfg.max_steps == 0 else cfg.epochs
    return dataclasses.replace(cfg, epochs=epochs, **FORCED)


def passed(final_train_loss: float | None) -> bool:
    """Did the overfit work: a final training loss below `PASS_LOSS`."""
    return final_train_loss is not None and final_train_loss < PASS_LOSS
