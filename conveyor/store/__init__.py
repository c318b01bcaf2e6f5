"""The store boundary: open a store for a URL.

``sqlite:///relative.db``, ``sqlite:////absolute/path.db`` or a plain file path open the SQLite
store. PostgreSQL URLs are recognised and refused with a clear message until that store ships.
"""

from __future__ import annotations

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
        return Path(url)
    return None


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the synchronous store for ``url``."""
    path = sqlite_path(url)
    if path is not None:
        from conveyor.store.sqlite import SQLiteStore

        return SQLiteStore(path, migrate=migrate)
    scheme = url.split("://", 1)[0]
    if scheme in ("postgres", "postgresql"):
        raise ConfigurationError(
            "the PostgreSQL store is not part of this release yet; use a sqlite:/// URL "
            "(or leave CONVEYOR_URL unset for ./conveyor.db)"
        )
    raise ConfigurationError(
        f"unsupported store URL scheme {scheme!r} in {url!r}; use sqlite:///path/to/file.db"
    )


def open_async_store(store: Store) -> AsyncStore:
    """The asynchronous twin of an open synchronous store."""
    from conveyor.store.sqlite import AsyncSQLiteStore, SQLiteStore

    if isinstance(store, SQLiteStore):
        return AsyncSQLiteStore(store)
    from conveyor.store.threaded import ThreadedAsyncStore

    return ThreadedAsyncStore(store)


__all__ = ["DEFAULT_URL", "AsyncStore", "Store", "open_async_store", "open_store", "sqlite_path"]
