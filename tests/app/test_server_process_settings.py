"""Process settings the app server makes when it is built (pages/server.py): numpy's BLAS on one thread
(one_blas_thread: the statistics already run on several threads, and BLAS threads on top oversubscribed the
cores), and pyarrow allocating with malloc (system_allocator_for_arrow: jemalloc's returned pages had to be
faulted in again)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import gc, json
import numpy, pyarrow
from threadpoolctl import threadpool_info
def blas():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
before = blas(), pyarrow.default_memory_pool().backend_name
import streamlit_app  # what `streamlit run` does to build the server
gc.collect()  # the limit must outlive the object that set it
after = blas(), pyarrow.default_memory_pool().backend_name
print(json.dumps({"before": before, "after": after, "app": type(streamlit_app.app).__name__}))
"""


def test_building_the_server_limits_blas_to_one_thread_and_gives_arrow_malloc(tmp_path):
    env = {
        **os.environ,
        "FT_APP_DB": str(tmp_path / "app.duckdb"),
        "FT_RUNS_DIR": str(tmp_path / "runs"),
        "FT_ADMIN_PASSWORD": "blas-test-cobalt-heron-88",
        # what the server would use on this 2-core machine class without the limit
        "OPENBLAS_NUM_THREADS": "2",
        # pyarrow's default on Linux, whatever the caller's environment
        "ARROW_DEFAULT_MEMORY_POOL": "jemalloc",
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["app"] == "App"
    (blas_before, pool_before), (blas_after, pool_after) = seen["before"], seen["after"]
    assert blas_before and all(n == 2 for n in blas_before), seen
    assert blas_after and all(n == 1 for n in blas_after), seen
    assert pool_before != "system" and pool_after == "system", seen
