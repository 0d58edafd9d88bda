"""The endpoint judge against a real HTTP server on localhost speaking chat completions
(helpers.chat_server): with and without logprobs, 429s, a 500, a slow answer, a malformed answer; an
unreachable endpoint, a missing key and a refused key end in one line with nothing written; the key never
reaches the run folder or the output."""

from __future__ import annotations

import json
import math
import socket

import pytest
from helpers.chat_server import Behaviour, ChatServer
from helpers.run_folders import write_run_folder

from ft_core import runfolder
from ft_core.__main__ import main as cli
from ft_core.judge import JudgeConfig, run_judge
from ft_core.judge.endpoint import label_probabilities, parse_label

N_ITEMS = 5


def endpoint_judge(run, base_url: str) -> list[str]:
    """The start of `python -m ft_core judge` against an endpoint (here the local chat server)."""
    return [
        "judge",
        "--run-dir",
        str(run),
        "--backend",
        "endpoint",
        "--base-url",
        base_url,
        "--model-name",
        "judge-7b",
    ]


@pytest.fixture
def run(tmp_path):
    return write_run_folder(tmp_path / "run", n_items=N_ITEMS)


def endpoint_config(run, server, **kw) -> JudgeConfig:
    values = dict(
        run_dir=str(run), backend="endpoint", base_url=server.base_url, model_name="judge-7b", max_retries=3
    )
    values.update(kw)
    return JudgeConfig(**values)


def verdict_lines(run, name="endpoint-judge-7b") -> list[dict]:
    return [json.loads(line) for line in runfolder.verdicts_path(run, name).read_text().splitlines()]


def test_logprobs_give_each_order_its_probabilities_and_the_fine_tune_wins_both_orders(run, capsys):
    with ChatServer(Behaviour(logprobs=True, probabilities=(0.6, 0.3, 0.1))) as server:
        summary = run_judge(endpoint_config(run, server))
        assert server.behaviour.requests == 2 * N_ITEMS  # both orders, once each
    out = capsys.readouterr().out
    assert "judging 5 pairs in both orders (10 requests)" in out and "prompt tokens" in out
    records = verdict_lines(run)
    assert len(records) == N_ITEMS
    for r in records:
        # ab shows base as A: the server prefers the finetuned output, so B; ba shows finetuned as A
        assert (r["ab_label"], r["ba_label"]) == ("B", "A")
        assert r["ab_winner"] == r["ba_winner"] == r["verdict"] == "finetuned" and r["consistent"] is True
        assert r["probs_from"] == "logprobs"
        assert (r["ab_p_b"], r["ab_p_a"], r["ab_p_tie"]) == pytest.approx((0.6, 0.3, 0.1))
        assert (r["ba_p_a"], r["ba_p_b"], r["ba_p_tie"]) == pytest.approx((0.6, 0.3, 0.1))
        assert r["p_b_better"] == pytest.approx(0.6 + 0.05)  # P(finetuned wins) + half the tie
    assert summary["win_rate_finetuned"] == 1.0 and summary["inconsistent"] == 0
    assert runfolder.read_judge_summary(run, "endpoint-judge-7b")["judged"] == N_ITEMS


def test_without_logprobs_the_strictly_parsed_label_is_the_verdict(run):
    with ChatServer(Behaviour(logprobs=False, prefer="base")) as server:
        run_judge(endpoint_config(run, server))
    for r in verdict_lines(run):
        assert r["verdict"] == "base" and r["probs_from"] is None and r["ab_p_a"] is None
        assert r["p_b_better"] == 0.0


def test_a_server_refusing_logprobs_is_asked_without_them(run):
    with ChatServer(Behaviour(refuse_logprobs=True)) as server:
        summary = run_judge(endpoint_config(run, server, concurrency=1))
        assert server.behaviour.requests == 2 * N_ITEMS + 1  # one refusal, then never asked again
    assert summary["judged"] == N_ITEMS and summary["win_rate_finetuned"] == 1.0
    assert all(r["probs_from"] is None for r in verdict_lines(run))


def test_429s_and_a_500_are_retried_and_every_pair_is_judged_once(run):
    with ChatServer(Behaviour(fail_first=[429, 429, 500, 429])) as server:
        summary = run_judge(endpoint_config(run, server, concurrency=2))
        assert server.behaviour.requests == 2 * N_ITEMS + 4
    records = verdict_lines(run)
    assert sorted(r["item_id"] for r in records) == [f"item-{i:03d}" for i in range(N_ITEMS)]
    assert summary["judged"] == N_ITEMS and summary["win_rate_finetuned"] == 1.0


def test_a_slow_answer_times_out_and_is_retried(run):
    with ChatServer(Behaviour(slow_first=1, slow_seconds=3.0)) as server:
        summary = run_judge(endpoint_config(run, server, timeout=0.5, concurrency=1))
        assert server.behaviour.requests == 2 * N_ITEMS + 1
    assert summary["judged"] == N_ITEMS


def test_a_malformed_answer_is_kept_unparsed_and_left_out_of_the_win_rate(run):
    with ChatServer(Behaviour(malformed_when="output for item 2\n")) as server:
        summary = run_judge(endpoint_config(run, server))
    bad = [r for r in verdict_lines(run) if r["item_id"] == "item-002"][0]
    assert bad["ab_label"] is None and bad["verdict"] is None and bad["consistent"] is None
    assert "cannot decide" in bad["ab_raw"]
    assert summary["unparsed"] == 1 and summary["judged"] == N_ITEMS - 1
    assert summary["win_rate_finetuned"] == 1.0


def test_requests_run_concurrently_within_the_bound(tmp_path):
    run = write_run_folder(tmp_path / "run", n_items=12)
    with ChatServer(Behaviour(delay=0.15)) as server:
        run_judge(endpoint_config(run, server, concurrency=4))
        assert 2 <= server.behaviour.max_in_flight <= 4


def test_an_unreachable_endpoint_is_one_line_and_nothing_is_written(run, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nobody listens there
    code = cli(
        [
            *endpoint_judge(run, f"http://127.0.0.1:{port}/v1"),
            "--max-retries",
            "1",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert err.startswith("error: the judge endpoint") and "cannot be reached" in err
    assert not runfolder.judges_dir(run).exists()


def test_a_server_that_keeps_failing_stops_the_job_in_one_line_and_writes_nothing(run, capsys):
    with ChatServer(Behaviour(always_fail=503)) as server:
        code = cli(
            [
                *endpoint_judge(run, server.base_url),
                "--max-retries",
                "1",
            ]
        )
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "HTTP 503" in err
    assert not runfolder.judges_dir(run).exists()


def test_a_missing_key_is_one_line_before_any_request(run, capsys, monkeypatch):
    monkeypatch.delenv("JUDGE_TEST_KEY", raising=False)
    with ChatServer() as server:
        code = cli(
            [
                *endpoint_judge(run, server.base_url),
                "--api-key-env",
                "JUDGE_TEST_KEY",
            ]
        )
        assert server.behaviour.requests == 0
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "JUDGE_TEST_KEY is not set" in err
    assert not runfolder.judges_dir(run).exists()


def test_the_key_is_sent_but_never_stored_or_printed(run, capsys, monkeypatch):
    secret = "sk-test-5f1c9e0d7a3b"
    monkeypatch.setenv("JUDGE_TEST_KEY", secret)
    with ChatServer(Behaviour(expected_key=secret)) as server:
        code = cli(
            [
                *endpoint_judge(run, server.base_url),
                "--api-key-env",
                "JUDGE_TEST_KEY",
            ]
        )
        assert set(server.behaviour.authorizations) == {f"Bearer {secret}"}
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert secret not in captured.out + captured.err
    for path in run.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert runfolder.read_judge_config(run, "endpoint-judge-7b")["api_key_env"] == "JUDGE_TEST_KEY"


def test_a_refused_key_is_one_line(run, capsys, monkeypatch):
    monkeypatch.setenv("JUDGE_TEST_KEY", "sk-wrong")
    with ChatServer(Behaviour(expected_key="sk-right")) as server:
        code = cli(
            [
                *endpoint_judge(run, server.base_url),
                "--api-key-env",
                "JUDGE_TEST_KEY",
            ]
        )
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "refused the key from JUDGE_TEST_KEY" in err
    assert "sk-wrong" not in err and not runfolder.judges_dir(run).exists()


def test_parse_label_is_strict():
    assert parse_label("[[A]]") == "A"
    assert parse_label("Assistant B is clearer. [[B]]") == "B"
    assert parse_label("[[A]] ... on reflection [[A]]") == "A"
    for text in ("A", "[A]", "[[D]]", "[[A]] or [[B]]", "", "[[ A ]]"):
        assert parse_label(text) is None, text


def test_label_probabilities_renormalise_the_label_tokens_top_logprobs():
    class Top:
        def __init__(self, token, p):
            self.token, self.logprob = token, math.log(p)

    class Token(Top):
        def __init__(self, token, p, tops):
            super().__init__(token, p)
            self.top_logprobs = [Top(t, q) for t, q in tops]

    class Logprobs:
        content = [
            Token("[[", 0.99, [("[[", 0.99)]),
            Token("A", 0.5, [("A", 0.5), (" B", 0.2), ("C", 0.1), ("x", 0.2)]),
            Token("]]", 0.99, [("]]", 0.99)]),
        ]

    assert label_probabilities(Logprobs()) == pytest.approx((0.5 / 0.8, 0.2 / 0.8, 0.1 / 0.8))
    assert label_probabilities(None) is None
