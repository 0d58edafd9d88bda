"""The DuckDB store: the connection (`connection`), the write queue (`writes`), the generic frame reader
(`frames`), ids and timestamps (`values`) and the numbered migrations (`schema`, `migrations/NNN_name.sql`).

Other modules import from here: `from annotations import store`, then `store.connect(path)`, `store.write(con,
work)` (`store.write_statement(con, sql, params)` for one statement), `store.read(con)`,
`store.read_frame(con, sql, params)`.
"""

from annotations.store.connection import PROJECT_ROOT, connect, default_path, lock_holder
from annotations.store.frames import read_frame
from annotations.store.schema import MIGRATIONS_DIR, migrate, migrations, schema_version
from annotations.store.values import new_id, utcnow
from annotations.store.writes import read, write, write_statement

__all__ = [
    "MIGRATIONS_DIR",
    "PROJECT_ROOT",
    "connect",
    "default_path",
    "lock_holder",
    "migrate",
    "migrations",
    "new_id",
    "read",
    "read_frame",
    "schema_version",
    "utcnow",
    "write",
    "write_statement",
]
