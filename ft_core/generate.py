"""Base and fine-tuned outputs for an evaluation split: `python -m ft_core generate --run-dir runs/x`.

For each system (base, finetuned), decoding setting and seed, one JSONL file in `<run>/outputs/` (layout in
notes/contracts.md). One model load serves both systems: the LoRA adapter is switched off for `base`.
Prompts are built exactly as in training (same template, chat template, source truncation). Generation is
batched with left padding over length-sorted batches (little padding, so little wasted compute) and written back
in input order. Finished batches are appended to a hidden `.partial` file as they complete, so a crashed or
cancelled job resumes without recomputing them; the final file appears atomically once every item is done.

Sampling is seeded per batch from (seed, the batch's item ids): a rerun of the same job gives the same
outputs, but a resumed job may batch the remaining items differently, so their samples can differ from the ones
an uninterrupted run would have drawn (greedy and beam search are unaffected).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import warnings
import zlib
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_core.config import (
    DataConfig,
    TrainConfig,
    _check_choices,
    _help,
    config_from_dict,
    load_config,
    save_config,
)
from ft_core.data import Example, build_prompt, load_examples, truncate_source
from ft_core.decoding import Decoding, expand
from ft_core.errors import ConfigError, DataError, ModelError, RunFolderError

SYSTEMS = ("base", "finetuned")
UNSPLIT_LISTS = ("decodings",)  # list fields whose items contain commas (CLI flags are not split on them)


@dataclass
class GenerateConfig:
    """A generation job: which model(s), which split, which decoding settings and seeds."""

    run_dir: str | None = _help(None, "run folder (config.json, adapter/); outputs go to its outputs/")
    base_model: str | None = _help(None, "base model; default: the run's base_model")
    adapter: str | None = _help(None, "LoRA adapter folder; default: <run_dir>/adapter")
    task: str | None = _help(None, "'causal' or 'seq2seq'; default: the run's task")
    output_dir: str | None = _help(None, "folder that receives outputs/; default: run_dir")
    split: str = _help("test", "'test', 'validation', or a data file path (JSONL/CSV/Parquet)")
    limit: int | None = _help(None, "generate for the first N items only")
    systems: list[str] = _help(list(SYSTEMS), "systems to generate: base, finetuned")
    decodings: list[str] = _help(
        ["greedy"], "settings, e.g. greedy, beam:num_beams=4, sample:temperature=0.7|1.0 (| = grid)"
    )
    seeds: list[int] = _help([0], "seeds for sampling; greedy and beam search run once, as seed of the first")
    max_new_tokens: int | None = _help(
        None, "tokens generated at most; default: the run's max_target_length (the report used 272)"
    )
    num_beams: int = _help(4, "beams for 'beam' unless its spec says otherwise")
    length_penalty: float = _help(1.0, "beam length penalty unless the spec says otherwise")
    no_repeat_ngram_size: int = _help(0, "forbid repeated n-grams of this size; 0 = off")
    temperature: float = _help(0.7, "sampling temperature unless the spec says otherwise")
    top_p: float = _help(0.9, "nucleus sampling mass unless the spec says otherwise")
    top_k: int = _help(0, "sample from the k most likely tokens only; 0 = off")
    repetition_penalty: float = _help(1.0, "> 1 discourages repeated tokens")
    batch_size: int = _help(64, "prompts per generate call (lower it on an out-of-memory error)")
    prompt_template: str | None = _help(None, "override the run's prompt template (must contain {source})")
    max_source_length: int | None = _help(None, "override the run's max_source_length")
    precision: str = _help(
        "auto",
        "'auto' (bf16/fp16 on GPU, fp32 on CPU), 'bf16', 'fp16', 'fp32'",
        choices=("auto", "bf16", "fp16", "fp32"),
    )
    device: str = _help("auto", "'auto', 'cpu', 'cuda', 'cuda:1', ...")
    attn_implementation: str = _help("sdpa", "attention kernel: 'sdpa', 'eager', 'flash_attention_2'")
    overwrite: bool = _help(False, "regenerate files that exist already instead of keeping them")

    def validate(self) -> None:
        _check_choices(self)
        if not self.run_dir and not self.base_model:
            raise ConfigError(
                "give run_dir (a run folder) or base_model (with adapter for the finetuned system)"
            )
        unknown = [s for s in self.systems if s not in SYSTEMS]
        if unknown or not self.systems:
            raise ConfigError(
                f"systems must be among {', '.join(SYSTEMS)}; got {', '.join(self.systems) or 'none'}"
            )
        if self.task is not None and self.task not in ("causal", "seq2seq"):
            raise ConfigError(f"task must be 'causal' or 'seq2seq', got {self.task!r}")
        for name in ("batch_size",):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_new_tokens is not None and self.max_new_tokens <= 0:
            raise ConfigError(f"max_new_tokens must be positive, got {self.max_new_tokens}")
        if self.limit is not None and self.limit <= 0:
            raise ConfigError(f"limit must be positive, got {self.limit}")
        if not self.seeds:
            raise ConfigError("seeds is empty; give at least one seed")
        if not self.run_dir and not self.output_dir:
            raise ConfigError("without run_dir, set output_dir: the folder that receives outputs/")


# --------------------------------------------------------------------------------------------- setup
def run_config(run_dir: str | Path) -> TrainConfig:
    """The run's TrainConfig from config.json (fields this version does not know are ignored)."""
    path = Path(run_dir) / "config.json"
    if not Path(run_dir).is_dir():
        raise RunFolderError(f"run folder {run_dir} does not exist")
    if not path.is_file():
        raise RunFolderError(f"{run_dir} is not a run folder: it has no config.json")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RunFolderError(f"{path} is not valid JSON: {e}") from None
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    return config_from_dict(TrainConfig, {k: v for k, v in values.items() if k in known})


@dataclass
class Job:
    """Everything resolved from a GenerateConfig, before any model is loaded."""

    base_model: str
    task: str
    adapter: Path | None
    data: DataConfig
    eval_file: str
    output_dir: Path
    decodings: list[Decoding]


def resolve_job(cfg: GenerateConfig) -> Job:
    """Check the config against the run folder and the data, early, with messages a researcher can act on."""
    train_cfg = run_config(cfg.run_dir) if cfg.run_dir else None
    data: DataConfig = train_cfg if train_cfg is not None else DataConfig()
    overrides = {}
    if cfg.prompt_template is not None:
        overrides["prompt_template"] = cfg.prompt_template
    if cfg.max_source_length is not None:
        overrides["max_source_length"] = cfg.max_source_length
    if overrides:
        data = dataclasses.replace(data, **overrides)
    base_model = cfg.base_model or (train_cfg.base_model if train_cfg else None)
    task = cfg.task or (train_cfg.task if train_cfg else "causal")
    adapter = Path(cfg.adapter) if cfg.adapter else (Path(cfg.run_dir) / "adapter" if cfg.run_dir else None)
    if "finetuned" in cfg.systems:
        where = cfg.run_dir or "the config"
        if adapter is None or not adapter.is_dir():
            raise RunFolderError(
                f"{where} has no adapter ({adapter or 'none given'}): train first, pass adapter=PATH, "
                "or generate the base system only with systems=base"
            )
        if not (adapter / "adapter_config.json").is_file():
            raise RunFolderError(f"{adapter} is not a peft adapter folder: it has no adapter_config.json")
        status_file = Path(cfg.run_dir or "") / "status.json"
        state = (
            json.loads(status_file.read_text()).get("state")
            if cfg.run_dir and status_file.is_file()
            else None
        )
        if state not in (None, "finished"):
            warnings.warn(
                f"the run's state is '{state}': {adapter} is the best adapter so far, not a finished run's",
                stacklevel=2,
            )
    if cfg.split in ("test", "validation", "dev"):
        eval_file = data.test_file if cfg.split == "test" else data.validation_file
        if not eval_file:
            raise DataError(f"the run has no {cfg.split} file; set split=PATH to an evaluation file")
    else:
        eval_file = cfg.split
    max_new_tokens = cfg.max_new_tokens or data.max_target_length
    if max_new_tokens != data.max_target_length:
        warnings.warn(
            f"max_new_tokens={max_new_tokens} but the model was trained on targets cut at max_target_length="
            f"{data.max_target_length}: "
            + (
                "outputs longer than training targets are possible and cost time"
                if max_new_tokens > data.max_target_length
                else "outputs may be cut shorter than the targets the model learned"
            ),
            stacklevel=2,
        )
    defaults = Decoding(
        max_new_tokens=max_new_tokens,
        num_beams=cfg.num_beams,
        length_penalty=cfg.length_penalty,
        no_repeat_ngram_size=cfg.no_repeat_ngram_size,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        top_k=cfg.top_k,
        repetition_penalty=cfg.repetition_penalty,
    )
    output_dir = Path(cfg.output_dir or cfg.run_dir)
    return Job(base_model, task, adapter, data, eval_file, output_dir, expand(cfg.decodings, defaults))


def load_eval_examples(location: str, data: DataConfig, limit: int | None = None) -> list[Example]:
    """The evaluation items; a file without the target column still works (no references, no reference metrics)."""
    return load_examples(location, data, limit=limit, require_target=False)


def output_path(output_dir: Path, system: str, decoding: str, seed: int) -> Path:
    """outputs/<system>__<decoding>__seed<seed>.jsonl (notes/contracts.md)."""
    return Path(output_dir) / "outputs" / f"{system}__{decoding}__seed{seed}.jsonl"


def parse_output_name(path: Path) -> tuple[str, str, int]:
    """(system, decoding, seed) from an outputs file name."""
    system, decoding, seed = Path(path).stem.split("__")
    return system, decoding, int(seed.removeprefix("seed"))


def _dtype(precision: str, device: str) -> Any:
    import torch

    if precision == "fp32" or (precision == "auto" and not device.startswith("cuda")):
        return torch.float32
    if precision == "bf16" or (precision == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device} but no CUDA GPU is visible; use device=cpu or auto")
    return device


def load_for_generation(
    base_model: str, task: str, adapter: Path | None, precision: str, device: str, attn_implementation: str
) -> tuple[Any, Any]:
    """(model, tokenizer): the base model once, with the adapter attached when given; eval mode, on device."""
    from ft_core.models import load_model, load_tokenizer, resolve_model_path

    path = resolve_model_path(base_model)
    tokenizer = load_tokenizer(path, task)
    model = load_model(path, task, dtype=_dtype(precision, device), attn_implementation=attn_implementation)
    if adapter is not None:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, str(adapter))
        except (ValueError, KeyError, RuntimeError, OSError) as e:
            raise ModelError(
                f"the adapter {adapter} does not fit {base_model}: {str(e).splitlines()[0][:200]}"
            ) from None
    model.to(device).eval()
    return model, tokenizer


def build_prompts(tokenizer: Any, data: DataConfig, examples: list[Example], task: str) -> list[str]:
    """The training prompts: source cut to max_source_length tokens, in the template (and chat template)."""
    prompts = []
    for example in examples:
        source, _ = truncate_source(tokenizer, example.source, data.max_source_length)
        prompts.append(build_prompt(tokenizer, data, source, task))
    return prompts


# --------------------------------------------------------------------------------------------- generation
@dataclass
class Generated:
    """One output and how it ended."""

    output: str
    new_tokens: int
    hit_max_new_tokens: bool
    time_s: float  # this item's share of its batch's wall time


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (an out-of-memory error shows at once)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def generate_texts(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    decoding: Decoding,
    task: str = "causal",
    batch_size: int = 16,
    seed: int = 0,
    keys: list[str] | None = None,
    on_batch: Any = None,
) -> list[Generated]:
    """Batched generation; results in the order of `prompts`.

    keys: a stable id per prompt; sampling is seeded per batch from (seed, the batch's keys).
    on_batch: called with ([(index, Generated), ...]) after each batch, e.g. to append to a file.
    """
    import torch
    from transformers import GenerationConfig

    keys = keys or [str(i) for i in range(len(prompts))]
    tokenizer.padding_side = "left" if task == "causal" else "right"
    add_special = task == "seq2seq"  # causal prompts carry their own special tokens (chat template)
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=add_special)["input_ids"]]
    eos = _eos_ids(model, tokenizer)
    config = GenerationConfig(
        **decoding.generation_kwargs(),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=sorted(eos) if eos else None,
    )
    device = next(model.parameters()).device
    results: list[Generated | None] = [None] * len(prompts)
    for batch in length_sorted_batches(lengths, batch_size):
        started = time.perf_counter()
        inputs = tokenizer(
            [prompts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=add_special
        ).to(device)
        if decoding.stochastic:
            torch.manual_seed(zlib.crc32(f"{seed}:{','.join(keys[i] for i in batch)}".encode()))
        with torch.inference_mode():
            out = model.generate(**inputs, generation_config=config)
        new = out[:, inputs["input_ids"].shape[1] :] if task == "causal" else out[:, 1:]
        elapsed = time.perf_counter() - started
        finished = []
        for row, index in enumerate(batch):
            ids = new[row].tolist()
            stop = next((j for j, t in enumerate(ids) if t in eos), None)
            n_tokens = stop if stop is not None else len(ids)
            text = tokenizer.decode(ids[:n_tokens], skip_special_tokens=True).strip()
            hit = stop is None and n_tokens >= decoding.max_new_tokens
            results[index] = Generated(text, n_tokens, hit, elapsed / len(batch))
            finished.append((index, results[index]))
        if on_batch is not None:
            on_batch(finished)
    return results  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------- files
def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a crash: everything before it is good
    return records


def _check_compatible(record: dict[str, Any], prompt: str, decoding: Decoding, path: Path) -> None:
    if (
        record.get("prompt") != prompt
        or record.get("max_new_tokens", decoding.max_new_tokens) != decoding.max_new_tokens
    ):
        raise RunFolderError(
            f"{path} was made with another prompt or max_new_tokens (item {record.get('item_id')}); "
            "set overwrite=true to regenerate it, or write to another output_dir"
        )


def _write_atomic(path: Path, records: list[dict[str, Any]]) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    with staging.open("w") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        f.flush()
        os.fsync(f.fileno())
    os.replace(staging, path)


def generate_file(
    model: Any,
    tokenizer: Any,
    examples: list[Example],
    prompts: list[str],
    system: str,
    decoding: Decoding,
    seed: int,
    task: str,
    output_dir: Path,
    batch_size: int,
    overwrite: bool = False,
) -> Path:
    """Write (or finish, or keep) one outputs file; `model` generates as `system` already."""
    path = output_path(output_dir, system, decoding.name, seed)
    partial = path.with_name(f".{path.name}.partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    prompt_of = {e.item_id: p for e, p in zip(examples, prompts)}
    if overwrite:
        path.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    if path.is_file():
        records = _read_jsonl(path)
        if [r.get("item_id") for r in records] == [e.item_id for e in examples]:
            for r in records[:1]:
                _check_compatible(r, prompt_of[r["item_id"]], decoding, path)
            print(f"{path.name}: complete already, kept", flush=True)
            return path
        raise RunFolderError(
            f"{path} holds other items than this split ({len(records)} vs {len(examples)}); "
            "set overwrite=true to regenerate it, or write to another output_dir"
        )
    done: dict[str, dict[str, Any]] = {}
    if partial.is_file():
        for record in _read_jsonl(partial):
            if record.get("item_id") in prompt_of:
                _check_compatible(record, prompt_of[record["item_id"]], decoding, partial)
                done[record["item_id"]] = record
        partial.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in done.values()))
        print(f"{path.name}: resuming, {len(done)}/{len(examples)} items done before", flush=True)
    todo = [i for i, e in enumerate(examples) if e.item_id not in done]
    started, produced = time.perf_counter(), [0, 0]

    def record(index: int, generated: Generated) -> dict[str, Any]:
        example = examples[index]
        return {
            "item_id": example.item_id,
            "system": system,
            "decoding": decoding.name,
            "seed": seed,
            "prompt": prompts[index],
            "source": example.source,
            "output": generated.output,
            "references": list(example.references),
            "new_tokens": generated.new_tokens,
            "hit_max_new_tokens": generated.hit_max_new_tokens,
            "time_s": round(generated.time_s, 6),
            "max_new_tokens": decoding.max_new_tokens,
        }

    with partial.open("a") as sink:

        def on_batch(finished: list[tuple[int, Generated]]) -> None:
            lines = [record(todo[i], g) for i, g in finished]
            sink.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
            sink.flush()
            os.fsync(sink.fileno())
            for r in lines:
                done[r["item_id"]] = r
            produced[0] += len(lines)
            produced[1] += sum(r["new_tokens"] for r in lines)
            rate = produced[1] / max(time.perf_counter() - started, 1e-9)
            print(f"{path.name}: {len(done)}/{len(examples)} items, {rate:.0f} new tokens/s", flush=True)

        if todo:
            generate_texts(
                model,
                tokenizer,
                [prompts[i] for i in todo],
                decoding,
                task=task,
                batch_size=batch_size,
                seed=seed,
                keys=[examples[i].item_id for i in todo],
                on_batch=on_batch,
            )
    _write_atomic(path, [done[e.item_id] for e in examples])
    partial.unlink(missing_ok=True)
    return path


def generate(cfg: GenerateConfig) -> list[Path]:
    """Run a generation job; returns the outputs files (existing complete ones are kept unless overwrite)."""
    cfg.validate()
    job = resolve_job(cfg)
    examples = load_eval_examples(job.eval_file, job.data, limit=cfg.limit)
    ids = [e.item_id for e in examples]
    if len(set(ids)) != len(ids):
        raise DataError(f"item ids in {job.eval_file} are not unique; set id_column to a unique column")
    if not any(e.references for e in examples):
        warnings.warn(
            f"{job.eval_file} has no references: outputs are generated, reference-based metrics will be skipped",
            stacklevel=2,
        )
    device = resolve_device(cfg.device)
    adapter = job.adapter if "finetuned" in cfg.systems else None
    model, tokenizer = load_for_generation(
        job.base_model, job.task, adapter, cfg.precision, device, cfg.attn_implementation
    )
    prompts = build_prompts(tokenizer, job.data, examples, job.task)
    job.output_dir.mkdir(parents=True, exist_ok=True)
    (job.output_dir / "outputs").mkdir(exist_ok=True)
    save_config(cfg, job.output_dir / "outputs" / "generate_config.json")
    paths = []
    for decoding in job.decodings:
        for seed in cfg.seeds if decoding.stochastic else cfg.seeds[:1]:
            for system in cfg.systems:
                # base = the same loaded model with the adapter switched off
                switch = (
                    model.disable_adapter() if system == "base" and adapter is not None else nullcontext()
                )
                with switch:
                    paths.append(
                        generate_file(
                            model,
                            tokenizer,
                            examples,
                            prompts,
                            system,
                            decoding,
                            seed,
                            job.task,
                            job.output_dir,
                            cfg.batch_size,
                            cfg.overwrite,
                        )
                    )
    return paths


# --------------------------------------------------------------------------------------------- CLI
def parse_args(argv: list[str] | None, cls: type = GenerateConfig, prog: str = "generate") -> Any:
    """`--config FILE`, `--set key=value`, and a `--key value` flag for every field of `cls`."""
    parser = argparse.ArgumentParser(
        prog=f"python -m ft_core {prog}", description=(cls.__doc__ or "").strip()
    )
    parser.add_argument("--config", help="YAML/JSON file with fields of the config")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one field")
    list_fields = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default_factory is not dataclasses.MISSING and isinstance(f.default_factory(), list)
    }
    for f in dataclasses.fields(cls):
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f"field_{f.name}",
            default=None,
            action="append" if f.name in list_fields else "store",
            help=f.metadata.get("help") + (" (repeat the flag for several)" if f.name in list_fields else ""),
        )
    args = parser.parse_args(argv)
    overrides = list(args.set)
    for f in dataclasses.fields(cls):
        value = getattr(args, f"field_{f.name}")
        if value is None:
            continue
        if f.name in list_fields:
            # Decoding specs hold commas themselves; other lists may also be written a,b,c in one flag.
            items = (
                value if f.name in UNSPLIT_LISTS else [v for x in value for v in x.split(",") if v.strip()]
            )
            overrides.append(f"{f.name}={json.dumps(items)}")
        else:
            overrides.append(f"{f.name}={value}")
    return load_config(cls, args.config, overrides)


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *a, **k: print(f"warning: {message}", file=sys.stderr)
        paths = generate(cfg)
    print(f"wrote {len(paths)} outputs file(s) under {paths[0].parent if paths else cfg.output_dir}")
    return 0
