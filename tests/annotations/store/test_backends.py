"""The store on its two backends: the same schema from the one set of migrations, the same frames, read-only
stores, the placeholders, the errors, and PostgreSQL's writes exactly-once across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from psycopg import errors as pg

from annotations import store
from annotations.errors import StoreError, WriteFailed
from annotations.store import schema
from annotations.store.postgres import numbered_sql, psycopg_sql
from annotations.store.write_failures import as_write_failed, is_refused_write


def test_placeholders_are_translated_outside_literals_names_and_comments():
    sql = "SELECT '?', \"a?\", x % 2 FROM t WHERE a = ? AND b LIKE '%x?' -- why?\nAND c = ? /* ? */"
    assert psycopg_sql(sql) == (
        "SELECT '?', \"a?\", x %% 2 FROM t WHERE a = %s AND b LIKE '%%x?' -- why?\nAND c = %s /* ? */"
    )
    assert numbered_sql(sql) == (
        "SELECT '?', \"a?\", x % 2 FROM t WHERE a = $1 AND b LIKE '%x?' -- why?\nAND c = $2 /* ? */"
    )
    assert numbered_sql("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', $1"


def test_a_literal_percent_survives_a_query_with_parameters(con):
    store.write_statement(con, "INSERT INTO jobs (job_id, error) VALUES (?, '100% done')", ["p"])
    assert con.execute("SELECT error FROM jobs WHERE job_id LIKE ?", ["%"]).fetchone() == ("100% done",)


def test_insert_frame_writes_a_frames_rows_inside_a_write(con):
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c"],
            "position": [0, 1, 2],
            "prompt": [None, "p", None],
            "reference_texts": [["r1", "r2"], [], None],
            "is_gold": [False, True, False],
            "selection_reason": [None, None, None],
        }
    )

    def work(cur):
        store.insert_frame(cur, "items", items, campaign_id="c1")
        store.insert_frame(
            cur,
            "metrics",
            pd.DataFrame(
                {"campaign_id": ["c1"], "item_id": ["a"], "system": ["s"], "metric": ["m"], "value": [0.5]}
            ),
        )

    store.write(con, work)
    rows = con.execute(
        "SELECT campaign_id, item_id, position, prompt, reference_texts, is_gold, selection_reason "
        "FROM items ORDER BY item_id"
    ).fetchall()
    assert rows == [
        ("c1", "a", 0, None, ["r1", "r2"], False, None),
        ("c1", "b", 1, "p", [], True, None),
        ("c1", "c", 2, None, None, False, None),
    ]
    assert con.execute("SELECT value FROM metrics").fetchall() == [(0.5,)]
    with pytest.raises(ValueError, match="plain"):
        store.write(con, lambda cur: store.insert_frame(cur, "items; DROP TABLE users", items))


def test_migrations_give_both_backends_the_same_tables_columns_and_types(tmp_path, postgres_server):
    duck = store.connect(tmp_path / "a.duckdb")
    url = postgres_server.new_database(migrated=False)
    postgres = store.connect(url)
    try:
        tables = schema.table_columns(duck)
        assert "judgments" in tables and tables["items"]["reference_texts"] == "VARCHAR[]"
        assert schema.table_columns(postgres) == tables
        assert (
            store.schema_version(postgres)
            == store.schema_version(duck)
            == max(n for n, _, _ in store.migrations())
        )
    finally:
        duck.close()
        postgres.close()
        postgres_server.drop(url)


FRAME_TABLE = """CREATE TABLE frame_check (
    n INTEGER, big BIGINT, flag BOOLEAN, always BOOLEAN, name VARCHAR, nothing VARCHAR, seen TIMESTAMP,
    value DOUBLE PRECISION, texts VARCHAR[])"""
FRAME_ROWS = [
    [1, 10, True, True, "a", None, datetime(2026, 1, 2, 3, 4, 5, 678000), 0.5, ["x", "y"]],
    [None, 11, None, False, "b", None, None, None, None],
    [3, 12, False, True, "c", None, datetime(2026, 2, 1), 2.25, []],
]
FRAME_QUERIES = [
    ("SELECT * FROM frame_check ORDER BY big", []),
    ("SELECT n, name, seen FROM frame_check WHERE big > ? AND name <> ? ORDER BY big", [10, "zz"]),
    ("SELECT n, flag, name, nothing FROM frame_check WHERE big > ?", [99]),  # empty
    ("SELECT count(*) AS n_rows, max(value) AS top FROM frame_check WHERE seen < ?", [datetime(2027, 1, 1)]),
]


def _filled(con):
    def fill(cur):
        cur.execute(FRAME_TABLE)
        cur.executemany("INSERT INTO frame_check VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", FRAME_ROWS)

    store.write(con, fill)
    return con


@pytest.mark.parametrize("sql, params", FRAME_QUERIES, ids=["all", "some", "empty", "aggregate"])
def test_frames_are_the_same_on_both_backends(tmp_path, postgres_server, sql, params):
    """read_frame (Arrow through ADBC on PostgreSQL) and a cursor's .df() give DuckDB's frame exactly:
    columns, dtypes (nullable Int32/boolean where nulls are, object for all-null or empty text), values."""
    duck = _filled(store.connect(tmp_path / "a.duckdb"))
    url = postgres_server.new_database()
    postgres = _filled(store.connect(url))
    try:
        expected = duck.execute(sql, params).df()
        assert_frame_equal(store.read_frame(duck, sql, params), expected)
        assert_frame_equal(store.read_frame(postgres, sql, params), expected, check_column_type=True)
        assert_frame_equal(postgres.execute(sql, params).df(), expected, check_column_type=True)
    finally:
        duck.close()
        postgres.close()
        postgres_server.drop(url)


def test_a_read_only_store_reads_and_refuses_writes(store_target):
    store.connect(store_target).close()
    con = store.connect(store_target, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM jobs").fetchone() == (0,)
        assert isinstance(store.read_frame(con, "SELECT * FROM jobs", []), pd.DataFrame)
        with pytest.raises(store.DatabaseError):
            con.execute("INSERT INTO jobs (job_id) VALUES ('no')")
    finally:
        con.close()


def test_constraint_errors_are_one_class_on_both_backends(con):
    store.write_statement(con, "INSERT INTO jobs (job_id) VALUES ('twice')")
    with pytest.raises(store.ConstraintError):
        store.write_statement(con, "INSERT INTO jobs (job_id) VALUES ('twice')")
    with pytest.raises(store.UnknownNameError):
        con.execute("SELECT no_such_column FROM jobs").fetchall()


def test_postgres_full_disk_and_read_only_server_are_refused_writes_a_conflict_is_not():
    full = pg.DiskFull('could not extend file "base/16384/16385": No space left on device')
    assert is_refused_write(full)
    assert isinstance(as_write_failed(full), WriteFailed)
    assert is_refused_write(pg.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"))
    assert not is_refused_write(pg.SerializationFailure("could not serialize access"))
    assert not is_refused_write(pg.UniqueViolation("duplicate key value violates unique constraint"))


def test_a_cursor_left_in_a_transaction_gives_its_connection_back_on_close(postgres_server):
    url = postgres_server.new_database()
    con = store.PostgresStore(url, size=1)
    try:
        for _ in range(3):  # with one pooled connection, a leaked one would make the next BEGIN wait forever
            cur = con.cursor()
            cur.execute("BEGIN TRANSACTION")
            cur.execute("INSERT INTO jobs (job_id) VALUES ('never')")
            cur.close()  # rolled back
        assert con.execute("SELECT count(*) FROM jobs").fetchone() == (0,)
    finally:
        con.close()
        postgres_server.drop(url)


# Each process: 40 read-modify-write increments of one counter, and 40 tries to take one of 5 claims (count
# the claims, insert one if fewer than 5), all through store.write; the processes start together.
_RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from annotations import store

    url, go = sys.argv[1], Path(sys.argv[2])
    con = store.connect(url)
    while not go.exists():
        time.sleep(0.005)

    def bump(cur):
        (value,) = cur.execute("SELECT pid FROM jobs WHERE job_id = 'counter'").fetchone()
        cur.execute("UPDATE jobs SET pid = ? WHERE job_id = 'counter'", [value + 1])

    def claim(cur):
        (taken,) = cur.execute("SELECT count(*) FROM jobs WHERE kind = 'claim'").fetchone()
        if taken < 5:
            cur.execute("INSERT INTO jobs (job_id, kind) VALUES (?, 'claim')", [store.new_id()])

    for _ in range(40):
        store.write(con, bump)
        store.write(con, claim)
    con.close()
    """
)


def test_postgres_writes_are_exactly_once_across_processes(postgres_server, tmp_path):
    """Four processes on one PostgreSQL store: no increment lost, no sixth claim (SERIALIZABLE + retries)."""
    url = postgres_server.new_database()
    con = store.connect(url)
    try:
        store.write_statement(con, "INSERT INTO jobs (job_id, pid) VALUES ('counter', 0)")
        go = tmp_path / "go"
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", _RACER, url, str(go)],
                cwd=store.PROJECT_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(4)
        ]
        go.touch()
        for racer in racers:
            out, _ = racer.communicate(timeout=300)
            assert racer.returncode == 0, out
        assert con.execute("SELECT pid FROM jobs WHERE job_id = 'counter'").fetchone() == (160,)
        assert con.execute("SELECT count(*) FROM jobs WHERE kind = 'claim'").fetchone() == (5,)
    finally:
        con.close()
        postgres_server.drop(url)


def test_processes_opening_a_new_postgres_store_at_once_migrate_it_once(postgres_server):
    url = postgres_server.new_database(migrated=False)
    code = "import sys\nfrom annotations import store\nstore.connect(sys.argv[1]).close()"
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", code, url], cwd=store.PROJECT_ROOT, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for opener in openers:
        _, err = opener.communicate(timeout=300)
        assert opener.returncode == 0, err
    con = store.connect(url)
    try:
        recorded = [
            v for (v,) in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        ]
        assert recorded == [n for n, _, _ in store.migrations()]
    finally:
        con.close()
        postgres_server.drop(url)


def test_a_bad_postgres_url_is_a_one_line_store_error(postgres_server):
    bad = postgres_server.url.replace("/postgres?", "/no_such_database?")
    with pytest.raises(StoreError, match="cannot connect to the PostgreSQL store") as caught:
        store.connect(bad)
    assert "no_such_database" in str(caught.value) and "\n" not in str(caught.value)
