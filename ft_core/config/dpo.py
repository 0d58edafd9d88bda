"""`DPOTrainConfig`: preference tuning of a fine-tuned run on the annotators' preferences (`python -m
ft_core dpo`). The fields are TRL's `DPOConfig` main ones (TRL 1.16: `beta`, `loss_type`, `label_smoothing`,
`max_length`, ...) plus where the run starts (an SFT run folder) and what it learns from (a preferences
export, `python -m annotations preferences`)."""

from __future__ import annotations

from dataclasses import dataclass

from ft_core.config.fields import check_fields, option, require
from ft_core.config.shared_fields import gradient_accumulation_option, precision_option, resume_option

# TRL 1.16's `DPOConfig.loss_type` values (trl/trainer/dpo_config.py); "robust" is Chowdhury et al. 2024's
# unbiased loss under label noise, the one whose label_smoothing is the probability that a label is flipped
DPO_LOSS_TYPES = (
    "sigmoid", "robust", "ipo", "hinge", "exo_pair", "nca_pair", "bco_pair", "sppo_hard", "aot",
    "aot_unpaired", "apo_zero", "apo_down", "discopop", "sigmoid_norm",
)  # fmt: skip
# the fewest decided training pairs DPO accepts (see `min_pairs`)
MIN_PAIRS = 16


@dataclass
class DPOTrainConfig:
    """Preference tuning (DPO with TRL) of a fine-tuned run on a preferences export, into a new run folder."""

    # what it starts from and learns on
    sft_run: str = option(
        help="the fine-tuned (SFT) run folder: its adapter is the starting policy and the frozen reference",
        label="Fine-tuned run folder",
        group="data",
    )
    preferences: str = option(
        help="the preferences export folder (`annotations preferences` writes it) or its preferences.jsonl",
        label="Preferences export",
        group="data",
    )
    eval_share: float = option(
        0.1,
        help="share of the pairs held out to validate on (eval loss, reward accuracy); 0 = none",
        label="Held-out share",
        group="data",
        at_least=0,
        below=1,
    )
    min_pairs: int = option(
        MIN_PAIRS,
        help="fewer decided training pairs than this is an error: so few pairs are memorised, not learnt",
        label="Minimum training pairs",
        advanced=True,
        group="data",
        at_least=2,
    )
    run_dir: str = option(
        "runs/dpo",
        help="run folder to create; must not exist unless resume is set",
        label="Run folder",
        group="model",
    )
    # the DPO loss (TRL's DPOConfig)
    beta: float = option(
        0.1,
        help="how far the policy may move from the reference (higher: closer); IPO's tau",
        label="Beta",
        group="dpo",
        above=0,
    )
    loss_type: str = option(
        "sigmoid",
        help="TRL's loss: 'sigmoid' (DPO), 'robust' (label noise, takes label_smoothing), 'ipo', ...",
        label="Loss",
        group="dpo",
        choices=DPO_LOSS_TYPES,
    )
    label_smoothing: float | None = option(
        None,
        help="probability that a preference label is flipped; none = the export's disagreement rate with the "
        "robust loss, else 0",
        label="Label smoothing",
        group="dpo",
        at_least=0,
        below=0.5,
    )
    max_length: int = option(
        1024,
        help="tokens of prompt + answer kept per pair (TRL's max_length; the answer's end is cut first)",
        label="Max length (tokens)",
        group="dpo",
        above=0,
    )
    # optimization
    learning_rate: float = option(
        5e-5,
        help="peak learning rate of the LoRA weights",
        label="Learning rate",
        group="optimization",
        above=0,
        below=1,
    )
    epochs: float = option(
        1.0,
        help="passes over the training pairs (ignored when max_steps > 0)",
        label="Epochs",
        group="optimization",
        at_least=0,
    )
    max_steps: int = option(
        0,
        help="stop after this many optimizer steps; 0 = use epochs",
        label="Max steps (0 = epochs)",
        group="optimization",
        at_least=0,
    )
    batch_size: int = option(
        4, help="pairs per device per micro-batch", label="Batch size", group="optimization", above=0
    )
    gradient_accumulation_steps: int = gradient_accumulation_option()
    warmup_ratio: float = option(
        0.1,
        help="share of steps spent warming up",
        label="Warm-up share",
        advanced=True,
        group="optimization",
        at_least=0,
        below=1,
    )
    seed: int = option(
        42, help="seed for the held-out split, data order and dropout", label="Seed", group="optimization"
    )
    # validation
    eval_every_steps: int = option(
        10,
        help="validate (and checkpoint) every N optimizer steps",
        label="Validate every N steps",
        group="validation",
        above=0,
    )
    early_stopping_patience: int = option(
        0,
        help="stop after N validations without a lower eval loss; 0 = off (needs eval_share > 0)",
        label="Early-stopping patience",
        group="validation",
        at_least=0,
    )
    resume: bool = resume_option()
    # hardware
    precision: str = precision_option()
    log_every_steps: int = option(
        1,
        help="write a train_log row (loss, rewards, margins, accuracy) every N optimizer steps",
        label="Log every N steps",
        advanced=True,
        group="hardware",
        above=0,
    )

    def __post_init__(self) -> None:
        """Refuse values that cannot make sense, before anything is loaded."""
        check_fields(self)
        require(
            self.max_steps > 0 or self.epochs > 0,
            f"set epochs > 0 or max_steps > 0 (got epochs={self.epochs}, max_steps={self.max_steps})",
        )
        require(
            not self.early_stopping_patience or self.eval_share > 0,
            "early_stopping_patience needs held-out pairs: set eval_share > 0",
        )
        require(
            self.label_smoothing in (None, 0.0) or self.loss_type in ("robust", "exo_pair"),
            f"label_smoothing is used only by the robust and exo_pair losses, not {self.loss_type!r}",
        )
