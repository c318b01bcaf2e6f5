"""Opening a SQLite database the way a multi-process job queue needs it.

WAL so readers never block the writer, ``synchronous=NORMAL`` (durable across application
crashes; see docs/architecture.md), a generous busy timeout, and every write in
``BEGIN IMMEDIATE`` so a transaction never has to upgrade its lock (which would fail at once
with SQLITE_BUSY, ignoring the busy timeout).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path

from conveyor.errors import MigrationError, StoreError, StoreUnavailableError
from conveyor.store.sql_script import statements

BUSY_TIMEOUT_SECONDS = 15.0


@cache
def query(name: str) -> str:
    """The SQL text of ``queries/<name>.sql``, read once."""
    return resources.files("conveyor.store.sqlite").joinpath(f"queries/{name}.sql").read_text()


def migrations() -> list[tuple[int, str]]:
    """Numbered migrations shipped with the package, in order."""
    folder = resources.files("conveyor.store.sqlite").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


LATEST_VERSION = max(version for version, _ in migrations())


def connect(path: Path, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """Open ``path`` with the pragmas Conveyor relies on."""
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA journal_size_limit=67108864")
    except sqlite3.Error as exc:
        raise StoreUnavailableError(
            f"cannot open the SQLite database {str(path)!r}: {exc}; check the path in "
            "CONVEYOR_URL and that its folder exists and is writable"
        ) from exc
    return conn


class Database:
    """One connection, serialised by a lock, with transaction helpers.

    One write connection per process is the fastest shape for SQLite: writes are serialised by
    the database anyway, and more connections only lengthen the contention tail.
    """

    def __init__(self, path: Path, *, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.conn = connect(path, synchronous=synchronous)
        self.lock = threading.RLock()
        self.writer = WriterLock(path)

    @contextmanager
    def write(self, *, handoff: bool = True) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction, committed on success, rolled back on error.

        ``handoff`` takes the :class:`WriterLock` too. Workers' writes (claims, completions,
        heartbeats) do; a producer's insert does not: producers write one job at a time, and
        handing the lock from one to the next on every insert halves their throughput.
        """
        with self.lock, (self.writer if handoff else contextlib.nullcontext()):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _unavailable(self.path, exc) from exc
            try:
                yield self.conn
            except sqlite3.OperationalError as exc:
                self.conn.execute("ROLLBACK")
                raise _unavailable(self.path, exc) from exc
            except sqlite3.DatabaseError as exc:
                self.conn.execute("ROLLBACK")
                raise StoreError(
                    f"the SQLite database {str(self.path)!r} rejected a write ({exc}); nothing "
                    "was changed"
                ) from exc
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self.conn.execute("ROLLBACK")
                raise _unavailable(self.path, exc) from exc

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read (one deferred transaction)."""
        with self.lock:
            try:
                self.conn.execute("BEGIN")
            except sqlite3.OperationalError as exc:
                raise _unavailable(self.path, exc) from exc
            try:
                yield self.conn
            except sqlite3.OperationalError as exc:
                self.conn.execute("ROLLBACK")
                raise _unavailable(self.path, exc) from exc
            finally:
                if self.conn.in_transaction:
                    self.conn.execute("COMMIT")

    def data_version(self) -> int:
        """A counter that changes when another connection commits (cheap; no disk I/O)."""
        with self.lock:
            row = self.conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def schema_version(self) -> int:
        """The applied schema version (0 when the database is empty)."""
        with self.read() as conn:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='conveyor_schema_version'"
            ).fetchone()
            if not exists:
                return 0
            row = conn.execute("SELECT MAX(version) FROM conveyor_schema_version").fetchone()
        return int(row[0] or 0)

    def migrate(self) -> int:
        """Apply missing migrations in one immediate transaction (safe across processes)."""
        current = self.schema_version()
        if current == LATEST_VERSION:
            return current  # the common case takes no write lock
        with self.write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS conveyor_schema_version ("
                "version INTEGER PRIMARY KEY, applied_at REAL NOT NULL) STRICT"
            )
            row = conn.execute("SELECT MAX(version) FROM conveyor_schema_version").fetchone()
            current = int(row[0] or 0)
            if current > LATEST_VERSION:
                raise MigrationError(
                    f"the database {str(self.path)!r} has schema version {current}, newer than "
                    f"this Conveyor knows ({LATEST_VERSION}); upgrade Conveyor"
                )
            for version, sql in migrations():
                if version <= current:
                    continue
                for statement in statements(sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO conveyor_schema_version (version, applied_at) VALUES (?, ?)",
                    (version, time.time()),
                )
                current = version
        return current

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.conn.close()
            self.writer.close()


class WriterLock:
    """An OS file lock taken around every Conveyor write transaction on one database.

    SQLite lets one writer in at a time and makes the others retry by sleeping (1 ms, 2 ms,
    ... up to 100 ms between tries). Under steady contention the waiting processes sleep far
    longer than the transactions they wait for, and the workers end up taking turns instead
    of sharing the work. A blocking ``flock`` on a side file hands the lock over as soon as
    it is released; the kernel releases it too when its holder dies, even by ``kill -9``.
    Writers that do not take it (your own connections) still meet SQLite's busy timeout.
    """

    def __init__(self, path: Path) -> None:
        self._fd: int | None = None
        if str(path) == ":memory:":
            return
        try:
            self._fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            self._fd = None  # e.g. a read-only folder: SQLite's own locking still applies

    def __enter__(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _unavailable(path: Path, exc: sqlite3.OperationalError) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"the SQLite database {str(path)!r} refused the operation ({exc}); nothing was "
        "changed and it is safe to retry. If it says 'locked', another process held the "
        f"write lock longer than {BUSY_TIMEOUT_SECONDS:.0f}s"
    )
