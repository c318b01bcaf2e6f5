"""The asynchronous SQLite store: the threaded adapter plus ``data_version`` wake-ups."""

from __future__ import annotations

import asyncio
import time

from conveyor.store.sqlite.store import SQLiteStore
from conveyor.store.threaded import ThreadedAsyncStore

CHANGE_POLL_SECONDS = 0.005


class AsyncSQLiteStore(ThreadedAsyncStore):
    """An :class:`~conveyor.store.protocol.AsyncStore` on a SQLite file."""

    def __init__(self, store: SQLiteStore) -> None:
        super().__init__(store)
        self._sqlite = store
        self._seen = store.data_version()

    async def wait_for_change(self, timeout: float) -> bool:
        """Poll ``PRAGMA data_version`` (an in-memory counter, no disk I/O) until it moves."""
        deadline = time.monotonic() + timeout
        while True:
            version = await self._run(self._sqlite.data_version)
            if version != self._seen:
                self._seen = version
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(CHANGE_POLL_SECONDS, left))
