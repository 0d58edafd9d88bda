"""`GenerateConfig`: which model(s), which split, which decoding settings and seeds."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ft_core.config.choices import PRECISIONS, SYSTEMS, TASKS
from ft_core.config.fields import check_fields, option, require

GENERATION_BACKENDS = ("local", "server")


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
    backend: str = option(
        "local",
        help="'local' (transformers in this process) or 'server' (an OpenAI-compatible /v1/completions "
        "server: vLLM, SGLang, TGI, llama.cpp's server)",
        label="Generation backend",
        advanced=True,
        choices=GENERATION_BACKENDS,
    )
    server_url: str | None = option(
        None,
        help="server backend: the server's base URL, e.g. http://localhost:8000/v1",
        label="Server URL",
        advanced=True,
    )
    server_models: list[str] = option(
        [],
        help="server backend: the model name serving a system, SYSTEM=MODEL (repeatable; in a file a mapping "
        "{base: NAME, finetuned: NAME}); default: base_model for base, the system's own name for the others "
        "(vLLM's --lora-modules finetuned=RUN/adapter)",
        label="Server model per system (SYSTEM=MODEL)",
        advanced=True,
    )
    server_urls: list[str] = option(
        [],
        help="server backend: another server for a system, SYSTEM=URL (two servers instead of one model each "
        "on one); in a file a mapping",
        label="Server URL per system (SYSTEM=URL)",
        advanced=True,
    )
    server_api_key_env: str | None = option(
        None,
        help="server backend: NAME of the environment variable holding the server's key (the key itself is "
        "never stored); none for a server without a key",
        label="Server API key variable",
        advanced=True,
    )
    server_concurrency: int = option(
        8,
        help="server backend: requests in flight at most",
        label="Concurrent requests",
        advanced=True,
        above=0,
    )
    server_batch_size: int = option(
        8, help="server backend: prompts per request", label="Prompts per request", advanced=True, above=0
    )
    server_max_retries: int = option(
        4,
        help="server backend: retries of a request on 429, 5xx, timeouts (with back-off)",
        label="Retries",
        advanced=True,
        at_least=0,
    )
    server_timeout: float = option(
        600.0, help="server backend: seconds a request may take", label="Timeout (s)", advanced=True, above=0
    )

    def __post_init__(self) -> None:
        if isinstance(self.extra_systems, dict):  # a config file's mapping {name: folder}
            self.extra_systems = [f"{name}={folder}" for name, folder in self.extra_systems.items()]
        for name in ("server_models", "server_urls"):  # a config file's mapping {system: value}
            if isinstance(getattr(self, name), dict):
                setattr(self, name, [f"{k}={v}" for k, v in getattr(self, name).items()])
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
        self.check_server()

    def check_server(self) -> None:
        """ConfigError on a bad server setting: a URL that is not http(s), a mapping naming no system of this
        job, a system without a server."""
        systems = [*self.systems, *self.extra_system_folders()]
        models, urls = self.system_values("server_models"), self.system_values("server_urls")
        for url in [self.server_url, *urls.values()]:
            require(
                url is None or bool(_URL.match(url)),
                f"server URL {url!r} must start with http:// or https://, e.g. http://localhost:8000/v1",
            )
        require(
            self.server_api_key_env is None or bool(_ENV_NAME.match(self.server_api_key_env)),
            "server_api_key_env must be the NAME of an environment variable (letters, digits, _), "
            "not the key",
        )
        for name, mapping in (("server_models", models), ("server_urls", urls)):
            unknown = [s for s in mapping if s not in systems]
            require(
                not unknown,
                f"{name} names {', '.join(unknown)}, not a system of this job ({', '.join(systems)})",
            )
        if self.backend == "server":
            without = [s for s in systems if self.server_url is None and s not in urls]
            require(
                not without,
                f"backend=server needs server_url (or server_urls for {', '.join(without)}), "
                "e.g. server_url=http://localhost:8000/v1",
            )

    def system_values(self, name: str) -> dict[str, str]:
        """`server_models` or `server_urls` as {system: value}; ConfigError on an entry that is not
        SYSTEM=VALUE."""
        values: dict[str, str] = {}
        for entry in getattr(self, name):
            system, sep, value = entry.partition("=")
            system, value = system.strip(), value.strip()
            require(
                bool(sep and system and value), f"{name}: {entry!r} is not SYSTEM=VALUE (e.g. base=my-model)"
            )
            require(system not in values, f"{name}: system {system!r} is given twice")
            values[system] = value
        return values

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
_URL = re.compile(r"^https?://[^\s/]+", re.I)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
