"""The store on PostgreSQL: `PostgresStore` offers the part of DuckDB's connection API the code uses
(`.cursor()`, `.execute(sql, params)`, `.executemany`, `.fetchone()`, `.fetchall()`, `.df()`, `.description`,
`.close()`), over a psycopg connection pool.

- A cursor borrows a pooled connection (autocommit) for each statement and fetches its rows at once, so a read
  cursor nobody closes holds nothing. `BEGIN TRANSACTION` on a cursor pins one connection to it, in
  SERIALIZABLE isolation (unless it names another: `BEGIN ISOLATION LEVEL ...`), until COMMIT, ROLLBACK or
  `close()`: a write's check-then-insert (the k-th judgment, a lease, a claim) then either sees every
  concurrent commit or fails with a serialization failure that `store.write` retries, across processes as well
  as threads.
- Statements are written once, for DuckDB, with `?` placeholders; `psycopg_sql` turns them into psycopg's `%s`
  (and `numbered_sql` into ADBC's `$1`) outside string literals, quoted names and comments.
- `read_only=True` opens read-only sessions (`default_transaction_read_only`): a write fails in the server.
- Frames (`annotations.store.frames.read_frame`) are read as Arrow through ADBC's PostgreSQL driver, and given
  the dtypes DuckDB's `.df()` gives (`arrow_frame`), so the statistics code sees the same DataFrames.

Pool size: `FT_APP_DB_POOL_SIZE` (default 10) connections per process.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
from psycopg_pool import ConnectionPool

from annotations.errors import StoreError

URL_SCHEMES = ("postgresql://", "postgres://")
_BEGIN = {"BEGIN", "BEGIN TRANSACTION"}
_END = {"COMMIT", "ROLLBACK", "END", "ABORT", "COMMIT TRANSACTION", "ROLLBACK TRANSACTION"}


def is_postgres_url(target: object) -> bool:
    """Whether a store target (FT_APP_DB, `--db`) names a PostgreSQL server rather than a DuckDB file."""
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


def is_postgres_store(con: object) -> bool:
    """Whether an open store (what `store.connect` returned) is PostgreSQL's rather than DuckDB's."""
    return isinstance(con, PostgresStore)


def pool_size() -> int:
    """Connections per process: `FT_APP_DB_POOL_SIZE`, default 10."""
    value = os.environ.get("FT_APP_DB_POOL_SIZE", "10")
    if not value.isdigit() or int(value) < 1:
        raise StoreError(f"FT_APP_DB_POOL_SIZE must be a whole number of connections >= 1, not {value!r}")
    return int(value)


def _rewrite(sql: str, mark) -> str:
    """`sql` with each `?` outside literals, quoted names and comments replaced by `mark(n)` (n = 1, 2, ...)
    and, for psycopg, every `%` doubled (psycopg reads `%` everywhere in a query that has parameters)."""
    out: list[str] = []
    i, n, count = 0, len(sql), 0
    double_percent = mark(1) == "%s"
    while i < n:
        ch = sql[i]
        if ch in "'\"":  # a literal or quoted name; '' and "" inside are two quotes, read as end + start
            end = sql.find(ch, i + 1)
            end = n - 1 if end < 0 else end
            chunk = sql[i : end + 1]
            out.append(chunk.replace("%", "%%") if double_percent else chunk)
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            chunk = sql[i:end]
            out.append(chunk.replace("%", "%%") if double_percent else chunk)
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            chunk = sql[i:end]
            out.append(chunk.replace("%", "%%") if double_percent else chunk)
            i = end
        elif ch == "?":
            count += 1
            out.append(mark(count))
            i += 1
        elif ch == "%" and double_percent:
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def psycopg_sql(sql: str) -> str:
    """A statement with DuckDB's `?` placeholders in psycopg's `%s` style (literal `%` doubled)."""
    return _rewrite(sql, lambda _: "%s")


def numbered_sql(sql: str) -> str:
    """A statement with DuckDB's `?` placeholders as PostgreSQL's `$1, $2, ...` (ADBC's style)."""
    return _rewrite(sql, lambda n: f"${n}")


def _keyword(sql: str) -> str:
    return " ".join(sql.strip().rstrip(";").upper().split())


class PostgresCursor:
    """One statement at a time on a pooled connection, its rows fetched at once; pinned in a transaction."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._pinned: psycopg.Connection | None = None
        self._rows: list[tuple] = []
        self._position = 0
        self._columns: list[psycopg.Column] | None = None
        self.rowcount = -1

    # -- executing
    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> PostgresCursor:
        keyword = _keyword(sql)
        if keyword in _BEGIN or keyword.startswith("BEGIN ISOLATION LEVEL"):
            self._begin("BEGIN ISOLATION LEVEL SERIALIZABLE" if keyword in _BEGIN else sql)
            return self._finish(None, -1)
        if keyword in _END and self._pinned is not None:
            connection, self._pinned = self._pinned, None
            try:
                connection.execute(
                    "ROLLBACK" if keyword in {"ROLLBACK", "ABORT", "ROLLBACK TRANSACTION"} else "COMMIT"
                )
            finally:
                self._store._pool.putconn(connection)
            return self._finish(None, -1)
        query, params = (psycopg_sql(sql), list(parameters)) if parameters else (sql, None)
        return self._run(lambda cur: cur.execute(query, params))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> PostgresCursor:
        query = psycopg_sql(sql)
        return self._run(lambda cur: cur.executemany(query, [list(p) for p in parameters]))

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert many rows through COPY (annotations.store.frames.insert_frame), inside this cursor's
        transaction if it has one."""
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        if self._pinned is not None:
            with self._pinned.cursor() as cur, cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        with self._store._pool.connection() as connection, connection.transaction():
            with connection.cursor() as cur, cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)

    def _begin(self, statement: str) -> None:
        if self._pinned is not None:
            raise StoreError("BEGIN inside a transaction already open on this cursor")
        connection = self._store._pool.getconn()
        try:
            connection.execute(statement)
        except BaseException:
            self._store._pool.putconn(connection)
            raise
        self._pinned = connection

    def _run(self, statement) -> PostgresCursor:
        if self._pinned is not None:
            with self._pinned.cursor() as cur:
                statement(cur)
                return self._finish(cur.description and cur.fetchall(), cur.rowcount, cur.description)
        with self._store._pool.connection() as connection, connection.cursor() as cur:
            statement(cur)
            return self._finish(cur.description and cur.fetchall(), cur.rowcount, cur.description)

    def _finish(self, rows, rowcount: int, columns=None) -> PostgresCursor:
        self._rows, self._position, self.rowcount = list(rows or []), 0, rowcount
        self._columns = list(columns) if columns else None
        return self

    # -- results
    @property
    def description(self) -> list[tuple] | None:
        if self._columns is None:
            return None
        return [(c.name, c.type_code, None, None, None, None, None) for c in self._columns]

    def fetchone(self) -> tuple | None:
        if self._position >= len(self._rows):
            return None
        self._position += 1
        return self._rows[self._position - 1]

    def fetchmany(self, size: int = 1) -> list[tuple]:
        rows = self._rows[self._position : self._position + size]
        self._position += len(rows)
        return rows

    def fetchall(self) -> list[tuple]:
        rows = self._rows[self._position :]
        self._position = len(self._rows)
        return rows

    def df(self) -> pd.DataFrame:
        """The remaining rows as the DataFrame DuckDB's `.df()` would give (same columns and dtypes)."""
        return arrow_frame(self.fetch_arrow_table())

    def fetch_arrow_table(self) -> pa.Table:
        """The remaining rows as an Arrow table, typed from the columns' PostgreSQL types."""
        columns = self._columns or []
        rows = self.fetchall()
        arrays = [_arrow_column([row[i] for row in rows], c.type_code) for i, c in enumerate(columns)]
        return pa.table(arrays, names=[c.name for c in columns])

    def close(self) -> None:
        if self._pinned is not None:  # an open transaction nobody finished: rolled back
            connection, self._pinned = self._pinned, None
            try:
                connection.execute("ROLLBACK")
            except psycopg.Error:
                pass
            finally:
                self._store._pool.putconn(connection)
        self._rows = []

    def __enter__(self) -> PostgresCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if self._pinned is not None:
            with contextlib.suppress(Exception):  # the pool may be closed already
                self.close()


# PostgreSQL type oids -> the Arrow type DuckDB would give the column
_ARROW_TYPES = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    700: pa.float32(),
    701: pa.float64(),
    1700: pa.float64(),  # numeric: DuckDB's DECIMAL reaches pandas as float64
    25: pa.string(),
    1043: pa.string(),
    1042: pa.string(),
    19: pa.string(),
    114: pa.string(),
    3802: pa.string(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    1082: pa.date32(),
    1009: pa.list_(pa.string()),
    1015: pa.list_(pa.string()),
    1007: pa.list_(pa.int32()),
    1016: pa.list_(pa.int64()),
    1022: pa.list_(pa.float64()),
}


def _arrow_column(values: list, oid: int) -> pa.Array:
    kind = _ARROW_TYPES.get(oid)
    if kind == pa.float64():
        values = [None if v is None else float(v) for v in values]
    elif kind is not None and pa.types.is_string(kind):
        values = [None if v is None else str(v) for v in values]
    return pa.array(values, type=kind) if kind is not None else pa.array(values)


def arrow_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as the DataFrame DuckDB's `.df()` gives for the same result: integer and boolean columns
    holding nulls nullable (Int32, boolean), a text column of nulls only (or any text column of an empty
    result) an object column of None, a missing list pd.NA, numeric as float64."""
    for index, field in enumerate(table.schema):
        if isinstance(field.type, pa.ExtensionType) and field.type.storage_type == pa.string():
            column = pa.chunked_array(
                [chunk.storage for chunk in table.column(index).chunks], type=pa.string()
            )
            if field.metadata and field.metadata.get(b"POSTGRESQL:type") == b"numeric":
                column = column.cast(pa.float64())
            table = table.set_column(index, field.name, column)
        elif pa.types.is_null(field.type):  # ADBC: a column of NULL literals
            table = table.set_column(index, field.name, table.column(index).cast(pa.string()))
    frame = table.to_pandas()
    for name, column in zip(table.column_names, table.columns):
        nulls, kind = column.null_count, column.type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        if text and (table.num_rows == 0 or nulls == len(column)):
            frame[name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        elif not nulls:
            continue
        elif pa.types.is_integer(kind):
            frame[name] = frame[name].astype(
                f"{'U' if pa.types.is_unsigned_integer(kind) else ''}Int{kind.bit_width}"
            )
        elif pa.types.is_boolean(kind):
            frame[name] = frame[name].astype("boolean")
        elif pa.types.is_list(kind):  # `.df()` gives a missing list as pd.NA, Arrow as None
            frame[name] = frame[name].astype(object).where(frame[name].notna(), pd.NA)
    return frame


class PostgresStore:
    """A PostgreSQL store with the connection API the code uses (see the module's docstring)."""

    def __init__(self, url: str, *, read_only: bool = False, size: int | None = None) -> None:
        self.url, self.read_only = url, read_only
        options = "-c default_transaction_read_only=on" if read_only else ""
        kwargs: dict[str, Any] = {"autocommit": True}
        if options:
            kwargs["options"] = options
        try:  # once, directly: a wrong URL is a one-line error now, not a pool retrying for 30 s
            psycopg.connect(url, connect_timeout=10, **kwargs).close()
        except psycopg.Error as e:
            reason = (str(e).strip().splitlines() or [type(e).__name__])[-1]
            raise StoreError(f"cannot connect to the PostgreSQL store {redacted(url)}: {reason}") from e
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=size or pool_size(),
            kwargs=kwargs,
            open=False,
            name="ft-store",
        )
        self._pool.open(wait=True, timeout=30)
        self._arrow: queue.LifoQueue = queue.LifoQueue()
        self._arrow_lock = threading.Lock()
        self._closed = False

    def cursor(self) -> PostgresCursor:
        return PostgresCursor(self)

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> PostgresCursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> PostgresCursor:
        return self.cursor().executemany(sql, parameters)

    def read_arrow(self, sql: str, parameters: Sequence[Any] | None = None) -> pa.Table:
        """A read query's result as an Arrow table, through ADBC's PostgreSQL driver (no Python rows)."""
        try:
            connection = self._arrow.get_nowait()
        except queue.Empty:
            connection = self._adbc_connect()
        try:
            with connection.cursor() as cur:
                cur.execute(numbered_sql(sql), tuple(parameters or ()))
                table = cur.fetch_arrow_table()
        except BaseException:
            connection.close()
            raise
        if self._closed:
            connection.close()
        else:
            self._arrow.put(connection)
        return table

    def _adbc_connect(self):
        import adbc_driver_postgresql.dbapi as adbc

        url = self.url
        if self.read_only:
            separator = "&" if "?" in url else "?"
            url += f"{separator}options=-c%20default_transaction_read_only%3Don"
        return adbc.connect(url, autocommit=True)

    def close(self) -> None:
        self._closed = True
        self._pool.close()
        while True:
            try:
                self._arrow.get_nowait().close()
            except queue.Empty:
                break

    def __repr__(self) -> str:
        return f"PostgresStore({redacted(self.url)})"


def redacted(url: str) -> str:
    """`url` without its password, for messages and logs."""
    scheme, _, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        credentials, _, host = rest.partition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url
