"""The store, on DuckDB (a file, the default) or PostgreSQL (`FT_APP_DB=postgresql://...`; `postgres`, the
adapter): the connection (`connection`), the write queue (`writes`), frames in and out (`frames`), ids and
timestamps (`values`), the numbered migrations (`schema`, `migrations/NNN_name.sql`) and the errors of both
backends (`errors`). docs/store.md says what holds on each.

Other modules import from here: `from annotations import store`, then `store.connect(path_or_url)`,
`store.write(con, work)` (`store.write_statement(con, sql, params)` for one statement), `store.read(con)`,
`store.read_frame(con, sql, params)`, `store.insert_frame(cur, table, frame)` inside a write, and
`except store.DatabaseError` (`ConflictError`, `ConstraintError`, `UnknownNameError`) rather than duckdb's or
psycopg's classes.
"""

from annotations.store.connection import PROJECT_ROOT, connect, default_path, default_target, lock_holder
from annotations.store.errors import ConflictError, ConstraintError, DatabaseError, UnknownNameError
from annotations.store.frames import insert_frame, read_frame
from annotations.store.postgres import PostgresStore, is_postgres_store, is_postgres_url, redacted
from annotations.store.schema import MIGRATIONS_DIR, migrate, migrations, schema_version
from annotations.store.values import in_list, new_id, utcnow
from annotations.store.writes import read, write, write_statement

__all__ = [
    "MIGRATIONS_DIR",
    "PROJECT_ROOT",
    "ConflictError",
    "ConstraintError",
    "DatabaseError",
    "PostgresStore",
    "UnknownNameError",
    "connect",
    "default_path",
    "default_target",
    "in_list",
    "insert_frame",
    "is_postgres_store",
    "is_postgres_url",
    "lock_holder",
    "migrate",
    "migrations",
    "new_id",
    "read",
    "read_frame",
    "redacted",
    "schema_version",
    "utcnow",
    "write",
    "write_statement",
]
