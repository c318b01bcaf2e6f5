"""The SQLite store (embedded default)."""

from conveyor.store.sqlite.async_store import AsyncSQLiteStore
from conveyor.store.sqlite.store import SQLiteStore

__all__ = ["AsyncSQLiteStore", "SQLiteStore"]
