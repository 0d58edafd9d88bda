"""ft_core.scoring on run folders whose outputs are written as plain files with a known difference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ft_core import metrics
from ft_core.errors import ConfigError, DataError, RunFolderError
from ft_core.scoring import ScoreConfig, format_table, score


def _scitldr(shared_data: Path, n: int) -> list[dict]:
    lines = (shared_data / "scitldr-a" / "dev.jsonl").read_text().splitlines()[:n]
    return [json.loads(line) for line in lines]


def write_outputs(
    run: Path, system: str, decoding: str, seed: int, outputs: list[str], refs: list[list[str]]
):
    (run / "outputs").mkdir(parents=True, exist_ok=True)
    path = run / "outputs" / f"{system}__{decoding}__seed{seed}.jsonl"
    with path.open("w") as f:
        for i, (output, references) in enumerate(zip(outputs, refs)):
            record = {
                "item_id": f"it{i}",
                "system": system,
                "decoding": decoding,
                "seed": seed,
                "prompt": "p",
                "source": "s",
                "output": output,
                "references": references,
                "new_tokens": len(output.split()),
                "hit_max_new_tokens": i % 5 == 0,
                "time_s": 0.01,
            }
            f.write(json.dumps(record) + "\n")
    return path


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory, shared_data):
    """base = first abstract sentence (weak); finetuned = another author's TLDR for 3 items in 4 (strong)."""
    rows = _scitldr(shared_data, 40)
    refs = [[r["target"][0]] for r in rows]
    base = [r["source"][0] for r in rows]
    finetuned = [r["target"][-1] if i % 4 else r["source"][0] for i, r in enumerate(rows)]
    run = tmp_path_factory.mktemp("scored")
    write_outputs(run, "base", "greedy", 0, base, refs)
    write_outputs(run, "finetuned", "greedy", 0, finetuned, refs)
    comparison = score(ScoreConfig(run_dir=str(run), n_boot=500))
    return run, comparison.set_index("metric"), base, finetuned, refs


def test_files_follow_the_contract(scored_run):
    run, _, base, _, _ = scored_run
    per_example = pd.read_parquet(run / "scores" / "per_example.parquet")
    assert len(per_example) == 2 * len(base)
    assert list(per_example.columns[:4]) == ["item_id", "system", "decoding", "seed"]
    for column in (
        "sentence_bleu",
        "sentence_sacrebleu",
        "rouge1",
        "rouge2",
        "rougeL",
        "rougeLsum",
        "bertscore_f1",
        "output_tokens",
    ):
        assert column in per_example.columns
    rows = json.loads((run / "scores" / "comparison.json").read_text())
    csv = pd.read_csv(run / "scores" / "comparison.csv")
    assert [r["metric"] for r in rows] == csv["metric"].tolist()
    # per item, BLEU is a sentence score and never carries the corpus figure's name
    assert "bleu" not in per_example.columns and "sacrebleu" not in per_example.columns
    assert list(csv.columns) == list(rows[0])  # the same columns, in the same order, in both files
    for row in rows:  # each metric's comparison: both figures, their difference, its interval and test
        assert row["delta"] == pytest.approx(row["finetuned"] - row["base"]), row
        assert row["ci_low"] <= row["ci_high"] and 0 < row["p_value"] <= 1, row
        assert 0 <= row["share_finetuned_higher"] <= 1 and row["n"] == len(base), row
        assert isinstance(row["signature"], str), row


def test_comparison_matches_independent_corpus_figures(scored_run):
    from rouge_score import rouge_scorer

    _, table, base, finetuned, refs = scored_run
    for column in ("bleu", "sacrebleu"):
        assert table.loc[column, "base"] == pytest.approx(
            metrics.corpus(base, refs, ["bleu"]).loc[column, "value"]
        )
        assert table.loc[column, "finetuned"] == pytest.approx(
            metrics.corpus(finetuned, refs, ["bleu"]).loc[column, "value"]
        )
        # the sentence_ rows are the means of the per-example sentence scores: another statistic, another name
        sentence = metrics.score(finetuned, refs, ["bleu"])[column]
        assert table.loc[f"sentence_{column}", "finetuned"] == pytest.approx(sentence.mean())
        assert table.loc[f"sentence_{column}", "finetuned"] != pytest.approx(table.loc[column, "finetuned"])
        assert "level:sentence" in table.loc[f"sentence_{column}", "signature"]
        assert "level:sentence" not in table.loc[column, "signature"]
    assert "eff:yes" in table.loc["sentence_sacrebleu", "signature"]
    assert "eff:no" in table.loc["sacrebleu", "signature"]
    printed = format_table(table.reset_index())
    assert "bleu, sacrebleu, chrf, chrfpp: corpus figures" in printed
    assert "sentence_bleu, sentence_sacrebleu, sentence_chrf, sentence_chrfpp: means over items" in printed
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    base_r1 = np.array([scorer.score(r[0], p)["rouge1"].fmeasure for p, r in zip(base, refs)])
    finetuned_r1 = np.array([scorer.score(r[0], p)["rouge1"].fmeasure for p, r in zip(finetuned, refs)])
    row = table.loc["rouge1"]
    assert row["base"] == pytest.approx(base_r1.mean()) and row["finetuned"] == pytest.approx(
        finetuned_r1.mean()
    )
    assert row["delta"] == pytest.approx(finetuned_r1.mean() - base_r1.mean())
    assert row["ci_low"] < row["delta"] < row["ci_high"] and row["ci_low"] > 0  # a real improvement
    assert row["p_value"] < 0.01
    assert row["share_finetuned_higher"] == pytest.approx(np.mean(finetuned_r1 > base_r1))
    assert row["share_tied"] == pytest.approx(0.25)  # every 4th item is the same output
    assert row["n"] == 40
    assert "stemmer:yes" in row["signature"] and "tok:13a" in table.loc["sacrebleu", "signature"]
    assert table.loc["hit_max_new_tokens", "base"] == pytest.approx(8 / 40)
    assert "rouge1" in format_table(table.reset_index())
    # the interval's label says the confidence it was computed with
    assert "95% CI" in format_table(table.reset_index()).splitlines()[0]
    assert "90% CI" in format_table(table.reset_index(), 0.9).splitlines()[0]


def test_seeds_give_mean_and_sd_per_system(tmp_path, shared_data):
    rows = _scitldr(shared_data, 12)
    refs = [[r["target"][0]] for r in rows]
    rng = np.random.default_rng(0)
    per_seed, per_seed_bleu = {}, []
    for seed in range(3):
        # each seed "samples" a different sentence of the abstract
        outputs = [r["source"][int(rng.integers(len(r["source"])))] for r in rows]
        write_outputs(tmp_path, "base", "sample-t0.7-p0.9", seed, outputs, refs)
        write_outputs(tmp_path, "finetuned", "sample-t0.7-p0.9", seed, [r["target"][-1] for r in rows], refs)
        per_seed[seed] = metrics.score(outputs, refs, ["rouge"])["rougeL"].mean()
        per_seed_bleu.append(metrics.corpus(outputs, refs, ["bleu"]).loc["sacrebleu", "value"])
    table = score(ScoreConfig(run_dir=str(tmp_path), metrics=["rouge", "bleu"], n_boot=200)).set_index(
        "metric"
    )
    # Corpus BLEU with seeds: the mean of each seed's corpus figure, and the delta is between those means.
    bleu = table.loc["sacrebleu"]
    assert bleu["base"] == pytest.approx(np.mean(per_seed_bleu))
    assert bleu["delta"] == pytest.approx(bleu["finetuned"] - bleu["base"])
    assert bleu["base_sd"] == pytest.approx(np.std(per_seed_bleu, ddof=1))
    assert bleu["ci_low"] <= bleu["delta"] <= bleu["ci_high"]
    row = table.loc["rougeL"]
    values = list(per_seed.values())
    assert row["base_n_seeds"] == 3 and row["finetuned_n_seeds"] == 3
    assert row["base_sd"] == pytest.approx(np.std(values, ddof=1))
    assert row["base"] == pytest.approx(np.mean(values))
    assert row["base_mean_sd"] == f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"
    assert row["finetuned_sd"] == pytest.approx(0.0)
    corpus = pd.read_csv(tmp_path / "scores" / "corpus.csv")
    assert len(corpus[(corpus.metric == "rougeL") & (corpus.system == "base")]) == 3


def test_outputs_without_references_get_length_metrics_only(tmp_path):
    write_outputs(tmp_path, "base", "greedy", 0, ["a b c", "d e"], [[], []])
    write_outputs(tmp_path, "finetuned", "greedy", 0, ["a b", "d"], [[], []])
    with pytest.warns(UserWarning, match="no references: skipping bleu, rouge"):
        table = score(ScoreConfig(run_dir=str(tmp_path), metrics=["bleu", "rouge"], n_boot=100))
    assert table["metric"].tolist() == ["output_words", "output_tokens", "hit_max_new_tokens"]
    assert table.set_index("metric").loc["output_words", "delta"] == pytest.approx(-1.0)


def test_bad_input_messages(tmp_path, capsys):
    from ft_core.__main__ import main

    with pytest.raises(RunFolderError, match="run `.venv/bin/python -m ft_core generate` first"):
        score(ScoreConfig(run_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="give run_dir"):
        ScoreConfig()
    write_outputs(tmp_path, "base", "greedy", 0, ["a b"], [["a b"]])
    with pytest.raises(ConfigError, match="unknown metric.*meteor"):
        score(ScoreConfig(run_dir=str(tmp_path), metrics=["meteor"]))
    assert main(["score", "--run-dir", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    # One system only: corpus figures, no comparison, and a warning that says why.
    with pytest.warns(UserWarning, match="no finetuned outputs"):
        table = score(ScoreConfig(run_dir=str(tmp_path), metrics=["rouge"], n_boot=100)).set_index("metric")
    assert table.loc["rouge1", "base"] == 1.0 and np.isnan(table.loc["rouge1", "delta"])
    # Systems with different items: only the shared ones are compared, with a warning.
    write_outputs(tmp_path, "finetuned", "greedy", 0, ["a b", "c"], [["a b"], ["c"]])
    with pytest.warns(UserWarning, match="different items .*comparing the 1 items both have"):
        table = score(ScoreConfig(run_dir=str(tmp_path), metrics=["rouge"], n_boot=100)).set_index("metric")
    assert table.loc["rouge1", "n"] == 1
    # An empty outputs file.
    (tmp_path / "outputs" / "finetuned__greedy__seed0.jsonl").write_text("")
    with pytest.raises(DataError, match="holds no outputs"):
        score(ScoreConfig(run_dir=str(tmp_path), metrics=["rouge"]))


def _write_run_config(run: Path, **fields) -> None:
    (run / "config.json").write_text(json.dumps(fields))


def test_language_comes_from_the_run_and_faithfulness_is_compared(tmp_path, shared_data, tiny_causal_dir):
    # Portuguese outputs: the run's config.json says language pt, so ROUGE keeps "ação" whole and stems it.
    sources = [
        f"A votação do orçamento de {1000 + i} milhões terminou na terça-feira, disse Ana Souza."
        for i in range(12)
    ]
    refs = [[f"O orçamento de {1000 + i} milhões foi aprovado."] for i in range(12)]
    base = [f"A votação terminou com {2000 + i} votos, disse João Lima." for i in range(12)]  # unsupported
    finetuned = [f"A votação do orçamento de {1000 + i} milhões terminou." for i in range(12)]  # supported
    write_outputs(tmp_path, "base", "greedy", 0, base, refs)
    write_outputs(tmp_path, "finetuned", "greedy", 0, finetuned, refs)
    for system in ("base", "finetuned"):  # put the real sources in
        path = tmp_path / "outputs" / f"{system}__greedy__seed0.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps({**r, "source": s}) + "\n" for r, s in zip(rows, sources)))
    _write_run_config(tmp_path, language="pt", base_model=str(tiny_causal_dir), task="causal")
    metric_names = ["rouge", "bleu", "chrf", "novelty", "unsupported", "likelihood"]
    table = score(ScoreConfig(run_dir=str(tmp_path), metrics=metric_names, n_boot=200)).set_index("metric")
    per_example = pd.read_parquet(tmp_path / "scores" / "per_example.parquet")
    signatures = json.loads((tmp_path / "scores" / "signatures.json").read_text())
    saved = json.loads((tmp_path / "scores" / "score_config.json").read_text())
    assert saved["language"] == "pt" and saved["likelihood_model"] == str(tiny_causal_dir)
    for column in (
        "rouge1",
        "sentence_sacrebleu",
        "sentence_chrf",
        "sentence_chrfpp",
        "novel_1gram",
        "novel_4gram",
        "unsupported_numbers",
        "unsupported_entities",
        "likelihood",
    ):
        assert column in per_example.columns and "lang:pt" in signatures[column], column
    assert f"model:{tiny_causal_dir}" in signatures["likelihood"]  # the run's base model by default
    expected = metrics.score(finetuned, refs, ["rouge"], language="pt")
    ours = per_example[per_example.system == "finetuned"].sort_values(
        "item_id", key=lambda s: s.str[2:].astype(int)
    )
    assert ours["rouge1"].to_numpy() == pytest.approx(expected["rouge1"].to_numpy())
    # chrF's corpus figure and its paired bootstrap come from summed statistics, as BLEU's
    assert table.loc["chrf", "finetuned"] == pytest.approx(
        metrics.corpus(finetuned, refs, ["chrf"]).loc["chrf", "value"]
    )
    assert table.loc["chrf", "ci_low"] <= table.loc["chrf", "delta"] <= table.loc["chrf", "ci_high"]
    # base invents a number and a name in every item; fine-tuned none: an interval below zero for the delta
    assert (
        table.loc["unsupported_numbers", "base"] == 1.0
        and table.loc["unsupported_numbers", "finetuned"] == 0.0
    )
    assert table.loc["unsupported_entities", "base"] == 2.0  # João, Lima
    assert table.loc["unsupported_entities", "ci_high"] < 0 and table.loc["novel_2gram", "ci_high"] < 0
    assert not table.loc["novel_1gram", "higher_is_better"] and table.loc["rouge1", "higher_is_better"]
    assert "(lower=better)" in format_table(table.reset_index())
    # an explicit language wins over the run's
    english = score(ScoreConfig(run_dir=str(tmp_path), metrics=["rouge"], language="en", n_boot=100))
    assert "lang:en" in english.set_index("metric").loc["rouge1", "signature"]


def test_bad_language_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not an ISO 639-1 code"):
        ScoreConfig(run_dir=str(tmp_path), language="portuguese")


def test_outputs_written_elsewhere_take_the_language_of_the_run_that_generated_them(tmp_path):
    run, elsewhere = tmp_path / "run", tmp_path / "sweep-output"
    run.mkdir()
    _write_run_config(run, language="de")
    write_outputs(elsewhere, "base", "greedy", 0, ["Die Häuser wurden gebaut."], [["Das Haus wurde gebaut."]])
    write_outputs(
        elsewhere, "finetuned", "greedy", 0, ["Das Haus wurde gebaut."], [["Das Haus wurde gebaut."]]
    )
    (elsewhere / "outputs" / "generate_config.json").write_text(json.dumps({"run_dir": str(run)}))
    table = score(ScoreConfig(run_dir=str(elsewhere), metrics=["rouge"], n_boot=100)).set_index("metric")
    assert "lang:de" in table.loc["rouge1", "signature"]
    assert table.loc["rouge1", "base"] == pytest.approx(
        metrics.score(
            ["Die Häuser wurden gebaut."], [["Das Haus wurde gebaut."]], ["rouge"], language="de"
        ).loc[0, "rouge1"]
    )


def test_out_of_memory_in_score_is_one_line_with_the_batch_settings_fault_injection(
    monkeypatch, tmp_path, tiny_causal_dir, capsys
):
    # Fault injection: the likelihood model's forward raises torch's out-of-memory error, as a GPU would.
    import torch
    from transformers.models.llama import modeling_llama

    from ft_core.__main__ import main

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    write_outputs(tmp_path, "base", "greedy", 0, ["a b c", "d e"], [["a b"], ["d"]])
    write_outputs(tmp_path, "finetuned", "greedy", 0, ["a b", "d"], [["a b"], ["d"]])
    _write_run_config(tmp_path, base_model=str(tiny_causal_dir), task="causal")
    monkeypatch.setattr(modeling_llama.LlamaModel, "forward", out_of_memory)
    args = [
        "score",
        "--run-dir",
        str(tmp_path),
        "--metrics",
        "likelihood",
        "--likelihood-batch-tokens",
        "512",
    ]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()  # the model-loading progress bar, then the error
    assert err[-1].startswith(
        "error: out of GPU memory at likelihood_batch_tokens=512, bertscore_batch_size=64:"
    )
    assert "lower likelihood_batch_tokens" in err[-1]
    assert not any(line.startswith("Traceback") for line in err)
    assert not (tmp_path / "scores" / "per_example.parquet").exists()  # nothing half-written


def test_the_likelihood_batch_is_a_config_field_that_reaches_the_scorer(tmp_path):
    cfg = ScoreConfig(run_dir=str(tmp_path), likelihood_batch_tokens=2048)
    assert cfg.metric_options()["likelihood_batch_tokens"] == 2048
    with pytest.raises(ConfigError, match="likelihood_batch_tokens"):
        ScoreConfig(run_dir=str(tmp_path), likelihood_batch_tokens=0)
