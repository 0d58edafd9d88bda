"""Frames in and out of the store on either backend: the generic Arrow reader every frame of campaigns,
judgments and the report uses, and the bulk insert of a DataFrame's rows."""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from annotations.store.postgres import PostgresCursor, PostgresStore, arrow_frame
from annotations.store.writes import read


def read_frame(con: duckdb.DuckDBPyConnection | PostgresStore, sql: str, params: list) -> pd.DataFrame:
    """The rows of a read query as a DataFrame with exactly the columns and dtypes DuckDB's `.df()` gives,
    fetched through Arrow: in pandas 3 that is about twice as fast for the string columns of the analysis
    frames (issue 5). `.df()` turns an integer or boolean column holding nulls into a nullable Int/boolean
    column and a text column of nulls only into an object column of None; the Arrow path is brought to the
    same dtypes (`arrow_frame`). On PostgreSQL the Arrow table comes from ADBC's PostgreSQL driver."""
    if isinstance(con, PostgresStore):
        return arrow_frame(con.read_arrow(sql, params))
    table = read(con).sql(sql, params=params).to_arrow_table()
    if table.num_rows == 0:  # `.df()` types empty columns its own way; cheap to ask it directly
        return read(con).execute(sql, params).df()
    return arrow_frame(table)


_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def insert_frame(cur, table: str, frame: pd.DataFrame, **constants: object) -> None:
    """Insert every row of `frame` into `table` (its columns named as the frame's), inside the write `cur`
    belongs to; `constants` fill further columns with one value each (e.g. `campaign_id=...`).

    DuckDB reads the frame itself (a registered view); PostgreSQL gets the rows through COPY. Table and column
    names come from code, never from users, and must be plain lower-case names.
    """
    columns = [*constants, *frame.columns]
    for name in (table, *columns):
        if not _NAME.match(str(name)):
            raise ValueError(f"not a plain table or column name: {name!r}")
    if isinstance(cur, PostgresCursor):
        values = frame.astype(object).where(frame.notna(), None)
        fixed = list(constants.values())
        cur.copy_rows(table, columns, ([*fixed, *_plain(row)] for row in values.itertuples(index=False)))
        return
    view = f"_insert_{table}"
    cur.register(view, frame)
    try:
        marks = ", ".join("?" for _ in constants)
        selected = ", ".join([marks, *map(str, frame.columns)] if constants else map(str, frame.columns))
        cur.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {selected} FROM {view}",
            list(constants.values()),
        )
    finally:
        cur.unregister(view)


def _plain(row: tuple) -> list:
    """A frame's row as values psycopg adapts: numpy arrays (a list column) as lists."""
    return [value.tolist() if hasattr(value, "tolist") else value for value in row]
