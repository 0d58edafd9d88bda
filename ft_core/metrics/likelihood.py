"""How likely a language model finds each output given its source: a reference-free faithfulness score.

In the style of BARTScore's faithfulness direction (Yuan et al., 2021, "BARTScore: Evaluating Generated Text
as Text Generation": the log-probability of the output given the source, averaged over the output's tokens),
on a causal LM instead of BART: the prompt `likelihood_prompt` with the source in it (`{source}`, cut to
`max_source_tokens` tokens) is the context, the output the continuation, and the score the mean
log-probability of the output's tokens (nats per token; higher = better supported). With `pmi=True` the score
is the mean pointwise mutual information instead: log p(output | source) - log p(output | the prompt without
the source), token by token, so that what the source adds is measured rather than how fluent or common the
output is (the idea of van der Poel et al., 2022, "Mutual Information Alleviates Hallucinations in Abstractive
Summarization"). Which of the two is the default, and why, is in the README's SummEval table.

Speed: outputs are batched by length, and the outputs that share a source (the systems, seeds and decodings of
one item: in a run folder, or the 16 systems per article of SummEval) share one forward pass over it:

1. the distinct contexts of a batch, left-padded, go through the model once, which returns their key/value
   cache and the logits of their last position only (`logits_to_keep=1`: no vocabulary-sized matrix per
   context token);
2. that cache is repeated for every output of each context, and the outputs, right-padded, go through the
   model
   once, with their positions continuing their own context's.

`token_logprobs_plain` does the same one example at a time, on the whole sequence; the tests pin the batched
path to it. The device and precision come from `ft_core.models.resolve_placement` (the GPU when there is one,
else the CPU in float32), the model from `ft_core.models` (the embedded SmolLM2-135M by default: nothing is
downloaded).

Precision: the model runs in its precision (bf16 on a GPU), but the output layer and the log-softmax run in
float32 on the last hidden states (`_logprobs`): a bf16 `lm_head` rounds every logit to 8 bits of mantissa
(errors of ~0.03 nats at logits ~10) before any cast, so scores moved between CPU and GPU and with the batch's
padding. That alone is not enough: the bf16 hidden states still move a mean log-probability by ~0.04 nats
between fp32 and bf16, and by as much with the batch's padding (SmolLM2-135M on the CPU, docs/metrics.md),
so `precision="auto"` runs the scorer in fp32 on any device; bf16/fp16 stay available when asked for. The
signature names the model's dtype and device.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_PROMPT = "{source}\n\nSummary:"
LIKELIHOOD_COLUMNS = ("likelihood",)


@dataclass(frozen=True)
class Encoded:
    """The token ids of one example: its context (prompt with the source) and its continuation (the
    output)."""

    context: tuple[int, ...]
    continuation: tuple[int, ...]


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    device: str
    name: str
    precision: str = "fp32"  # of the model's weights; log-probabilities are always computed in fp32
    head_fp32: Any = None  # the output layer's weight (and bias) in fp32, made once on first use

    def logprobs(self, hidden: Any) -> Any:
        """Log-softmax over the vocabulary of the output layer applied to `hidden` (..., d), in float32."""
        import torch

        if self.head_fp32 is None:
            head = self.model.get_output_embeddings()
            bias = getattr(head, "bias", None)
            self.head_fp32 = (head.weight.float(), None if bias is None else bias.float())
        weight, bias = self.head_fp32
        logits = torch.nn.functional.linear(hidden.float(), weight, bias)
        cap = getattr(self.model.config, "final_logit_softcapping", None)
        if cap:  # Gemma 2 and 3 squash their logits; the model's own head would too
            logits = torch.tanh(logits / cap) * cap
        return torch.log_softmax(logits, dim=-1)


def scorer_placement(device: str | None = None, precision: str = "auto") -> Any:
    """Where the scorer runs: the device `resolve_placement` picks, in fp32 unless another precision is asked
    for (see the module docstring)."""
    from ft_core import models

    return models.resolve_placement("fp32" if precision == "auto" else precision, device or "auto")


@functools.lru_cache(maxsize=2)
def load_scorer_model(name: str, device: str = "auto", precision: str = "auto") -> LoadedModel:
    """The causal LM and its tokenizer, on the device and in the precision `scorer_placement` picks."""
    from ft_core import models

    placement = scorer_placement(device, precision)
    path = models.resolve_model_path(name)
    tokenizer = models.load_tokenizer(path)
    model = models.load_model(path, "causal", dtype=placement.dtype).to(placement.device).eval()
    return LoadedModel(model, tokenizer, placement.device, name, placement.precision)


# --------------------------------------------------------------------------------------------- encoding
def _ids(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def _starts_with_bos(tokenizer: Any) -> bool:
    bos = tokenizer.bos_token_id
    return bos is not None and tokenizer("a")["input_ids"][:1] == [bos]


def _context_parts(tokenizer: Any, prompt: str, chat_template: bool) -> tuple[str, str]:
    """The text before and after `{source}` of the context, chat template applied when asked."""
    if "{source}" not in prompt:
        from ft_core.errors import ConfigError

        raise ConfigError(f"likelihood_prompt must contain {{source}}; got {prompt!r}")
    if chat_template:
        marker = "\x00SOURCE\x00"
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt.replace("{source}", marker)}],
            tokenize=False,
            add_generation_prompt=True,
        )
        before, after = text.split(marker)
        return before, after
    before, after = prompt.split("{source}", 1)
    return before, after


def encode(
    tokenizer: Any,
    sources: Sequence[str],
    outputs: Sequence[str],
    prompt: str = DEFAULT_PROMPT,
    max_source_tokens: int = 512,
    chat_template: bool = False,
) -> list[Encoded]:
    """Context and continuation ids of each example. The source is cut to `max_source_tokens` tokens; spaces
    that end the context move to the continuation (`"Summary: "` + `"A"` is scored as `"Summary:"` +
    `" A"`, as the model would have written it); a tokenizer that starts texts with BOS gets it first, and an
    empty context is the BOS (else EOS) token alone."""
    before, after = _context_parts(tokenizer, prompt, chat_template)
    stripped = after.rstrip()
    lead = after[len(stripped) :] if not chat_template else ""
    bos = [tokenizer.bos_token_id] if _starts_with_bos(tokenizer) and not chat_template else []
    head, tail = bos + _ids(tokenizer, before), _ids(tokenizer, stripped if not chat_template else after)
    source_ids = {s: _ids(tokenizer, s)[:max_source_tokens] for s in set(sources)}
    # An empty context (a prompt of just "{source}" and no source) still needs a token to predict from.
    start = [tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id]
    encoded = []
    for source, output in zip(sources, outputs):
        text = output.strip()
        continuation = _ids(tokenizer, (lead or ("" if chat_template else " ")) + text) if text else []
        context = head + source_ids[source] + tail
        encoded.append(Encoded(tuple(context or start), tuple(continuation)))
    return encoded


# --------------------------------------------------------------------------------------------- scoring
def token_logprobs_plain(loaded: LoadedModel, examples: Sequence[Encoded]) -> list[np.ndarray]:
    """Log-probability of each continuation token, one example at a time on the whole sequence (the reference
    the batched path is pinned to, and the loop `bench/likelihood_speed.py` compares it with)."""
    import torch

    out = []
    with torch.inference_mode():
        for example in examples:
            if not example.continuation:
                out.append(np.zeros(0))
                continue
            ids = torch.tensor([example.context + example.continuation], device=loaded.device)
            hidden = loaded.model.base_model(input_ids=ids).last_hidden_state
            logprobs = loaded.logprobs(hidden[0, len(example.context) - 1 : -1])
            target = torch.tensor(example.continuation, device=loaded.device)
            out.append(logprobs.gather(-1, target[:, None])[:, 0].cpu().numpy().astype(np.float64))
    return out


def _batches(groups: list[tuple[tuple[int, ...], list[int]]], examples, batch_tokens: int):
    """Groups (context, example indices) cut into batches of at most `batch_tokens` padded positions
    (contexts, and outputs with their repeated contexts) and `batch_tokens // 4` output positions (each of
    which gets a vocabulary-sized row of logits). A group too large for one batch is split over several."""
    batch: list = []
    widest_context = longest = rows = 0
    for context, members in groups:
        members = sorted(members, key=lambda i: -len(examples[i].continuation))
        for i in members:
            size = len(examples[i].continuation)
            new_batch = not batch or batch[-1][0] is not context
            width, length = max(widest_context, len(context)), max(longest, size)
            contexts = len(batch) + (1 if new_batch else 0)
            cost = contexts * width + (rows + 1) * (width + length)
            if batch and (cost > batch_tokens or (rows + 1) * length > batch_tokens // 4):
                yield batch
                batch, width, length, rows, new_batch = [], len(context), size, 0, True
            if new_batch:
                batch.append((context, []))
            batch[-1][1].append(i)
            widest_context, longest, rows = width, length, rows + 1
    if batch:
        yield batch


def _cache_keyword(model: Any) -> str:
    """transformers 5 renamed the `past_key_values` argument and output to `cache` (the old name is
    deprecated)."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _score_batch(loaded: LoadedModel, batch, examples, pad_id: int) -> dict[int, np.ndarray]:
    import torch

    device = loaded.device
    contexts = [context for context, _ in batch]
    width = max(len(c) for c in contexts)
    # 1. the contexts, left-padded: their cache, and the logits of their last token only
    ids = torch.full((len(contexts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(contexts), width), dtype=torch.long)
    for row, context in enumerate(contexts):
        ids[row, width - len(context) :] = torch.tensor(context)
        mask[row, width - len(context) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    # the transformer without its output layer: `loaded.logprobs` applies that in fp32
    body = loaded.model.base_model
    first = body(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        use_cache=True,
    )
    # 2. each context's cache once per output, and the outputs, right-padded, after it
    owners = [(row, i) for row, (_, members) in enumerate(batch) for i in members]
    keyword = _cache_keyword(body)
    cache = getattr(first, keyword)
    cache.reorder_cache(torch.tensor([row for row, _ in owners], device=device))
    length = max(len(examples[i].continuation) for _, i in owners)
    cont = torch.full((len(owners), length), pad_id, dtype=torch.long)
    cont_mask = torch.zeros((len(owners), length), dtype=torch.long)
    for k, (_, i) in enumerate(owners):
        tokens = examples[i].continuation
        cont[k, : len(tokens)] = torch.tensor(tokens)
        cont_mask[k, : len(tokens)] = 1
    context_lengths = mask.sum(-1)[[row for row, _ in owners]]
    cont_positions = context_lengths[:, None] + torch.arange(length)[None, :]
    full_mask = torch.cat([mask[[row for row, _ in owners]], cont_mask], dim=-1)
    second = body(
        input_ids=cont.to(device),
        attention_mask=full_mask.to(device),
        position_ids=cont_positions.to(device),
        use_cache=True,
        **{keyword: cache},
    )
    first_hidden = first.last_hidden_state[:, -1][[row for row, _ in owners]]
    hidden = torch.cat([first_hidden[:, None], second.last_hidden_state[:, :-1]], dim=1)
    logprobs = loaded.logprobs(hidden).gather(-1, cont.to(device)[..., None])[..., 0].cpu()
    return {
        i: logprobs[k, : len(examples[i].continuation)].numpy().astype(np.float64)
        for k, (_, i) in enumerate(owners)
    }


def token_logprobs(
    loaded: LoadedModel, examples: Sequence[Encoded], batch_tokens: int = 16384
) -> list[np.ndarray]:
    """Log-probability of each continuation token, batched (see the module docstring). Batches hold at most
    `batch_tokens` padded positions (contexts + outputs with their repeated contexts)."""
    import torch

    by_context: dict[tuple[int, ...], list[int]] = {}
    for i, example in enumerate(examples):
        if example.continuation:
            by_context.setdefault(example.context, []).append(i)
    # Longest contexts first: an out-of-memory error shows at once; similar lengths share a batch.
    groups = sorted(by_context.items(), key=lambda g: -len(g[0]))
    pad_id = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0
    out: dict[int, np.ndarray] = {}
    with torch.inference_mode():
        for batch in _batches(groups, examples, batch_tokens):
            out.update(_score_batch(loaded, batch, examples, pad_id))
    return [out.get(i, np.zeros(0)) for i in range(len(examples))]


def likelihood_scores(
    sources: Sequence[str],
    outputs: Sequence[str],
    model: str = "smollm2-135m",
    prompt: str = DEFAULT_PROMPT,
    max_source_tokens: int = 512,
    chat_template: bool = False,
    pmi: bool = False,
    batch_tokens: int = 16384,
    device: str | None = None,
    precision: str = "auto",
) -> dict[str, np.ndarray]:
    """Per-example `likelihood`: mean log-probability per output token given the source (or mean PMI, see the
    module docstring); NaN for an empty output or a missing source."""
    loaded = load_scorer_model(model, device or "auto", precision)
    keep = [
        i for i, (s, o) in enumerate(zip(sources, outputs)) if isinstance(s, str) and s.strip() and o.strip()
    ]
    values = np.full(len(outputs), np.nan)
    if not keep:
        return {"likelihood": values}
    kept_sources, kept_outputs = [sources[i] for i in keep], [outputs[i] for i in keep]
    encoded = encode(loaded.tokenizer, kept_sources, kept_outputs, prompt, max_source_tokens, chat_template)
    conditional = token_logprobs(loaded, encoded, batch_tokens)
    if pmi:
        empty = encode(loaded.tokenizer, [""] * len(keep), kept_outputs, prompt, 0, chat_template)
        unconditional = token_logprobs(loaded, empty, batch_tokens)
        conditional = [c - u for c, u in zip(conditional, unconditional)]
    values[keep] = [float(np.mean(c)) if len(c) else np.nan for c in conditional]
    return {"likelihood": values}


def likelihood_signature(
    model: str,
    prompt: str,
    max_source_tokens: int,
    chat_template: bool,
    pmi: bool,
    language: str,
    device: str | None = None,
    precision: str = "auto",
) -> str:
    """What the score depends on, including where it ran: the model's dtype and device as `scorer_placement`
    resolves them (log-probabilities are fp32 whatever the model's dtype)."""
    import transformers

    placement = scorer_placement(device, precision)
    kind = "mean-pmi" if pmi else "mean-logprob"
    return (
        f"likelihood:{kind}|model:{model}|prompt:{prompt!r}|chat_template:{'yes' if chat_template else 'no'}|"
        f"max_source_tokens:{max_source_tokens}|unit:nats-per-token|lang:{language}|"
        f"dtype:{placement.precision}|logprobs:fp32|device:{placement.device}|"
        f"transformers:{transformers.__version__}"
    )
