"""`DataConfig` (where the examples come from and how they become prompts) and `TrainConfig` (a LoRA run)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ft_core.config.choices import TASKS
from ft_core.config.fields import check_fields, option, require
from ft_core.config.shared_fields import gradient_accumulation_option, precision_option, resume_option
from ft_core.languages import DEFAULT_LANGUAGE, check_language

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "scitldr-a"


@dataclass
class DataConfig:
    """Where the examples come from and how they become prompts. Shared by training and generation."""

    train_file: str = option(
        str(DEFAULT_DATA_DIR / "train.jsonl"),
        help="JSONL/CSV/Parquet file or hub id[:split]",
        label="Training data file",
        group="data",
    )
    validation_file: str | None = option(
        str(DEFAULT_DATA_DIR / "dev.jsonl"),
        help="validation split; none disables validation",
        label="Validation data file",
        group="data",
    )
    test_file: str | None = option(
        str(DEFAULT_DATA_DIR / "test.jsonl"),
        help="evaluation split used by generate",
        label="Test data file",
        group="data",
    )
    source_column: str = option(
        "source",
        help="column holding the input text (a string or a list of sentences)",
        label="Source column",
        group="data",
    )
    target_column: str = option(
        "target",
        help="column holding the target (a string, or a list whose first item is trained on)",
        label="Target column",
        group="data",
    )
    references_column: str | None = option(
        None,
        help="column with a list of references for metrics; defaults to target_column",
        label="References column",
        advanced=True,
        group="data",
    )
    id_column: str | None = option(
        None,
        help="column with a stable item id; defaults to the row number",
        label="Item id column",
        advanced=True,
        group="data",
    )
    language: str = option(
        DEFAULT_LANGUAGE,
        help="ISO 639-1 code of the data's language (en, pt, es, zh, ...): tokenizer and stemmer of every "
        "metric",
        label="Language",
        group="data",
    )
    prompt_template: str = option(
        "Summarize the following scientific abstract in one sentence.\n\n{source}",
        help="prompt with a {source} placeholder; wrapped in the chat template for instruct models",
        label="Prompt template",
        group="data",
    )
    use_chat_template: bool = option(
        True,
        help="wrap the prompt in the tokenizer's chat template when it has one",
        label="Use the chat template",
        advanced=True,
        group="data",
    )
    max_source_length: int = option(
        512,
        help="tokens of the prompt kept (longer sources are truncated)",
        label="Max source length (tokens)",
        group="data",
        above=0,
    )
    max_target_length: int = option(
        64,
        help="tokens of the target kept; align with generate's max_new_tokens",
        label="Max target length (tokens)",
        group="data",
        above=0,
    )
    max_train_examples: int | None = option(
        None,
        help="use only the first N training examples",
        label="Training examples (first N)",
        group="data",
        above=0,
    )
    max_eval_examples: int | None = option(
        None,
        help="use only the first N validation examples",
        label="Validation examples (first N)",
        advanced=True,
        group="data",
        at_least=0,
    )

    def __post_init__(self) -> None:
        check_fields(self)
        self.language = check_language(self.language)


@dataclass
class TrainConfig(DataConfig):
    """A LoRA fine-tuning run. Fields are grouped (data, model, lora, optimization, validation, hardware)."""

    # model
    base_model: str = option(
        "smollm2-135m",
        help="hub id, local folder, or 'smollm2-135m' (embedded)",
        label="Base model",
        group="model",
    )
    task: str = option(
        "causal",
        help="'causal' (decoder-only) or 'seq2seq' (T5/BART family)",
        label="Task",
        advanced=True,
        group="model",
        choices=TASKS,
    )
    run_dir: str = option(
        "runs/run",
        help="run folder to create; must not exist unless resume is set",
        label="Run folder",
        group="model",
    )
    # lora
    lora_r: int = option(16, help="LoRA rank", label="LoRA rank (r)", group="lora", above=0)
    lora_alpha: int = option(
        32, help="LoRA alpha (scaling = alpha / r)", label="LoRA alpha", group="lora", above=0
    )
    lora_dropout: float = option(
        0.05,
        help="dropout on the LoRA path",
        label="LoRA dropout",
        advanced=True,
        group="lora",
        at_least=0,
        below=1,
    )
    target_modules: list[str] = option(
        ["q_proj", "k_proj", "v_proj", "o_proj"],
        help="module names that get adapters; 'all-linear' for every linear layer",
        label="Target modules",
        group="lora",
    )
    # optimization
    epochs: float = option(
        1.0,
        help="passes over the training data (ignored when max_steps > 0)",
        label="Epochs",
        group="optimization",
    )
    max_steps: int = option(
        0,
        help="stop after this many optimizer steps; 0 = use epochs",
        label="Max steps (0 = epochs)",
        group="optimization",
    )
    learning_rate: float = option(
        2e-4,
        help="peak learning rate",
        label="Learning rate",
        group="optimization",
        above=0,
        below=1,
    )
    lr_scheduler: str = option(
        "cosine",
        help="learning-rate schedule",
        label="Learning-rate schedule",
        advanced=True,
        group="optimization",
        choices=("linear", "cosine", "constant", "constant_with_warmup"),
    )
    warmup_ratio: float = option(
        0.03,
        help="share of steps spent warming up",
        label="Warm-up share",
        advanced=True,
        group="optimization",
        at_least=0,
        below=1,
    )
    weight_decay: float = option(
        0.0,
        help="AdamW weight decay",
        label="Weight decay",
        advanced=True,
        group="optimization",
        at_least=0,
    )
    batch_size: int = option(
        8,
        help="examples per device per micro-batch",
        label="Batch size",
        group="optimization",
        above=0,
    )
    gradient_accumulation_steps: int = gradient_accumulation_option()
    max_grad_norm: float = option(
        1.0,
        help="gradient clipping; 0 disables",
        label="Max gradient norm",
        advanced=True,
        group="optimization",
        at_least=0,
    )
    seed: int = option(
        42, help="seed for data order, LoRA init and dropout", label="Seed", group="optimization"
    )
    group_by_length: bool = option(
        True,
        help="batch examples of similar length (less padding, same examples)",
        label="Group batches by length",
        advanced=True,
        group="optimization",
    )
    sanity_overfit: bool = option(
        False,
        help="train on 16-32 examples for many epochs; must reach near-zero loss",
        label="Sanity overfit",
        group="optimization",
    )
    # validation
    eval_every_steps: int = option(
        50,
        help="validate every N optimizer steps; 0 = once per epoch",
        label="Validate every N steps",
        group="validation",
        at_least=0,
    )
    eval_generation_samples: int = option(
        0,
        help="also generate on N validation examples and report ROUGE/BLEU",
        label="Generation samples per validation",
        advanced=True,
        group="validation",
        at_least=0,
    )
    early_stopping_patience: int = option(
        0,
        help="stop after N validations without improvement; 0 = off",
        label="Early-stopping patience",
        group="validation",
        at_least=0,
    )
    early_stopping_min_delta: float = option(
        0.0,
        help="smallest eval-loss drop that counts as improvement",
        label="Early-stopping min improvement",
        advanced=True,
        group="validation",
        at_least=0,
    )
    save_every_steps: int = option(
        0,
        help="checkpoint every N steps for resuming; 0 = at each validation",
        label="Checkpoint every N steps",
        advanced=True,
        group="validation",
        at_least=0,
    )
    resume: bool = resume_option()
    # hardware
    precision: str = precision_option()
    gradient_checkpointing: bool = option(
        False,
        help="recompute activations to save memory",
        label="Gradient checkpointing",
        group="hardware",
    )
    attn_implementation: str = option(
        "sdpa",
        help="attention kernel: 'sdpa', 'eager', 'flash_attention_2'",
        label="Attention kernel",
        advanced=True,
        group="hardware",
    )
    fused_optimizer: bool = option(
        True, help="use fused AdamW on GPU", label="Fused AdamW", advanced=True, group="hardware"
    )
    torch_compile: bool = option(
        False,
        help="compile the model with torch.compile (dynamic shapes); pays off on long GPU runs",
        label="torch.compile",
        advanced=True,
        group="hardware",
    )
    num_workers: int = option(
        0,
        help="data-loader worker processes",
        label="Data-loader workers",
        advanced=True,
        group="hardware",
        at_least=0,
    )
    log_every_steps: int = option(
        10,
        help="write a train_log row every N optimizer steps",
        label="Log every N steps",
        advanced=True,
        group="hardware",
        above=0,
    )

    def __post_init__(self) -> None:
        """Refuse values that cannot make sense, before anything is loaded."""
        super().__post_init__()  # types, choices and each field's range
        require(
            self.max_steps >= 0 and self.epochs >= 0 and (self.max_steps > 0 or self.epochs > 0),
            f"set epochs > 0 or max_steps > 0 (got epochs={self.epochs}, max_steps={self.max_steps})",
        )
        require(bool(self.target_modules), "target_modules is empty; name the modules that get LoRA adapters")
        require(
            not self.early_stopping_patience or bool(self.validation_file),
            "early_stopping_patience needs a validation_file",
        )
