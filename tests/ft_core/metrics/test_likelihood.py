"""ft_core.metrics.likelihood: the batched, context-sharing path equals a plain per-example computation and
the model's own loss, on tiny models built from config (Llama: rotary positions; GPT-2: learned absolute
ones)."""

from __future__ import annotations

import numpy as np
import pytest

from ft_core import metrics
from ft_core.metrics import likelihood

SOURCES = [
    "The cat sat on the mat all day because the sun was warm.",
    "Stocks fell sharply on Monday after the central bank raised interest rates again.",
    "A new method improves protein structure prediction with graph networks.",
]
# Several outputs per source, of different lengths (what a run folder holds: systems, seeds, decodings).
PAIRS = [
    (0, "The cat sat on the mat."),
    (0, "A cat liked the warm sun and sat on a mat for the whole day, it seems."),
    (1, "Stocks fell."),
    (2, "Graph networks predict protein structures better."),
    (1, "The bank raised rates and stocks fell sharply on Monday."),
    (0, "Dogs bark."),
]


@pytest.fixture(scope="module")
def tiny_gpt2_dir(tmp_path_factory, real_tokenizer):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    config = GPT2Config(vocab_size=len(real_tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=512)
    GPT2LMHeadModel(config).save_pretrained(folder)
    real_tokenizer.save_pretrained(folder)
    return folder


def _examples(loaded, chat=False):
    sources = [SOURCES[s] for s, _ in PAIRS]
    outputs = [o for _, o in PAIRS]
    return likelihood.encode(loaded.tokenizer, sources, outputs, "Text: {source}\nSummary: ", 512, chat)


@pytest.mark.parametrize("which", ["llama", "gpt2"])
def test_batched_equals_one_example_at_a_time(which, tiny_causal_dir, tiny_gpt2_dir):
    loaded = likelihood.load_scorer_model(str(tiny_causal_dir if which == "llama" else tiny_gpt2_dir), "cpu")
    examples = _examples(loaded)
    plain = likelihood.token_logprobs_plain(loaded, examples)
    # a large budget (one batch, contexts shared) and a tiny one (groups split over several batches)
    for batch_tokens in (16384, 120):
        batched = likelihood.token_logprobs(loaded, examples, batch_tokens)
        for a, b in zip(plain, batched):
            assert len(a) == len(b) > 0
            assert np.allclose(a, b, atol=1e-4)


def test_equals_the_models_own_loss(tiny_causal_dir):
    import torch

    loaded = likelihood.load_scorer_model(str(tiny_causal_dir), "cpu")
    examples = _examples(loaded)
    batched = likelihood.token_logprobs(loaded, examples)
    for example, logprobs in zip(examples, batched):
        ids = torch.tensor([example.context + example.continuation])
        labels = ids.clone()
        labels[0, : len(example.context)] = -100  # only the output's tokens count
        with torch.inference_mode():
            loss = loaded.model(input_ids=ids, labels=labels).loss  # mean negative log-likelihood
        assert float(np.mean(logprobs)) == pytest.approx(-float(loss), abs=1e-4)


def test_context_and_continuation_are_split_as_the_model_would_write():
    from ft_core.models import embedded_tokenizer

    tokenizer = embedded_tokenizer()
    (example,) = likelihood.encode(
        tokenizer, ["Long source text."], ["A summary."], "{source}\nSummary: ", 512
    )
    # the space that ends the prompt moves to the output: "Summary:" + " A summary."
    assert tokenizer.decode(example.context).endswith("Long source text.\nSummary:")
    assert tokenizer.decode(example.continuation) == " A summary."
    (cut,) = likelihood.encode(tokenizer, ["one two three four five six"], ["x"], "{source}", 3)
    assert tokenizer.decode(cut.context) == "one two three"  # the source is cut to 3 tokens
    (chat,) = likelihood.encode(
        tokenizer, ["Source."], ["Sum."], "Summarize: {source}", 512, chat_template=True
    )
    assert "<|im_start|>user\nSummarize: Source." in tokenizer.decode(chat.context)
    assert tokenizer.decode(chat.context).endswith("<|im_start|>assistant\n")
    assert tokenizer.decode(chat.continuation) == "Sum."


def test_score_column_pmi_and_missing_values(tiny_causal_dir):
    sources = [SOURCES[s] for s, _ in PAIRS] + [SOURCES[0], None]
    outputs = [o for _, o in PAIRS] + ["", "An output without a source."]
    options = {"likelihood_model": str(tiny_causal_dir), "device": "cpu", "likelihood_prompt": "{source}\n"}
    with pytest.warns(UserWarning, match="1 of 8 predictions are empty"):
        df = metrics.score(outputs, None, ["likelihood"], sources=sources, **options)
    loaded = likelihood.load_scorer_model(str(tiny_causal_dir), "cpu")
    encoded = likelihood.encode(loaded.tokenizer, sources[:6], outputs[:6], "{source}\n", 1024)
    expected = [np.mean(x) for x in likelihood.token_logprobs_plain(loaded, encoded)]
    assert df["likelihood"].iloc[:6].to_numpy() == pytest.approx(expected, abs=1e-4)
    assert np.isnan(df.loc[6, "likelihood"]) and np.isnan(df.loc[7, "likelihood"])  # empty output, no source
    pmi = metrics.score(
        outputs[:6], None, ["likelihood"], sources=sources[:6], likelihood_pmi=True, **options
    )
    unconditional = likelihood.encode(loaded.tokenizer, [""] * 6, outputs[:6], "{source}\n", 0)
    minus = [np.mean(x) for x in likelihood.token_logprobs_plain(loaded, unconditional)]
    assert pmi["likelihood"].to_numpy() == pytest.approx(np.array(expected) - np.array(minus), abs=1e-4)
    signature = df.attrs["signatures"]["likelihood"]
    assert f"model:{tiny_causal_dir}" in signature and "mean-logprob" in signature and "lang:en" in signature
    assert "mean-pmi" in pmi.attrs["signatures"]["likelihood"]


def test_a_prompt_without_the_source_is_refused(tiny_causal_dir):
    from ft_core.errors import ConfigError

    with pytest.raises(ConfigError, match="must contain \\{source\\}"):
        metrics.score(
            ["x"],
            None,
            ["likelihood"],
            sources=["y"],
            likelihood_model=str(tiny_causal_dir),
            likelihood_prompt="hi",
        )


def test_batch_composition_does_not_move_a_score_in_fp32(tiny_causal_dir):
    # each example scored alone and in one batch with the others (other contexts, other paddings)
    loaded = likelihood.load_scorer_model(str(tiny_causal_dir), "cpu", "fp32")
    examples = _examples(loaded)
    together = likelihood.token_logprobs(loaded, examples)
    for example, batched in zip(examples, together):
        (alone,) = likelihood.token_logprobs(loaded, [example])
        assert np.abs(np.mean(alone) - np.mean(batched)) < 1e-5


def test_a_bf16_model_scores_near_fp32_with_fp32_logprobs(tiny_causal_dir):
    # the model in bf16 on the CPU (as on a GPU): the output layer and log-softmax still run in fp32
    import torch

    fp32 = likelihood.load_scorer_model(str(tiny_causal_dir), "cpu", "fp32")
    bf16 = likelihood.load_scorer_model(str(tiny_causal_dir), "cpu", "bf16")
    assert bf16.model.dtype == torch.bfloat16 and bf16.precision == "bf16"
    examples = _examples(fp32)
    reference = [np.mean(x) for x in likelihood.token_logprobs(fp32, examples)]
    scores = [np.mean(x) for x in likelihood.token_logprobs(bf16, examples)]
    assert all(x.dtype == np.float64 for x in likelihood.token_logprobs(bf16, examples[:1]))
    assert np.allclose(scores, reference, atol=0.05)
    # the fp32 head is what computes them: the bf16 head's logits, cast after, differ from them
    hidden = torch.randn(3, bf16.model.config.hidden_size, dtype=torch.bfloat16)
    exact = torch.log_softmax(bf16.model.get_output_embeddings().weight.float() @ hidden.float().T, dim=0).T
    assert torch.allclose(bf16.logprobs(hidden), exact, atol=1e-6)


def test_the_signature_names_dtype_and_device_and_auto_is_fp32(tiny_causal_dir):
    options = {"likelihood_model": str(tiny_causal_dir), "device": "cpu"}
    signature = metrics.signatures(["likelihood"], None, **options)["likelihood"]
    assert "dtype:fp32" in signature and "device:cpu" in signature and "logprobs:fp32" in signature
    assert f"model:{tiny_causal_dir}" in signature
    bf16 = metrics.signatures(["likelihood"], None, **options, precision="bf16")["likelihood"]
    assert "dtype:bf16" in bf16
    assert likelihood.load_scorer_model(str(tiny_causal_dir), "cpu", "auto").precision == "fp32"
