"""A second process on a DuckDB file that an app holds (docs/deploy.md, sections 2 and 9): it stops with one
line that names the holder and says that several app processes need the PostgreSQL store."""

from __future__ import annotations

import subprocess
import sys

import pytest

from annotations import store
from annotations.errors import StoreError

HOLD = (
    "import sys; from annotations import store; con = store.connect(sys.argv[1]); print('held', flush=True); "
    "sys.stdin.readline()"
)


def test_a_second_process_on_a_held_duckdb_file_is_told_to_use_postgresql(tmp_path):
    path = tmp_path / "app.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError) as refused:
            store.connect(path)
    finally:
        holder.kill()
        holder.wait()
    message = str(refused.value)
    assert "\n" not in message
    assert f"PID {holder.pid}" in message
    assert "Several app processes need a PostgreSQL store (FT_APP_DB=postgresql://" in message
