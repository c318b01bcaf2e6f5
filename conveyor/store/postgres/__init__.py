"""The PostgreSQL store: many worker machines, SKIP LOCKED claims, LISTEN/NOTIFY wake-ups."""

from conveyor.store.postgres.async_store import AsyncPostgresStore
from conveyor.store.postgres.store import PostgresStore

__all__ = ["AsyncPostgresStore", "PostgresStore"]
