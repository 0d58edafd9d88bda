"""Fields that the SFT and the preference-tuning configs declare alike: one declaration each, called once per
config class (a dataclass field cannot be shared between classes, so each call makes a new one)."""

from __future__ import annotations

from ft_core.config.choices import PRECISIONS
from ft_core.config.fields import option


def gradient_accumulation_option():
    return option(
        1,
        help="micro-batches per optimizer step",
        label="Gradient accumulation steps",
        group="optimization",
        above=0,
    )


def resume_option():
    return option(
        False,
        help="continue from the last checkpoint in run_dir",
        label="Resume from checkpoint",
        advanced=True,
        group="validation",
    )


def precision_option():
    return option(
        "auto",
        help="'auto' (bf16 where the GPU has it, else fp16 on GPU, fp32 on CPU), 'bf16', 'fp16', 'fp32'",
        label="Precision",
        group="hardware",
        choices=PRECISIONS,
    )
