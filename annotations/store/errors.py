"""The database errors of either backend, as tuples for `except`: code outside the store names these, never
duckdb's or psycopg's classes, so it works the same on DuckDB and on PostgreSQL."""

from __future__ import annotations

import duckdb
import psycopg
from psycopg import errors as pg

# Any error the database raised (a bad query, a broken constraint, a refused write, a conflict).
DatabaseError = (duckdb.Error, psycopg.Error)
# Two transactions touched the same rows: worth running the write again (store.write does, a few times).
# DuckDB: optimistic concurrency ("Transaction conflict"); PostgreSQL: SERIALIZABLE's serialization failure
# and a deadlock (one of the two transactions is cancelled).
ConflictError = (duckdb.TransactionException, pg.SerializationFailure, pg.DeadlockDetected)
# A row broke a PRIMARY KEY, UNIQUE, NOT NULL or CHECK constraint.
ConstraintError = (duckdb.ConstraintException, psycopg.IntegrityError)
# A query named a column or table the store does not have (e.g. a read-only store older than a migration).
UnknownNameError = (duckdb.BinderException, duckdb.CatalogException, pg.UndefinedColumn, pg.UndefinedTable)
