"""The sanity-overfit recipe lives in ft_core.sanity alone: training applies it, the Train page's preset
starts from it, and the two agree (what the form shows is what the run trains with)."""

from __future__ import annotations

import subprocess
import sys

from ft_core import sanity
from ft_core.config import TrainConfig


def test_training_forces_the_recipe_whatever_the_form_says():
    cfg = TrainConfig(sanity_overfit=True, lora_dropout=0.1, epochs=3.0, early_stopping_patience=2)
    run = sanity.effective(cfg)
    assert {k: getattr(run, k) for k in sanity.FORCED} == sanity.FORCED and run.epochs == sanity.MIN_EPOCHS
    bounded = sanity.effective(TrainConfig(sanity_overfit=True, epochs=3.0, max_steps=12))
    assert bounded.epochs == 3.0  # max_steps bounds the run: epochs are left alone
    plain = TrainConfig(lora_dropout=0.1)
    assert sanity.effective(plain) is plain


def test_the_page_preset_is_what_training_runs():
    form = TrainConfig(**sanity.PRESET)
    assert form.sanity_overfit and form.max_train_examples == sanity.EXAMPLES
    assert sanity.effective(form) == form  # nothing the form shows is changed when the run starts


def test_the_verdict():
    assert (
        sanity.passed(sanity.PASS_LOSS / 2)
        and not sanity.passed(sanity.PASS_LOSS)
        and not sanity.passed(None)
    )


def test_the_recipe_imports_no_torch():
    code = "import sys, ft_core.sanity; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
