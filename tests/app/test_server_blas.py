"""The app server runs numpy's BLAS on one thread (pages/server.py: one_blas_thread): its statistics already run
on several threads, and BLAS threads on top oversubscribed the cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import gc, json
import numpy
from threadpoolctl import threadpool_info
def blas():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
before = blas()
import streamlit_app  # what `streamlit run` does to build the server
gc.collect()  # the limit must outlive the object that set it
print(json.dumps({"before": before, "after": blas(), "app": type(streamlit_app.app).__name__}))
"""


def test_building_the_server_limits_numpy_blas_to_one_thread(tmp_path):
    env = {
        **os.environ,
        "FT_APP_DB": str(tmp_path / "app.duckdb"),
        "FT_RUNS_DIR": str(tmp_path / "runs"),
        "FT_ADMIN_PASSWORD": "blas-test-cobalt-heron-88",
        "OPENBLAS_NUM_THREADS": "2",  # what the server would use on this 2-core machine class without the limit
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
    assert seen["before"] and all(n == 2 for n in seen["before"]), seen
    assert seen["after"] and all(n == 1 for n in seen["after"]), seen
