"""Base and fine-tuned outputs for an evaluation split: `python -m ft_core generate --run-dir runs/x`.

For each system (base, finetuned), decoding setting and seed, one JSONL file in `<run>/outputs/` (layout:
`ft_core.runfolder`, docs/run-folder.md). One model load serves both systems: `base` runs the plain model (the
adapter is only checked to fit), then `finetuned` the same model with the adapter merged into its weights and
peft's wrappers removed (`merge_adapter`), so both run a plain transformers model at the same cost per token.
Unmerged, peft would keep the adapter in fp32 beside a bf16 base and run it as extra matmuls, and its
per-layer wrappers cost time even with the adapter switched off. More systems (`extra_systems`, e.g. an
SFT and a DPO run on the same base: `--system dpo=runs/dpo`) are generated the same way, one after the other:
before the first merge the base weights are copied to the host, and after each system's files they are put
back exactly, so every adapter is merged into the same base and the model is loaded once. Prompts are built
exactly as in training (same template, chat template, source truncation). Generation is batched with left
padding over length-sorted batches (little padding, so little wasted compute) and written back in input
order. Finished batches are appended to a hidden `.partial` file as they complete, so a crashed or cancelled
job resumes without recomputing them; the final file appears atomically once every item is done.

With `backend: server`, an OpenAI-compatible inference server generates instead (`ft_core.generation_server`),
into the same files, resumed the same way.

Sampling is seeded per batch from (seed, the batch's item ids): a rerun of the same job gives the same
outputs, but a resumed job may batch the remaining items differently, so their samples can differ from the
ones an uninterrupted run would have drawn (greedy and beam search are unaffected).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_core import runfolder
from ft_core.config import SYSTEMS, DataConfig, GenerateConfig, TrainConfig, parse_cli
from ft_core.data import Example, build_prompt, load_examples, truncate_source
from ft_core.decoding import Decoding, expand
from ft_core.errors import DataError, ModelError, RunFolderError, out_of_memory_hint, warnings_as_lines
from ft_core.models import resolve_device, resolve_placement
from ft_core.runfolder import output_path, parse_output_name

__all__ = [
    "SYSTEMS", "GenerateConfig", "Generated", "Job", "build_prompts", "generate", "generate_file",
    "generate_texts", "host_copy", "length_sorted_batches", "load_eval_examples", "load_for_generation",
    "output_path", "merge_adapter", "parse_output_name", "resolve_device", "resolve_job", "run_config",
]  # fmt: skip


# --------------------------------------------------------------------------------------------- setup
def run_config(run_dir: str | Path) -> TrainConfig:
    """The run's TrainConfig from config.json (fields this version does not know are ignored)."""
    return runfolder.load_train_config(run_dir)


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
    extra_adapters: dict[str, Path] = dataclasses.field(
        default_factory=dict
    )  # extra system -> adapter folder

    def adapters(self, systems: list[str]) -> dict[str, Path]:
        """The adapter of each system that has one, in generation order: finetuned (if asked), the extras."""
        own = {"finetuned": self.adapter} if "finetuned" in systems and self.adapter is not None else {}
        return {**own, **self.extra_adapters}


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
    adapter = (
        Path(cfg.adapter) if cfg.adapter else (runfolder.adapter_dir(cfg.run_dir) if cfg.run_dir else None)
    )
    if "finetuned" in cfg.systems and cfg.backend == "local":  # a server holds its own copy of the adapter
        where = cfg.run_dir or "the config"
        if adapter is None or not adapter.is_dir():
            raise RunFolderError(
                f"{where} has no adapter ({adapter or 'none given'}): train first, pass adapter=PATH, "
                "or generate the base system only with systems=base"
            )
        if not (adapter / runfolder.ADAPTER_CONFIG).is_file():
            raise RunFolderError(f"{adapter} is not a peft adapter folder: it has no adapter_config.json")
        state = runfolder.read_status(cfg.run_dir).state if cfg.run_dir else None
        if state not in (None, "finished"):
            warnings.warn(
                f"the run's state is '{state}': {adapter} is the best adapter so far, not a finished run's",
                stacklevel=2,
            )
    extra_adapters = {
        name: extra_system_adapter(name, folder, base_model)
        for name, folder in cfg.extra_system_folders().items()
    }
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
    return Job(
        base_model,
        task,
        adapter,
        data,
        eval_file,
        output_dir,
        expand(cfg.decodings, defaults),
        extra_adapters,
    )


def extra_system_adapter(name: str, folder: str, base_model: str | None) -> Path:
    """The adapter folder of an extra system given as a run folder (its adapter/) or an adapter folder;
    RunFolderError when there is none, or when the run was trained on another base model."""
    path = Path(folder)
    if (path / runfolder.ADAPTER_CONFIG).is_file():
        return path
    adapter = runfolder.adapter_dir(path)
    if not (adapter / runfolder.ADAPTER_CONFIG).is_file():
        raise RunFolderError(
            f"system {name}: {folder} is neither a run folder with an adapter/ nor a peft adapter folder "
            "(no adapter_config.json)"
        )
    if runfolder.config_path(path).is_file():
        other = runfolder.load_train_config(path).base_model
        if base_model is not None and other != base_model:
            raise RunFolderError(
                f"system {name}: {folder} was trained on {other}, not on this job's base model {base_model}"
            )
    return adapter


def load_eval_examples(location: str, data: DataConfig, limit: int | None = None) -> list[Example]:
    """The evaluation items; a file without the target column still works (no references, no reference
    metrics)."""
    return load_examples(location, data, limit=limit, require_target=False)


def load_for_generation(
    base_model: str, task: str, adapter: Path | None, precision: str, device: str, attn_implementation: str
) -> tuple[Any, Any]:
    """(model, tokenizer): the base model once, with the adapter attached when given; eval mode, on device.

    precision and device as in GenerateConfig ('auto' resolves with `ft_core.models.resolve_placement`)."""
    from ft_core.models import load_model, load_tokenizer, resolve_model_path

    placement = resolve_placement(precision, device)
    path = resolve_model_path(base_model)
    tokenizer = load_tokenizer(path, task)
    model = load_model(path, task, dtype=placement.dtype, attn_implementation=attn_implementation)
    model.to(placement.device)
    contiguous_output_embedding_input(model)
    if adapter is not None:
        model = _attach(model, adapter, base_model)
    return model.eval(), tokenizer


def contiguous_output_embedding_input(model: Any) -> None:
    """Give the output embedding (lm_head) a contiguous input, so that the first step of generation costs the
    same whether the weights are frozen or not.

    That step computes logits for the last position only (`hidden_states[:, -1:, :]`, a strided view). torch's
    matmul folds such a 3-D input into one matrix product only when a weight requires grad (aten's
    `should_fold`, LinearAlgebra.cpp); for frozen weights, which a merged or attached adapter leaves behind
    (peft freezes the base), it takes the batched path, which copies the whole vocab x hidden weight once per
    prompt of the batch: slower, and on a GPU a batch x weight-sized allocation at every batch. A contiguous
    input (a copy of batch x hidden values; a no-op at later steps) always folds."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None:
        return

    def contiguous(module: Any, args: tuple) -> tuple:
        return (args[0].contiguous(), *args[1:]) if args else args

    head.register_forward_pre_hook(contiguous)


def _attach(model: Any, adapter: Path, base_model: str) -> Any:
    """`model` with the peft adapter attached (in place), or ModelError when the adapter does not fit it."""
    from peft import PeftModel

    from ft_core.models import peft_wrapping

    try:
        with peft_wrapping():
            return PeftModel.from_pretrained(model, str(adapter))
    except (ValueError, KeyError, RuntimeError, OSError) as e:
        raise ModelError(
            f"the adapter {adapter} does not fit {base_model}: {str(e).splitlines()[0][:200]}"
        ) from None


def check_adapter(model: Any, adapter: Path, base_model: str) -> None:
    """Fail now when the adapter does not fit the model: attach it and take it off again (peft's `unload`: the
    model's weights and modules are as before)."""
    _attach(model, adapter, base_model).unload()


def merge_adapter(model: Any, adapter: Path, base_model: str = "") -> Any:
    """The fine-tuned system as a plain model: the adapter merged into `model`'s weights, in place, and
    peft's wrappers removed (`merge_and_unload`). It then costs exactly what the base costs per token: no
    fp32 side matmuls beside 16-bit weights, no per-layer wrapper. The base weights are gone afterwards
    (unmerging 16-bit weights would not give them back bit for bit), so generate every base output first."""
    return _attach(model, adapter, base_model).merge_and_unload().eval()


def host_copy(model: Any) -> dict[str, Any]:
    """Every weight and buffer of `model` copied to the host, for `load_state_dict` to put back exactly."""
    return {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}


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
    """Indices grouped into batches of similar length, longest first (an out-of-memory error shows at
    once)."""
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
        new_ids = new.tolist()  # one copy to the host per batch, not one per row
        elapsed = time.perf_counter() - started
        finished = []
        for row, index in enumerate(batch):
            ids = new_ids[row]
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
def _check_compatible(record: dict[str, Any], prompt: str, decoding: Decoding, path: Path) -> None:
    if (
        record.get("prompt") != prompt
        or record.get("max_new_tokens", decoding.max_new_tokens) != decoding.max_new_tokens
    ):
        raise RunFolderError(
            f"{path} was made with another prompt or max_new_tokens (item {record.get('item_id')}); "
            "set overwrite=true to regenerate it, or write to another output_dir"
        )


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
    generator: Any = None,
) -> Path:
    """Write (or finish, or keep) one outputs file; `model` generates as `system` already, or `generator`
    does (called as `generate_texts` is, without model and tokenizer: the server backend)."""
    path = output_path(output_dir, system, decoding.name, seed)
    partial = runfolder.partial_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prompt_of = {e.item_id: p for e, p in zip(examples, prompts)}
    if overwrite:
        path.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    if path.is_file():
        records = runfolder.read_jsonl(path).records
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
        # everything before a line cut by a crash is good
        for record in runfolder.read_jsonl(partial).records:
            if record.get("item_id") in prompt_of:
                _check_compatible(record, prompt_of[record["item_id"]], decoding, partial)
                done[record["item_id"]] = record
        runfolder.write_jsonl_atomic(partial, done.values())
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

    with partial.open("a", encoding="utf-8") as sink:

        def on_batch(finished: list[tuple[int, Generated]]) -> None:
            lines = [record(todo[i], g) for i, g in finished]
            runfolder.append_jsonl(sink, lines)
            for r in lines:
                done[r["item_id"]] = r
            produced[0] += len(lines)
            produced[1] += sum(r["new_tokens"] for r in lines)
            rate = produced[1] / max(time.perf_counter() - started, 1e-9)
            print(f"{path.name}: {len(done)}/{len(examples)} items, {rate:.0f} new tokens/s", flush=True)

        if todo and generator is not None:
            generator(
                [prompts[i] for i in todo],
                decoding,
                seed=seed,
                keys=[examples[i].item_id for i in todo],
                on_batch=on_batch,
            )
        elif todo:
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
    runfolder.write_jsonl_atomic(path, [done[e.item_id] for e in examples])
    partial.unlink(missing_ok=True)
    return path


def generate(cfg: GenerateConfig) -> list[Path]:
    """Run a generation job; returns the outputs files (existing complete ones are kept unless overwrite)."""
    job = resolve_job(cfg)
    examples = load_eval_examples(job.eval_file, job.data, limit=cfg.limit)
    ids = [e.item_id for e in examples]
    if len(set(ids)) != len(ids):
        raise DataError(f"item ids in {job.eval_file} are not unique; set id_column to a unique column")
    if not any(e.references for e in examples):
        warnings.warn(
            f"{job.eval_file} has no references: outputs are generated, reference-based metrics will be "
            "skipped",
            stacklevel=2,
        )
    if cfg.backend == "server":  # an inference server generates; only the tokenizer is loaded here
        from ft_core.generation_server import generate_through_server

        return generate_through_server(cfg, job, examples)
    resolve_device(cfg.device)  # a CUDA device without a GPU fails here, before the model loads
    adapters = job.adapters(cfg.systems)
    systems = [*cfg.systems, *job.extra_adapters]
    work = [
        (decoding, seed, system)
        for decoding in job.decodings
        for seed in (cfg.seeds if decoding.stochastic else cfg.seeds[:1])
        for system in systems
    ]
    # every base file first, on the plain model; then each adapter merged in once, for its system's files
    rank = {system: i for i, system in enumerate(["base", *adapters])}
    order = sorted(range(len(work)), key=lambda i: rank[work[i][2]])
    # the whole plan first, so a reader of the log (jobs.progress) knows how much is left across every file
    names = [runfolder.output_file_name(work[i][2], work[i][0].name, work[i][1]) for i in order]
    print(f"plan: {len(work)} outputs files of {len(examples)} items: {', '.join(names)}", flush=True)
    print("loading the model", flush=True)
    model, tokenizer = load_for_generation(
        job.base_model, job.task, None, cfg.precision, cfg.device, cfg.attn_implementation
    )
    for adapter in adapters.values():
        check_adapter(model, adapter, job.base_model)  # a misfit fails before any output is written
    prompts = build_prompts(tokenizer, job.data, examples, job.task)
    runfolder.outputs_dir(job.output_dir).mkdir(parents=True, exist_ok=True)
    runfolder.write_config(runfolder.outputs_dir(job.output_dir) / runfolder.GENERATE_CONFIG, cfg)
    paths: list[Path] = [Path()] * len(work)
    # merging overwrites the base weights: with several adapters, keep a host copy to put back between them
    base_weights = host_copy(model) if len(adapters) > 1 else None
    merged: str | None = None
    for i in order:
        decoding, seed, system = work[i]
        if system != "base" and merged != system:
            if merged is not None:
                model.load_state_dict(base_weights)
            what = "the fine-tuned adapter" if system == "finetuned" else f"the adapter of {system}"
            print(f"merging {what} into the model", flush=True)
            model, merged = merge_adapter(model, adapters[system], job.base_model), system
        paths[i] = generate_file(
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
    return paths


# --------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    cfg = parse_cli(GenerateConfig, argv, "generate")
    where = f"batch_size={cfg.batch_size}, max_new_tokens={cfg.max_new_tokens}"
    advice = "lower batch_size, max_new_tokens or num_beams"
    with warnings_as_lines(), out_of_memory_hint(where, advice):
        paths = generate(cfg)
    files = "1 outputs file" if len(paths) == 1 else f"{len(paths)} outputs files"
    print(f"wrote {files} under {paths[0].parent if paths else cfg.output_dir}")
    return 0
