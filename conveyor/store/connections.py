"""Finding the driver connection inside what a caller passes as ``enqueue(connection=...)``.

Accepted: a DB-API connection of the store's own driver (``psycopg.Connection`` or
``psycopg.AsyncConnection`` for PostgreSQL, ``sqlite3.Connection`` for SQLite), or a
SQLAlchemy ``Connection``/``Session`` (and their async twins) built on that driver. The job is
written inside the caller's open transaction: it exists if and only if the caller commits.
"""

from __future__ import annotations

import inspect
from typing import Any


def _is_sqlalchemy(obj: object) -> bool:
    return type(obj).__module__.startswith("sqlalchemy")


def driver_connection(connection: object) -> Any:
    """The raw driver connection of a sync connection or SQLAlchemy Connection/Session."""
    if not _is_sqlalchemy(connection):
        return connection
    if hasattr(connection, "get_bind"):  # a Session: its connection joins its transaction
        connection = connection.connection()  # type: ignore[attr-defined]
    # Autobegin, as any statement through SQLAlchemy would, so that the caller's commit()
    # and rollback() apply to what we write through the driver connection.
    if not connection.in_transaction():  # type: ignore[attr-defined]
        connection.begin()  # type: ignore[attr-defined]
    return connection.connection.driver_connection  # type: ignore[attr-defined]


async def driver_connection_async(connection: object) -> Any:
    """The raw driver connection of an async connection or SQLAlchemy AsyncConnection/Session."""
    if not _is_sqlalchemy(connection):
        return connection
    if hasattr(connection, "get_bind"):  # an AsyncSession
        connection = await connection.connection()  # type: ignore[attr-defined]
    if not connection.in_transaction():  # type: ignore[attr-defined]
        await connection.begin()  # type: ignore[attr-defined]
    raw = connection.get_raw_connection()  # type: ignore[attr-defined]
    if inspect.isawaitable(raw):
        raw = await raw
    return raw.driver_connection
