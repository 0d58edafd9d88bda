"""Generation through an OpenAI-compatible server (`backend: server`, ft_core.generation_server) against a
real HTTP server on localhost that runs the tiny model and serves its LoRA adapter as a second model name
(helpers.completions_server): the same files as the local backend, resumption, retries, clear errors.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from helpers.completions_server import Behaviour, CompletionsServer, TinyModels
from test_generate import MAX_NEW, make_run, write_eval_file

from ft_core import runfolder
from ft_core.__main__ import main as cli
from ft_core.endpoints import EndpointError
from ft_core.errors import ConfigError
from ft_core.generate import GenerateConfig, generate

# The completions protocol has no no_repeat_ngram_size (the local tests' way to make the random tiny model
# write varied text); a repetition penalty, which it has (vLLM), does the same.
PENALTY = 3.0
BASE = "tiny-base"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_causal_dir):
    root = tmp_path_factory.mktemp("served")
    return make_run(root, tiny_causal_dir, write_eval_file(root), id_column="paper_id")


@pytest.fixture(scope="module")
def models(run_dir, tiny_causal_dir):
    """vLLM's `serve tiny-base --enable-lora --lora-modules finetuned=RUN/adapter`, in this process."""
    return TinyModels(tiny_causal_dir, BASE, {"finetuned": run_dir / "adapter"})


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def served(run_dir: Path, server: CompletionsServer | None, out: str, **overrides) -> GenerateConfig:
    settings = {
        "run_dir": str(run_dir),
        "output_dir": str(run_dir / out),
        "repetition_penalty": PENALTY,
        "backend": "server",
        "server_url": server.base_url if server else None,
        "server_models": {"base": BASE},
        "server_batch_size": 3,
        "server_concurrency": 2,
        "server_max_retries": 0,
        **overrides,
    }
    return GenerateConfig(**settings)


def test_server_outputs_equal_the_local_backends(run_dir, models):
    local = generate(
        GenerateConfig(
            run_dir=str(run_dir), output_dir=str(run_dir / "local"), batch_size=3, repetition_penalty=PENALTY
        )
    )
    with CompletionsServer(models) as server:
        paths = generate(served(run_dir, server, "server"))
        behaviour = server.behaviour
    assert [p.name for p in paths] == [p.name for p in local]
    assert {p.name for p in paths} == {"base__greedy-rp3__seed0.jsonl", "finetuned__greedy-rp3__seed0.jsonl"}
    for ours, theirs in zip(paths, local):
        records, expected = _read(ours), _read(theirs)
        assert [r.keys() for r in records] == [r.keys() for r in expected]  # same columns
        for record, other in zip(records, expected):
            for column in ("item_id", "system", "decoding", "seed", "prompt", "output", "references"):
                assert record[column] == other[column], (ours.name, column)
            assert record["hit_max_new_tokens"] == other["hit_max_new_tokens"]
            assert record["max_new_tokens"] == other["max_new_tokens"] == MAX_NEW
    base, finetuned = (_read(p) for p in paths)
    assert any(r["output"] for r in base) and [r["output"] for r in base] != [r["output"] for r in finetuned]
    # batched (3 prompts per request, 7 items: 3 + 3 + 1 per system), 2 requests in flight at most
    assert sorted(behaviour.prompts_per_request) == [1, 1, 3, 3, 3, 3]
    assert behaviour.max_in_flight <= 2
    recorded = runfolder.read_generate_config(run_dir / "server" / "outputs")
    assert recorded["backend"] == "server" and recorded["server_url"] == server.base_url
    assert recorded["server_models"] == [f"base={BASE}", "finetuned=finetuned"]


def test_resume_after_an_interruption_writes_nothing_twice(run_dir, models, capsys):
    """Fault injection: the server dies (HTTP 500 from then on) after 4 prompts; the job stops with the
    finished requests' items in the .partial file, and a second run asks only for the others."""
    behaviour = Behaviour(stop_after_prompts=4)
    with CompletionsServer(models, behaviour) as server:
        cfg = served(run_dir, server, "resume", systems=["base"], server_batch_size=2, server_concurrency=1)
        with pytest.raises(EndpointError, match="HTTP 500"):
            generate(cfg)
        path = runfolder.output_path(run_dir / "resume", "base", "greedy-rp3", 0)
        written = _read(runfolder.partial_path(path))
        assert [r["item_id"] for r in written] == ["p0", "p1", "p2", "p3"] and not path.exists()
        first_prompts = {prompt for _, prompt in behaviour.generated}
        behaviour.stop_after_prompts = None
        behaviour.generated.clear()
        capsys.readouterr()
        (again,) = generate(cfg)
    assert "resuming, 4/7 items done before" in capsys.readouterr().out
    records = _read(again)
    assert [r["item_id"] for r in records] == [f"p{i}" for i in range(7)]
    assert records[:4] == written  # kept as written, not asked again
    asked = [prompt for _, prompt in behaviour.generated]
    assert len(asked) == 3 and set(asked) == {r["prompt"] for r in records[4:]}
    assert all(count == 1 for count in behaviour.generated.values())
    assert not {r["prompt"] for r in written} & set(asked) and {r["prompt"] for r in written} <= first_prompts


def test_429_and_500_are_retried(run_dir, models):
    with CompletionsServer(models, Behaviour(fail_first=[429, 500])) as server:
        cfg = served(run_dir, server, "retried", systems=["base"], server_max_retries=2, server_concurrency=1)
        (path,) = generate(cfg)
        assert server.behaviour.requests == 3 + 2  # three batches, two of the attempts refused
    assert [r["item_id"] for r in _read(path)] == [f"p{i}" for i in range(7)]


def test_a_server_that_keeps_refusing_stops_in_one_line(run_dir, models, capsys):
    with CompletionsServer(models, Behaviour(fail_first=[429] * 10)) as server:
        cfg = served(run_dir, server, "refused", systems=["base"], server_max_retries=1)
        with pytest.raises(EndpointError, match="HTTP 429 after 1 retries"):
            generate(cfg)


def test_the_key_comes_from_the_named_environment_variable(run_dir, models, monkeypatch):
    monkeypatch.setenv("GEN_SERVER_TEST_KEY", "s3cret")
    with CompletionsServer(models, Behaviour(expected_key="s3cret")) as server:
        cfg = served(
            run_dir, server, "keyed", systems=["base"], limit=2, server_api_key_env="GEN_SERVER_TEST_KEY"
        )
        (path,) = generate(cfg)
        assert len(_read(path)) == 2
        assert "s3cret" not in (run_dir / "keyed" / "outputs" / runfolder.GENERATE_CONFIG).read_text()
        monkeypatch.setenv("GEN_SERVER_TEST_KEY", "wrong")
        with pytest.raises(EndpointError, match="refused the key from GEN_SERVER_TEST_KEY"):
            generate(served(run_dir, server, "keyed-wrong", server_api_key_env="GEN_SERVER_TEST_KEY"))
    assert not (run_dir / "keyed-wrong").exists()


def _cli(run_dir: Path, url: str, out: str, *more: str) -> list[str]:
    return [
        "generate",
        "--run-dir",
        str(run_dir),
        "--output-dir",
        str(run_dir / out),
        "--backend",
        "server",
        "--server-url",
        url,
        "--server-max-retries",
        "0",
        "--repetition-penalty",
        str(PENALTY),
        *more,
    ]


def test_unknown_model_bad_url_and_unreachable_server_are_one_line_before_anything_is_written(
    run_dir, models, capsys
):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nobody listens there
    with CompletionsServer(models) as server:
        cases = {
            "unknown": (
                _cli(run_dir, server.base_url, "unknown", "--server-models", f"base={BASE}"),
                f"does not serve the model 'finetuned' (system finetuned); it serves: {BASE}, my-lora",
            ),
            "no-v1": (_cli(run_dir, server.base_url[: -len("/v1")], "no-v1"), "(does the URL end in /v1?)"),
            "unreachable": (_cli(run_dir, f"http://127.0.0.1:{port}/v1", "unreachable"), "cannot be reached"),
        }
        for out, (argv, message) in cases.items():
            if out == "unknown":  # the adapter is served under another name than the system's
                models.adapters = {"my-lora": models.adapters.pop("finetuned")}
            try:
                code = cli(argv)
            finally:
                if out == "unknown":
                    models.adapters = {"finetuned": models.adapters.pop("my-lora")}
            err = capsys.readouterr().err.strip()
            assert code == 1 and len(err.splitlines()) == 1 and message in err, (out, err)
            assert err.startswith("error: the generation server"), err
            assert not (run_dir / out).exists()


def test_settings_the_protocol_lacks_and_bad_server_settings_are_config_errors(
    run_dir, models, tmp_path, tiny_causal_dir
):
    with CompletionsServer(models) as server:
        with pytest.raises(ConfigError, match="beam search and no_repeat_ngram_size"):
            generate(served(run_dir, server, "beam", decodings=["beam:num_beams=2"]))
        with pytest.raises(ConfigError, match="beam search and no_repeat_ngram_size"):
            generate(served(run_dir, server, "nr", no_repeat_ngram_size=2))
    assert not (run_dir / "beam").exists() and not (run_dir / "nr").exists()
    # the adapter lives on the server: a run folder without one still generates both systems there
    bare = make_run(tmp_path, tiny_causal_dir, write_eval_file(tmp_path), with_adapter=False)
    with pytest.raises(EndpointError, match="cannot be reached"):
        generate(served(bare, None, "bare", server_url="http://127.0.0.1:9/v1"))
    assert not (bare / "bare").exists()
    with pytest.raises(ConfigError, match="backend=server needs server_url"):
        GenerateConfig(run_dir=str(run_dir), backend="server")
    with pytest.raises(ConfigError, match="must start with http"):
        GenerateConfig(run_dir=str(run_dir), backend="server", server_url="localhost:8000/v1")
    with pytest.raises(ConfigError, match="server_models names dpo, not a system of this job"):
        GenerateConfig(
            run_dir=str(run_dir), backend="server", server_url="http://h/v1", server_models=["dpo=x"]
        )
    with pytest.raises(ConfigError, match="NAME of an environment variable"):
        GenerateConfig(run_dir=str(run_dir), server_api_key_env="sk-123")


def test_two_servers_one_per_system(run_dir, tiny_causal_dir):
    """The fine-tuned model on a server of its own (server_urls): here the base model under the name
    'finetuned', so both files must hold the same texts."""
    with (
        CompletionsServer(TinyModels(tiny_causal_dir, BASE)) as one,
        CompletionsServer(TinyModels(tiny_causal_dir, "finetuned")) as two,
    ):
        cfg = served(run_dir, one, "two", server_urls={"finetuned": two.base_url}, limit=3)
        base, finetuned = generate(cfg)
        assert one.behaviour.requests == two.behaviour.requests == 1
    assert [r["output"] for r in _read(base)] == [r["output"] for r in _read(finetuned)]
    recorded = runfolder.read_generate_config(run_dir / "two" / "outputs")
    assert recorded["server_urls"] == [f"finetuned={two.base_url}"]


def test_a_sampled_output_depends_on_its_prompt_and_seed_not_on_its_batch(run_dir, models):
    """Sampling sends the job's seed with every request, so batching and concurrency do not change a
    prompt's sample (the random tiny model's samples differ between items, unlike its greedy outputs: this
    also checks that every answer lands on its own item)."""
    sample = {"systems": ["base"], "decodings": ["sample:temperature=1.0,top_p=1.0"], "seeds": [0, 1]}
    with CompletionsServer(models) as server:
        batched = generate(served(run_dir, server, "batched", **sample, server_batch_size=3))
        single = generate(
            served(run_dir, server, "single", **sample, server_batch_size=1, server_concurrency=1)
        )
    assert [p.name for p in batched] == [
        "base__sample-t1-p1-rp3__seed0.jsonl",
        "base__sample-t1-p1-rp3__seed1.jsonl",
    ]
    outputs = {(p.parent.parent.name, p.name): [r["output"] for r in _read(p)] for p in [*batched, *single]}
    seed0, seed1 = (outputs[("batched", p.name)] for p in batched)
    assert len(set(seed0)) > 1 and seed0 != seed1
    assert [outputs[("single", p.name)] for p in single] == [seed0, seed1]
