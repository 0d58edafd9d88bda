"""annotations.store: migrations, the contract's tables, the single-writer lock, serialized writes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import duckdb
import pytest
from helpers.at_once import at_once, raised

from annotations import store
from annotations.errors import StoreError
from annotations.store import schema

JOBS_COLUMNS = {
    "job_id": "VARCHAR",
    "kind": "VARCHAR",
    "run_dir": "VARCHAR",
    "command": "VARCHAR",
    "status": "VARCHAR",
    "pid": "INTEGER",
    "created_at": "TIMESTAMP",
    "started_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "error": "VARCHAR",
    "log_path": "VARCHAR",
    "needs_gpu": "BOOLEAN",
}


def test_migrations_apply_once_and_are_recorded(store_target):
    path = store_target
    con = store.connect(path)
    numbers = [n for n, _, _ in store.migrations()]
    assert store.schema_version(con) == max(numbers)
    assert store.migrate(con) == []  # nothing pending the second time
    con.close()
    con = store.connect(path)  # reopening applies nothing again
    rows = con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == numbers
    con.close()


def test_schema_has_the_contract_tables(con):
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    expected = {
        "campaigns",
        "systems",
        "items",
        "outputs",
        "metrics",
        "users",
        "invitations",
        "assignments",
        "judgments",
        "judgment_scores",
        "jobs",
    }
    assert expected <= tables
    assert schema.table_columns(con)["jobs"] == JOBS_COLUMNS


def test_default_path_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FT_APP_DB", str(tmp_path / "x.duckdb"))
    assert store.default_path() == tmp_path / "x.duckdb"
    monkeypatch.delenv("FT_APP_DB")
    assert store.default_path() == store.PROJECT_ROOT / "data" / "app.duckdb"
    url = "postgresql://ft@db.example.org:5432/study"
    monkeypatch.setenv("FT_APP_DB", url)
    assert store.default_target() == url  # a URL, not a Path (which would fold its //)
    assert store.default_path() == store.PROJECT_ROOT / "data" / "app.duckdb"  # files beside the store: data/


def test_a_second_process_gets_a_clear_error(tmp_path):
    path = tmp_path / "locked.duckdb"
    con = store.connect(path)
    code = (
        f"from annotations import store\ntry:\n    store.connect({str(path)!r})\nexcept Exception as e:\n    "
        "print(type(e).__name__, e)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=store.PROJECT_ROOT, timeout=60
    )
    assert out.stdout.startswith("StoreError"), out.stdout + out.stderr
    assert "another process" in out.stdout
    assert f"PID {os.getpid()}" in out.stdout  # who holds it
    assert out.stdout.strip().count("\n") == 0  # one line
    con.close()


def test_failed_write_rolls_back(con):
    def work(cur):
        cur.execute("INSERT INTO jobs (job_id, status) VALUES ('j1', 'queued')")
        raise ValueError("boom")

    with pytest.raises(ValueError):
        store.write(con, work)
    assert con.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


def test_concurrent_read_modify_write_loses_nothing(con):
    """40 threads x 25 increments of one counter through store.write: serialized, so the sum is exact."""
    store.write(con, lambda cur: cur.execute("INSERT INTO jobs (job_id, pid) VALUES ('counter', 0)"))

    def bump(cur):
        (value,) = cur.execute("SELECT pid FROM jobs WHERE job_id = 'counter'").fetchone()
        cur.execute("UPDATE jobs SET pid = ? WHERE job_id = 'counter'", [value + 1])

    assert raised(at_once(lambda _: [store.write(con, bump) for _ in range(25)], range(40))) == []
    assert con.execute("SELECT pid FROM jobs WHERE job_id = 'counter'").fetchone()[0] == 1000


def test_write_retries_a_transaction_conflict(con, store_backend):
    """A cursor outside store.write holds an uncommitted update; store.write's first attempt conflicts and
    retries. On DuckDB the conflict is immediate; on PostgreSQL our update waits for the other's row lock, the
    other commits from a thread once it sees us waiting, and SERIALIZABLE fails our attempt."""
    store.write(con, lambda cur: cur.execute("INSERT INTO jobs (job_id, pid) VALUES ('row', 0)"))
    other = con.cursor()
    other.execute("BEGIN TRANSACTION")
    other.execute("UPDATE jobs SET pid = 100 WHERE job_id = 'row'")
    attempts = []
    committer = None
    if store_backend == "postgresql":

        def commit_when_we_wait():
            waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            while con.execute(waiting).fetchone()[0] == 0:
                threading.Event().wait(0.01)
            other.execute("COMMIT")

        committer = threading.Thread(target=commit_when_we_wait)

    def work(cur):
        attempts.append(1)
        if committer is not None and len(attempts) == 1:
            committer.start()
        try:
            cur.execute("UPDATE jobs SET pid = pid + 1 WHERE job_id = 'row'")
        finally:
            if committer is None and len(attempts) == 1:
                other.execute("COMMIT")  # the other writer finishes after our first attempt hit its lock

    store.write(con, work)
    if committer is not None:
        committer.join()
    assert con.execute("SELECT pid FROM jobs WHERE job_id = 'row'").fetchone()[0] == 101
    assert len(attempts) == 2  # the first attempt conflicted and was retried


def test_a_write_outlasts_more_conflicts_than_the_old_eight_retries(con, monkeypatch):
    """Under two app processes on PostgreSQL a hot row's writers abort each other many times in a row; a write
    still lands after 12 conflicts, and the pauses between tries are random and bounded (full jitter), so the
    writers that collided do not retry in step."""
    from annotations.store import writes

    pauses = []
    monkeypatch.setattr(writes.time, "sleep", pauses.append)
    attempts = []

    def work(cur):
        attempts.append(1)
        if len(attempts) <= 12:
            raise duckdb.TransactionException("Transaction conflict: simulated")
        cur.execute("INSERT INTO jobs (job_id, status) VALUES ('after-conflicts', 'queued')")

    store.write(con, work)
    assert len(attempts) == 13
    assert con.execute("SELECT count(*) FROM jobs WHERE job_id = 'after-conflicts'").fetchone()[0] == 1
    assert len(pauses) == 12 and all(0 <= p <= writes._BACKOFF_MAX_S for p in pauses)
    assert len(set(pauses)) > 1  # random, not one fixed pause
    draws = [writes._backoff(10) for _ in range(200)]
    assert max(draws) <= writes._BACKOFF_MAX_S and max(draws) > writes._BACKOFF_MAX_S / 2


def test_a_write_that_always_conflicts_gives_up_with_the_conflict(con, monkeypatch):
    from annotations.store import writes

    monkeypatch.setattr(writes.time, "sleep", lambda _: None)
    attempts = []

    def work(cur):
        attempts.append(1)
        raise duckdb.TransactionException("Transaction conflict: simulated")

    with pytest.raises(store.ConflictError):
        store.write(con, work)
    assert len(attempts) == writes._CONFLICT_RETRIES


def test_unreadable_migration_name_is_reported(tmp_path, monkeypatch):
    bad = tmp_path / "migrations"
    bad.mkdir()
    (bad / "first.sql").write_text("SELECT 1;")
    monkeypatch.setattr(schema, "MIGRATIONS_DIR", bad)
    with pytest.raises(StoreError, match="NNN_name.sql"):
        store.migrations()


def test_a_failing_write_in_a_group_commit_only_fails_itself(con):
    """Writes arriving together share a transaction; one that raises is replayed alone and fails alone."""
    barrier = threading.Barrier(20)

    def writer(i):
        def work(cur):
            cur.execute("INSERT INTO jobs (job_id, pid) VALUES (?, ?)", [f"job-{i}", i])
            if i % 5 == 0:
                raise ValueError(f"bad job {i}")
            return i

        barrier.wait()
        return store.write(con, work)

    outcomes = [str(o) if isinstance(o, ValueError) else o for o in at_once(writer, range(20))]
    assert outcomes == [f"bad job {i}" if i % 5 == 0 else i for i in range(20)]
    stored = {r[0] for r in con.execute("SELECT pid FROM jobs").fetchall()}
    assert stored == {i for i in range(20) if i % 5}


def test_a_new_store_and_its_folder_are_their_owners_alone(tmp_path):
    path = tmp_path / "data" / "app.duckdb"
    store.connect(path).close()
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o640)  # an existing file keeps the mode its owner gave it
    store.connect(path).close()
    assert path.stat().st_mode & 0o777 == 0o640


def test_write_statement_runs_one_statement_as_a_write_in_its_lane(con):
    store.write_statement(con, "INSERT INTO jobs (job_id, pid) VALUES (?, ?)", ["one", 1])
    store.write_statement(con, "UPDATE jobs SET pid = ? WHERE job_id = ?", [2, "one"], lane="other")
    assert con.execute("SELECT job_id, pid FROM jobs").fetchall() == [("one", 2)]
