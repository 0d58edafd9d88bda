"""The data set's `language`: checked in the configs (file, command line), and followed by training's
validation metrics (`ft_core.train.generation_metrics`)."""

from __future__ import annotations

import pytest

from ft_core import metrics
from ft_core.config import DataConfig, ScoreConfig, TrainConfig, load_config, parse_cli
from ft_core.errors import ConfigError
from ft_core.languages import ISO_639_1, check_language
from ft_core.train import generation_metrics


def test_check_language():
    assert len(ISO_639_1) == 183
    assert (
        check_language("pt") == "pt" and check_language("pt-BR") == "pt" and check_language("zh_Hant") == "zh"
    )
    assert check_language(" EN ") == "en"
    for bad in ("xx", "por", "Portuguese", "", None, 3):
        with pytest.raises(ConfigError, match="ISO 639-1"):
            check_language(bad)


def test_configs_carry_the_language(tmp_path):
    assert DataConfig().language == "en" and TrainConfig().language == "en"
    assert TrainConfig(language="pt-BR").language == "pt"
    with pytest.raises(ConfigError, match="'xx' is not an ISO 639-1 code"):
        TrainConfig(language="xx")
    path = tmp_path / "train.yaml"
    path.write_text("language: es\n")
    assert load_config(TrainConfig, path).language == "es"
    assert parse_cli(TrainConfig, ["--language", "de"], "train").language == "de"
    assert ScoreConfig(run_dir="r").language is None  # None: the run's language
    assert (
        parse_cli(ScoreConfig, ["--run-dir", "r", "--language", "zh"], "score").metric_options()["language"]
        == "zh"
    )


def test_validation_metrics_follow_the_data_language(tiny_causal_dir, tiny_jsonl):
    import torch
    from accelerate import Accelerator

    from ft_core import models
    from ft_core.data import load_examples
    from ft_core.decoding import Decoding
    from ft_core.generate import build_prompts, generate_texts

    cfg = TrainConfig(
        base_model=str(tiny_causal_dir),
        train_file=str(tiny_jsonl / "train.jsonl"),
        validation_file=str(tiny_jsonl / "dev.jsonl"),
        max_target_length=8,
        language="pt",
    )
    tokenizer = models.load_tokenizer(str(tiny_causal_dir))
    model = models.load_model(str(tiny_causal_dir))
    # Random weights would stop at once or print newlines: give special and blank tokens a logit of 0 (their
    # embedding, tied to the output layer), so that one of ~49k random logits wins and text comes out.
    blank = [i for i in range(len(tokenizer)) if not tokenizer.decode([i]).strip()]
    with torch.no_grad():
        model.get_input_embeddings().weight[list(tokenizer.added_tokens_decoder) + blank] = 0.0
    examples = load_examples(cfg.validation_file, cfg)[:3]
    prompts = build_prompts(tokenizer, cfg, examples, "causal")
    decoding = Decoding(max_new_tokens=cfg.max_target_length)
    generated = generate_texts(model, tokenizer, prompts, decoding, batch_size=cfg.batch_size)
    outputs = [o.output for o in generated]
    assert all(o.strip() for o in outputs)
    # References made of the (greedy, deterministic) outputs and accented words: rouge_score cuts "ação" into
    # "a" + "o" fragments, the Portuguese tokenizer keeps the word, so the two languages give different ROUGE.
    for example, output in zip(examples, outputs):
        example.references = [f"{output} ação eleição concluída"]
    figures = generation_metrics(model, tokenizer, cfg, examples, Accelerator(cpu=True))
    references = [e.references for e in examples]
    portuguese = metrics.corpus(outputs, references, ["rouge"], language="pt")
    english = metrics.corpus(outputs, references, ["rouge"], language="en")
    assert figures["eval_rouge1"] == pytest.approx(portuguese.loc["rouge1", "value"])
    assert portuguese.loc["rouge1", "value"] != pytest.approx(english.loc["rouge1", "value"])
