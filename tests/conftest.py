"""Shared fixtures: tiny random models built from config with a real tokenizer (the embedded SmolLM2 one), and
the store (`con`) on DuckDB, or on both DuckDB and PostgreSQL for the folders in STORE_ON_BOTH_BACKENDS."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.streamlit_server import CHROMIUM, CHROMIUM_ARGS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TESTS = Path(__file__).resolve().parent
# The test folders whose `con` (and `store_target`) runs every test twice, on DuckDB and on PostgreSQL (test
# ids end in [duckdb] / [postgresql]); a folder joins once its module's SQL is portable. PostgreSQL comes from
# helpers.postgres_server: FT_TEST_POSTGRES, else a throw-away cluster, else skipped (FT_REQUIRE_POSTGRES=1:
# failed).
STORE_ON_BOTH_BACKENDS = ("annotations/store",)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session, shared by every test that drives a browser: Playwright's
    sync API runs an event loop for as long as it is open, so a second `sync_playwright()` in the same session
    fails ("Sync API inside the asyncio loop") whichever test opened the first."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: run `bash .ci/setup --with-browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared data folder {SHARED_DATA} is missing (it lies beside the checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_tokenizer():
    from ft_core.models import embedded_tokenizer

    return embedded_tokenizer()


def build_tiny_causal(folder: Path, tokenizer) -> Path:
    """A 2-layer Llama with SmolLM2's tokenizer and chat template: real text in, random weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    # Embeddings of std 0.3 (not 0.02): with frozen tied embeddings, tiny ones cap the logits so low that LoRA
    # could never drive the loss near zero, and the sanity-overfit test would test the init, not the training.
    torch.nn.init.normal_(model.model.embed_tokens.weight, std=0.3)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_seq2seq(folder: Path, tokenizer) -> Path:
    """A 2-layer T5 with the same tokenizer (no chat template for seq2seq)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_ff=64,
        d_kv=16,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        decoder_start_token_id=pad,
        pad_token_id=pad,
        eos_token_id=tokenizer.eos_token_id,
    )
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_causal_dir(tmp_path_factory, real_tokenizer) -> Path:
    return build_tiny_causal(tmp_path_factory.mktemp("tiny-llama"), real_tokenizer)


@pytest.fixture(scope="session")
def tiny_seq2seq_dir(tmp_path_factory, real_tokenizer) -> Path:
    return build_tiny_seq2seq(tmp_path_factory.mktemp("tiny-t5"), real_tokenizer)


@pytest.fixture(scope="session")
def tiny_jsonl(tmp_path_factory) -> Path:
    """24 short source/target pairs in SciTLDR's shape (source: list of sentences, target: list)."""
    import json

    folder = tmp_path_factory.mktemp("tiny-data")
    topics = ["graphs", "proteins", "robots", "language", "vision", "markets", "climate", "music"]
    rows = []
    for i in range(24):
        t = topics[i % len(topics)]
        rows.append(
            {
                "paper_id": f"p{i}",
                "source": [
                    f"We study {t} with method number {i}.",
                    f"Our results on {t} improve over prior work.",
                ],
                "target": [f"A new method for {t}.", f"Method {i} helps {t}."],
            }
        )
    for name, part in (("train.jsonl", rows[:16]), ("dev.jsonl", rows[16:20]), ("test.jsonl", rows[20:])):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in part))
    return folder


def _on_both_backends(path: Path) -> bool:
    return any(path.is_relative_to(TESTS / folder) for folder in STORE_ON_BOTH_BACKENDS)


def pytest_generate_tests(metafunc):
    if "store_backend" in metafunc.fixturenames and _on_both_backends(Path(metafunc.definition.path)):
        metafunc.parametrize("store_backend", ["duckdb", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def postgres_server():
    """The session's PostgreSQL server (helpers.postgres_server), started on first use."""
    from helpers.postgres_server import PostgresUnavailable, postgres_server

    try:
        with postgres_server() as server:
            yield server
    except PostgresUnavailable as e:
        if os.environ.get("FT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"FT_REQUIRE_POSTGRES=1 but {e}", pytrace=False)
        pytest.skip(str(e))


@pytest.fixture
def store_backend(request) -> str:
    """ "duckdb", or "postgresql" where the folder runs on both (STORE_ON_BOTH_BACKENDS)."""
    return getattr(request, "param", "duckdb")


@pytest.fixture
def store_target(store_backend, tmp_path, request):
    """Where a fresh, empty store may be made: a DuckDB path in tmp_path, or a new PostgreSQL database."""
    if store_backend == "duckdb":
        yield tmp_path / "store.duckdb"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.new_database(migrated=False)
    yield url
    server.drop(url)


@pytest.fixture
def con(store_backend, tmp_path, request):
    """A fresh store for the tests of annotations/ and jobs/: a DuckDB file in tmp_path, or (the
    [postgresql] tests) a PostgreSQL database copied from a migrated template."""
    from annotations import store

    if store_backend == "duckdb":
        connection = store.connect(tmp_path / "store.duckdb")
        yield connection
        connection.close()
        return
    server = request.getfixturevalue("postgres_server")
    url = server.new_database()
    connection = store.connect(url)
    yield connection
    connection.close()
    server.drop(url)
