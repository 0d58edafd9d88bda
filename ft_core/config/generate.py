"""`GenerateConfig`: which model(s), which split, which decoding settings and seeds."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ft_core.config.choices import PRECISIONS, SYSTEMS, TASKS
from ft_core.config.fields import check_fields, option, require


@dataclass
class GenerateConfig:
    """A generation job: which model(s), which split, which decoding settings and seeds."""

    run_dir: str | None = option(
        None, help="run folder (config.json, adapter/); outputs go to its outputs/", label="Run folder"
    )
    base_model: str | None = option(
        None, help="base model; default: the run's base_model", label="Base model", advanced=True
    )
    adapter: str | None = option(
        None, help="LoRA adapter folder; default: <run_dir>/adapter", label="Adapter folder", advanced=True
    )
    task: str | None = option(
        None, help="'causal' or 'seq2seq'; default: the run's task", label="Task", advanced=True
    )
    output_dir: str | None = option(
        None,
        help="folder that receives outputs/; default: run_dir",
        label="Output folder",
        advanced=True,
    )
    split: str = option(
        "test",
        help="'test', 'validation', or a data file path (JSONL/CSV/Parquet)",
        label="Evaluation split",
    )
    limit: int | None = option(
        None, help="generate for the first N items only", label="Items (first N)", above=0
    )
    systems: list[str] = option(
        list(SYSTEMS), help="systems to generate: base, finetuned", label="Systems", advanced=True
    )
    extra_systems: list[str] = option(
        [],
        help="more systems, each NAME=FOLDER: a run folder (its adapter/) or a LoRA adapter folder on the "
        "same base model, e.g. --system dpo=runs/dpo (repeatable); in a file also a mapping {dpo: runs/dpo}",
        label="More systems (NAME=FOLDER)",
        advanced=True,
        flag="--system",
        split_commas=False,  # a folder's name may hold a comma
    )
    decodings: list[str] = option(
        ["greedy"],
        help="settings, e.g. greedy, beam:num_beams=4, sample:temperature=0.7|1.0 (| = grid)",
        label="Decoding settings",
        split_commas=False,  # a setting holds commas itself: beam:num_beams=4,length_penalty=0.8
    )
    seeds: list[int] = option(
        [0],
        help="seeds for sampling; greedy and beam search run once, as seed of the first",
        label="Sampling seeds",
    )
    max_new_tokens: int | None = option(
        None,
        help="tokens generated at most; default: the run's max_target_length (the report used 272)",
        label="Max new tokens",
        above=0,
    )
    num_beams: int = option(
        4,
        help="beams for 'beam' unless its spec says otherwise",
        label="Beams",
        advanced=True,
        above=0,
    )
    length_penalty: float = option(
        1.0,
        help="beam length penalty unless the spec says otherwise",
        label="Length penalty",
        advanced=True,
    )
    no_repeat_ngram_size: int = option(
        0,
        help="forbid repeated n-grams of this size; 0 = off",
        label="No-repeat n-gram size",
        advanced=True,
        at_least=0,
    )
    temperature: float = option(
        0.7,
        help="sampling temperature unless the spec says otherwise",
        label="Temperature",
        advanced=True,
        above=0,
    )
    top_p: float = option(
        0.9,
        help="nucleus sampling mass unless the spec says otherwise",
        label="Top-p",
        advanced=True,
        above=0,
        at_most=1,
    )
    top_k: int = option(
        0,
        help="sample from the k most likely tokens only; 0 = off",
        label="Top-k",
        advanced=True,
        at_least=0,
    )
    repetition_penalty: float = option(
        1.0,
        help="> 1 discourages repeated tokens",
        label="Repetition penalty",
        advanced=True,
        above=0,
    )
    batch_size: int = option(
        64,
        help="prompts per generate call (lower it on an out-of-memory error)",
        label="Batch size",
        above=0,
    )
    prompt_template: str | None = option(
        None,
        help="override the run's prompt template (must contain {source})",
        label="Prompt template",
        advanced=True,
    )
    max_source_length: int | None = option(
        None,
        help="override the run's max_source_length",
        label="Max source length (tokens)",
        advanced=True,
        above=0,
    )
    precision: str = option(
        "auto",
        help="'auto' (bf16/fp16 on GPU, fp32 on CPU), 'bf16', 'fp16', 'fp32'",
        label="Precision",
        advanced=True,
        choices=PRECISIONS,
    )
    device: str = option("auto", help="'auto', 'cpu', 'cuda', 'cuda:1', ...", label="Device", advanced=True)
    attn_implementation: str = option(
        "sdpa",
        help="attention kernel: 'sdpa', 'eager', 'flash_attention_2'",
        label="Attention kernel",
        advanced=True,
    )
    overwrite: bool = option(
        False,
        help="regenerate files that exist already instead of keeping them",
        label="Overwrite existing outputs",
        advanced=True,
    )

    def __post_init__(self) -> None:
        if isinstance(self.extra_systems, dict):  # a config file's mapping {name: folder}
            self.extra_systems = [f"{name}={folder}" for name, folder in self.extra_systems.items()]
        check_fields(self)
        require(
            bool(self.run_dir or self.base_model),
            "give run_dir (a run folder) or base_model (with adapter for the finetuned system)",
        )
        require(
            self.task is None or self.task in TASKS, f"task must be 'causal' or 'seq2seq', got {self.task!r}"
        )
        unknown = [s for s in self.systems if s not in SYSTEMS]
        require(
            not unknown and bool(self.systems),
            f"systems must be among {', '.join(SYSTEMS)}; got {', '.join(self.systems) or 'none'}",
        )
        require(bool(self.seeds), "seeds is empty; give at least one seed")
        self.extra_system_folders()  # checks the names
        require(
            bool(self.run_dir or self.output_dir),
            "without run_dir, set output_dir: the folder that receives outputs/",
        )

    def extra_system_folders(self) -> dict[str, str]:
        """`extra_systems` as {name: folder}, in the order given; ConfigError on a bad name or entry."""
        folders: dict[str, str] = {}
        for entry in self.extra_systems:
            name, sep, folder = entry.partition("=")
            name, folder = name.strip(), folder.strip()
            require(bool(sep and folder), f"extra_systems: {entry!r} is not NAME=FOLDER (e.g. dpo=runs/dpo)")
            require(
                bool(_SYSTEM_NAME.match(name)) and "__" not in name,
                f"extra_systems: system name {name!r} must be letters, digits, '-', '_' or '.' "
                "(no '__', which outputs file names use as separator)",
            )
            require(
                name not in SYSTEMS,
                f"extra_systems: {name!r} is a built-in system; name the extra one otherwise (e.g. sft, dpo)",
            )
            require(name not in folders, f"extra_systems: system {name!r} is given twice")
            folders[name] = folder
        return folders


_SYSTEM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
