"""The store boundary: open a store for a URL.

``sqlite:///relative.db``, ``sqlite:////absolute/path.db`` or a plain file path open the SQLite
store; ``postgresql://user@host:5432/dbname`` opens the PostgreSQL store (psycopg 3).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from conveyor.errors import ConfigurationError
from conveyor.store.protocol import AsyncStore, Store

DEFAULT_URL = "sqlite:///conveyor.db"


def sqlite_path(url: str) -> Path | None:
    """The file path of a SQLite URL, or None when ``url`` is not SQLite."""
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :])
    if url.startswith("sqlite://"):
        raise ConfigurationError(
            f"SQLite URL {url!r} needs three slashes: sqlite:///relative.db or "
            "sqlite:////absolute/path.db"
        )
    if "://" not in url:
        if _LIBPQ_KEYWORD.search(url):
            # Taken as a file name, it would quietly make a SQLite database called
            # "host=... dbname=...": say what to write instead.
            raise ConfigurationError(
                "the store URL looks like a libpq key=value connection string (not repeated "
                "here: it may hold a password); Conveyor takes URLs: "
                "postgresql://user@host:5432/dbname for PostgreSQL (psql accepts the same), "
                "sqlite:///path.db for SQLite"
            )
        return Path(url)
    return None


_LIBPQ_KEYWORD = re.compile(
    r"(?:^|\s)(?:host|hostaddr|dbname|user|port|password|service|sslmode)\s*="
)
"""A libpq keyword followed by ``=``: a key=value connection string, not a file name."""


def open_store(
    url: str,
    *,
    migrate: bool = True,
    schema: str | None = None,
    pool_size: int | None = None,
    pooler: str | None = None,
    listen_url: str | None = None,
) -> Store:
    """Open the synchronous store for ``url``.

    ``schema`` (PostgreSQL only; default ``CONVEYOR_SCHEMA`` or ``public``) lets Conveyor's
    tables live beside the application's in their own schema. ``pooler`` and ``listen_url``
    (PostgreSQL only; default ``CONVEYOR_PG_POOLER`` and ``CONVEYOR_PG_LISTEN_URL``) say that
    ``url`` goes through a transaction-pooling PgBouncer and where to LISTEN directly.
    """
    path = sqlite_path(url)
    if path is not None:
        from conveyor.store.sqlite import SQLiteStore

        return SQLiteStore(path, migrate=migrate)
    scheme = url.split("://", 1)[0]
    if scheme in ("postgres", "postgresql"):
        try:
            from conveyor.store.postgres import PostgresStore
        except ImportError as exc:
            raise ConfigurationError(
                f"the PostgreSQL store needs psycopg: pip install 'conveyor[postgres]' ({exc})"
            ) from exc
        return PostgresStore(
            url,
            schema=schema or os.environ.get("CONVEYOR_SCHEMA") or "public",
            migrate=migrate,
            pool_size=pool_size or 12,
            pooler=pooler,
            listen_url=listen_url,
        )
    raise ConfigurationError(
        f"unsupported store URL scheme {scheme!r} in {url!r}; use sqlite:///path/to/file.db "
        "or postgresql://user@host/dbname"
    )


def open_async_store(store: Store) -> AsyncStore:
    """The asynchronous twin of an open synchronous store."""
    from conveyor.store.sqlite import AsyncSQLiteStore, SQLiteStore

    if isinstance(store, SQLiteStore):
        return AsyncSQLiteStore(store)
    if type(store).__name__ == "PostgresStore":
        from conveyor.store.postgres import AsyncPostgresStore, PostgresStore

        assert isinstance(store, PostgresStore)
        return AsyncPostgresStore(store)
    from conveyor.store.threaded import ThreadedAsyncStore

    return ThreadedAsyncStore(store)


__all__ = ["DEFAULT_URL", "AsyncStore", "Store", "open_async_store", "open_store", "sqlite_path"]
