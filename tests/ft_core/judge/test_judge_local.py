"""The local judge with a tiny random Llama (built from config, SmolLM2's real tokenizer): both orders per
pair, probabilities from the next token, batching that changes nothing, resume after a stop half-way
without judging a pair twice, sources cut and counted, and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.run_folders import write_run_folder

from ft_core import runfolder
from ft_core.judge import JudgeConfig, run_judge
from ft_core.judge.local import LocalJudge, label_token_ids
from ft_core.judge.pairs import ORDERS, order_winner, summarize

REPO = Path(__file__).resolve().parents[3]
N_ITEMS = 7


@pytest.fixture(scope="module")
def tiny_model(tiny_causal_dir, real_tokenizer):
    from ft_core import models

    tokenizer = models.load_tokenizer(str(tiny_causal_dir))
    model = models.load_model(str(tiny_causal_dir), "causal", dtype=torch.float32)
    return model, tokenizer


def local_config(run, tiny_causal_dir, **kw) -> JudgeConfig:
    values = {"run_dir": str(run), "model": str(tiny_causal_dir), "name": "tiny", "batch_size": 4, **kw}
    return JudgeConfig(**values)


def test_every_pair_is_judged_in_both_orders_with_probabilities(tmp_path, tiny_causal_dir, tiny_model):
    run = write_run_folder(tmp_path / "run", n_items=N_ITEMS, decodings=("greedy", "beam-n4"))
    cfg = local_config(run, tiny_causal_dir)
    summary = run_judge(cfg, LocalJudge(cfg, *tiny_model))
    verdicts = runfolder.read_verdicts(run, "tiny")
    assert len(verdicts) == 2 * N_ITEMS
    assert not verdicts.duplicated(["decoding", "seed", "item_id"]).any()
    for order in ORDERS:
        total = verdicts[f"{order}_p_a"] + verdicts[f"{order}_p_b"] + verdicts[f"{order}_p_tie"]
        assert total.to_numpy() == pytest.approx(1.0, abs=1e-5)
        assert ((verdicts[f"{order}_label_mass"] > 0) & (verdicts[f"{order}_label_mass"] <= 1)).all()
        best = verdicts[[f"{order}_p_a", f"{order}_p_b", f"{order}_p_tie"]].to_numpy().argmax(1)
        assert list(verdicts[f"{order}_label"]) == [("A", "B", "C")[k] for k in best]
    # the record's verdict and win rate, recomputed here from the raw labels (MT-bench: inconsistent = tie)
    points = []
    for _, r in verdicts.iterrows():
        ab = order_winner(r.ab_label, "ab", "base", "finetuned")
        ba = order_winner(r.ba_label, "ba", "base", "finetuned")
        assert r.consistent == (ab == ba)
        assert r.verdict == (ab if ab == ba else "tie")
        points.append({"finetuned": 1.0, "base": 0.0}.get(r.verdict, 0.5))
        share_ab = r.ab_p_b + r.ab_p_tie / 2
        share_ba = r.ba_p_a + r.ba_p_tie / 2
        assert r.p_b_better == pytest.approx((share_ab + share_ba) / 2)
    assert summary["win_rate_finetuned"] == pytest.approx(sum(points) / len(points))
    assert summary["judged"] == 2 * N_ITEMS
    assert runfolder.list_judges(run) == ["tiny"]
    assert runfolder.read_judge_config(run, "tiny")["model"] == str(tiny_causal_dir)


def test_batched_probabilities_equal_one_prompt_at_a_time(tmp_path, tiny_causal_dir, tiny_model):
    cfg = local_config(tmp_path, tiny_causal_dir)
    judge = LocalJudge(cfg, *tiny_model)
    texts = [judge.full_prompt(f"compare {'long ' * (3 * i)}texts {i}") for i in range(6)]
    batched = judge.label_probabilities(texts)
    alone = [judge.label_probabilities([t])[0] for t in texts]
    assert np.asarray(batched) == pytest.approx(np.asarray(alone), abs=1e-5)


def pair_prompts(judge) -> list[str]:
    """Both orders of pairs that share the instructions and differ in source and outputs, of uneven
    lengths."""
    from ft_core.judge.config import DEFAULT_PROMPT, DEFAULT_QUESTION, fill_template

    texts = []
    for i in range(5):
        source = f"Source {i}: " + "a study of graphs and proteins " * (2 + 3 * i)
        first, second = f"short answer {i}", "a longer answer " * (i + 1)
        texts.append(
            judge.full_prompt(fill_template(DEFAULT_PROMPT, DEFAULT_QUESTION, source, first, second))
        )
        texts.append(
            judge.full_prompt(fill_template(DEFAULT_PROMPT, DEFAULT_QUESTION, source, second, first))
        )
    return texts + [judge.full_prompt("a prompt that shares nothing with the others")]


def test_prefix_shared_batches_equal_one_prompt_at_a_time_to_1e5(tmp_path, tiny_causal_dir, tiny_model):
    from ft_core.judge.local import shared_prefixes

    cfg = local_config(tmp_path, tiny_causal_dir)
    judge = LocalJudge(cfg, *tiny_model)
    texts = pair_prompts(judge)
    ids = judge.tokenizer(texts, add_special_tokens=False)["input_ids"]
    stages = shared_prefixes(ids)
    # the stages rebuild every text, and the two orders of each pair share more than the common instructions
    rebuilt, ends_with = {}, {}
    for depth, stage in enumerate(stages):
        for row, node in enumerate(stage):
            before = rebuilt[(depth - 1, node.parent)] if depth else []
            rebuilt[(depth, row)] = before + node.tokens
            if node.text is not None:
                assert node.tokens  # the text's own last token is read in its last stage
                ends_with[node.text] = (depth, row)
    assert {i: rebuilt[key] for i, key in ends_with.items()} == dict(enumerate(ids))
    pair_nodes = {i: (d - 1, stages[d][row].parent) for i, (d, row) in ends_with.items()}
    assert all(pair_nodes[2 * k] == pair_nodes[2 * k + 1] for k in range(5))  # each pair under its own node
    assert len({pair_nodes[i] for i in range(10)}) == 5 and len(stages) >= 3
    shuffled = [texts[i] for i in np.random.default_rng(0).permutation(len(texts))]
    alone = [judge.label_probabilities([t])[0] for t in shuffled]
    batched = judge.label_probabilities(shuffled)
    assert np.asarray(batched) == pytest.approx(np.asarray(alone), abs=1e-5)
    plain = judge.last_logits_alone(judge.tokenizer(shuffled, add_special_tokens=False)["input_ids"])
    shared = judge.last_logits(judge.tokenizer(shuffled, add_special_tokens=False)["input_ids"])
    assert torch.allclose(plain, shared, atol=1e-4)


def test_label_tokens_are_distinct(real_tokenizer):
    ids = label_token_ids(real_tokenizer)
    assert len(set(ids)) == 3
    assert [real_tokenizer.decode([i]).strip() for i in ids] == ["A", "B", "C"]


class StopsAfter(LocalJudge):
    """A fault injected on purpose: the job is interrupted after `n` answers (as a Ctrl-C or a killed job)."""

    def __init__(self, n, *args):
        super().__init__(*args)
        self.n, self.answers = n, 0

    def judge(self, requests, on_verdict):
        self.seen = len(requests)

        def counting(request, verdict):
            if self.answers == self.n:
                raise KeyboardInterrupt
            self.answers += 1
            on_verdict(request, verdict)

        super().judge(requests, counting)


def test_a_job_stopped_half_way_resumes_without_judging_a_pair_twice(tmp_path, tiny_causal_dir, tiny_model):
    run = write_run_folder(tmp_path / "run", n_items=N_ITEMS)
    cfg = local_config(run, tiny_causal_dir, batch_size=2)
    with pytest.raises(KeyboardInterrupt):
        run_judge(cfg, StopsAfter(5, cfg, *tiny_model))
    first = [json.loads(line) for line in runfolder.verdicts_path(run, "tiny").read_text().splitlines()]
    assert 1 <= len(first) <= 2  # 5 answers make at most two complete pairs; the half pair is not written
    assert not runfolder.read_judge_summary(run, "tiny")  # no summary: the judge is not complete
    second = StopsAfter(-1, cfg, *tiny_model)
    summary = run_judge(cfg, second)
    assert second.seen == 2 * (N_ITEMS - len(first))  # only the pairs not judged yet were asked again
    records = [json.loads(line) for line in runfolder.verdicts_path(run, "tiny").read_text().splitlines()]
    assert records[: len(first)] == first
    assert sorted(r["item_id"] for r in records) == [f"item-{i:03d}" for i in range(N_ITEMS)]
    assert summary["pairs"] == N_ITEMS
    again = StopsAfter(-1, cfg, *tiny_model)
    run_judge(cfg, again)
    assert not hasattr(again, "seen")  # everything judged: the judge is not even asked


def test_a_line_cut_by_a_crash_is_dropped_before_appending(tmp_path, tiny_causal_dir, tiny_model):
    run = write_run_folder(tmp_path / "run", n_items=3)
    cfg = local_config(run, tiny_causal_dir)
    run_judge(cfg, LocalJudge(cfg, *tiny_model))
    path = runfolder.verdicts_path(run, "tiny")
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1][:25])  # a crash in the middle of the second record
    run_judge(cfg, LocalJudge(cfg, *tiny_model))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert json.dumps(records[0]) == json.dumps(json.loads(lines[0]))  # the whole record is kept as it was
    assert sorted(r["item_id"] for r in records) == ["item-000", "item-001", "item-002"]


def test_a_changed_prompt_refuses_to_resume_unless_overwrite(tmp_path, tiny_causal_dir, tiny_model):
    from ft_core.errors import RunFolderError

    run = write_run_folder(tmp_path / "run", n_items=2)
    cfg = local_config(run, tiny_causal_dir)
    run_judge(cfg, LocalJudge(cfg, *tiny_model))
    changed = local_config(run, tiny_causal_dir, question="Which is shorter?")
    with pytest.raises(RunFolderError, match="another question"):
        run_judge(changed, LocalJudge(changed, *tiny_model))
    fresh = local_config(run, tiny_causal_dir, question="Which is shorter?", overwrite=True)
    run_judge(fresh, LocalJudge(fresh, *tiny_model))
    assert runfolder.read_judge_config(run, "tiny")["question"] == "Which is shorter?"
    assert len(runfolder.read_verdicts(run, "tiny")) == 2


def test_long_sources_are_cut_to_the_judges_budget_and_counted(tmp_path, tiny_causal_dir, tiny_model):
    run = write_run_folder(tmp_path / "run", n_items=4)
    for path in runfolder.outputs_dir(run).glob("*.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for i, row in enumerate(rows):
            row["source"] = "word " * (200 if i % 2 else 5)
        runfolder.write_jsonl_atomic(path, rows)
    cfg = local_config(run, tiny_causal_dir, max_source_tokens=50)
    summary = run_judge(cfg, LocalJudge(cfg, *tiny_model))
    verdicts = runfolder.read_verdicts(run, "tiny").set_index("item_id")
    assert summary["source_cut_pairs"] == 2
    long_tokens = len(tiny_model[1]("word " * 200, add_special_tokens=False)["input_ids"])
    assert verdicts.loc["item-001", "source_tokens_cut"] == long_tokens - 50
    assert verdicts.loc["item-000", "source_tokens_cut"] == 0


def test_summarize_counts_inconsistent_pairs_as_ties():
    records = [
        {"verdict": "finetuned", "consistent": True},
        {"verdict": "tie", "consistent": False},
        {"verdict": "base", "consistent": True},
        {"verdict": "finetuned", "consistent": True},
        {"verdict": None, "consistent": None},
    ]
    s = summarize(records, "base", "finetuned")
    assert (s["wins_finetuned"], s["wins_base"], s["ties"], s["inconsistent"], s["unparsed"]) == (
        2,
        1,
        1,
        1,
        1,
    )
    assert s["win_rate_finetuned"] == pytest.approx((2 + 0.5) / 4)
    assert s["consistency_rate"] == pytest.approx(3 / 4)


@pytest.mark.slow
def test_the_command_line_judges_a_run_folder(tmp_path, tiny_causal_dir):
    run = write_run_folder(tmp_path / "run", n_items=3)
    config = tmp_path / "judge.yaml"
    config.write_text(f"run_dir: {run}\nmodel: {tiny_causal_dir}\nbatch_size: 8\n")
    done = subprocess.run(
        [sys.executable, "-m", "ft_core", "judge", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "judging 3 pairs in both orders (6 requests)" in done.stdout
    assert "win rate of finetuned" in done.stdout
    name = f"local-{tiny_causal_dir.name}"
    assert runfolder.list_judges(run) == [name]
    assert runfolder.read_judge_summary(run, name)["judged"] == 3
