"""``ctx.transaction`` on SQLite: a write transaction a handler writes through."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from conveyor.errors import StoreError, StoreUnavailableError
from conveyor.store.protocol import Completion
from conveyor.store.sqlite import run_verbs
from conveyor.store.sqlite.connection import connect, query
from conveyor.store.sqlite.driver import drive

if TYPE_CHECKING:
    from conveyor.store.sqlite.store import SQLiteStore


class SQLiteTransaction:
    """An open write transaction a handler writes through, completed in the same commit."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.connection = connect(store.path, timeout=store.db.timeout)
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self.connection.close()
            raise StoreUnavailableError(
                f"could not open a write transaction on {str(store.path)!r} ({exc})"
            ) from exc

    def complete(self, completion: Completion, *, now: float | None = None) -> bool:
        """Apply the attempt's completion inside this transaction (guarded by its token), at
        ``now`` (default: the store's clock, read under the write lock this transaction holds)."""
        try:
            when = self._store.now() if now is None else now
            # A stage job's run advances in this same transaction (run_verbs.completing).
            plan = run_verbs.completing(when, [completion])
            [result] = drive(self.connection, plan)
        except sqlite3.Error as exc:
            raise StoreError(f"could not complete job {completion.job_id} ({exc})") from exc
        return result.accepted

    def commit(self) -> None:
        """Commit the handler's writes and the completion together, and close."""
        try:
            self.connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"the commit failed ({exc})") from exc
        finally:
            self.connection.close()

    def rollback(self) -> None:
        """Discard everything written in the transaction, and close."""
        try:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
        finally:
            self.connection.close()

    def once_seen(self, key: str) -> bool:
        """See :meth:`StoreTransaction.once_seen`."""
        try:
            found = self.connection.execute(query("once_seen"), {"key": key}).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"could not read the once record {key!r} ({exc})") from exc
        return found is not None

    def record_once(self, key: str, job_id: int) -> bool:
        """See :meth:`StoreTransaction.record_once`.

        This transaction holds SQLite's write lock, so no other writer can record ``key``
        between :meth:`once_seen` and here: inside it, a conflict means an earlier commit.
        """
        try:
            return _record_once(self.connection, key, job_id, self._store.now())
        except sqlite3.Error as exc:
            raise StoreError(f"could not record the once key {key!r} ({exc})") from exc


def _record_once(conn: sqlite3.Connection, key: str, job_id: int, now: float) -> bool:
    cur = conn.execute(query("record_once"), {"key": key, "job_id": job_id, "now": now})
    return cur.rowcount == 1
