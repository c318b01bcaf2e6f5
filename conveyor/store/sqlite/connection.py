"""Opening a SQLite database the way a multi-process job queue needs it.

WAL so readers never block the writer, ``synchronous=NORMAL`` (durable across application
crashes; see docs/architecture.md), a generous busy timeout, and every write in
``BEGIN IMMEDIATE`` so a transaction never has to upgrade its lock (which would fail at once
with SQLITE_BUSY, ignoring the busy timeout).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path

from conveyor.errors import (
    ConfigurationError,
    MigrationError,
    StoreError,
    StoreUnavailableError,
)
from conveyor.store.filters import args_contain, fold
from conveyor.store.sql_script import statements
from conveyor.store.sqlite.writer_lock import WriterLock

BUSY_TIMEOUT_SECONDS = 15.0
"""How long a write waits for the database's write lock, unless configured otherwise."""
BUSY_TIMEOUT_ENV = "CONVEYOR_SQLITE_BUSY_TIMEOUT"


def busy_timeout(value: float | None = None) -> float:
    """The write-lock wait in seconds: ``value``, else ``$CONVEYOR_SQLITE_BUSY_TIMEOUT``, else 15.

    Raises :class:`~conveyor.errors.ConfigurationError` for a value that is not a positive
    number of seconds.
    """
    raw: object = value if value is not None else os.environ.get(BUSY_TIMEOUT_ENV)
    if raw is None or raw == "":
        return BUSY_TIMEOUT_SECONDS
    try:
        seconds = float(raw)  # type: ignore[arg-type]
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigurationError(
            f"the SQLite busy timeout must be a positive number of seconds, got {raw!r}; "
            f"check {BUSY_TIMEOUT_ENV}"
        )
    return seconds


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


def connect(
    path: Path, *, synchronous: str = "NORMAL", timeout: float | None = None
) -> sqlite3.Connection:
    """Open ``path`` with the pragmas Conveyor relies on (busy timeout: :func:`busy_timeout`)."""
    wait = busy_timeout(timeout)
    try:
        conn = sqlite3.connect(path, timeout=wait, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA journal_size_limit=67108864")
        # The job filter's text search (conveyor.store.filters): Unicode case folding and
        # the argument rendering PostgreSQL searches, so both stores match the same jobs.
        conn.create_function("conveyor_fold", 1, fold, deterministic=True)
        conn.create_function("conveyor_args_contain", 2, args_contain, deterministic=True)
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

    def __init__(
        self, path: Path, *, synchronous: str = "NORMAL", timeout: float | None = None
    ) -> None:
        self.path = path
        self.timeout = busy_timeout(timeout)
        self.conn = connect(path, synchronous=synchronous, timeout=self.timeout)
        self.lock = threading.RLock()
        self.writer = WriterLock(path, self.timeout)
        self._writing = False  # a write() of the thread holding ``lock`` is open

    @contextmanager
    def write(self, *, handoff: bool = True) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction, committed on success, rolled back on error.

        ``handoff`` takes the :class:`WriterLock` too. Workers' writes (claims, completions,
        heartbeats) do; a producer's insert does not: producers write one job at a time, and
        handing the lock from one to the next on every insert halves their throughput.

        A write opened inside another on the same thread joins it (one transaction), so
        verbs compose: ``complete_and_claim`` runs ``claim_jobs``'s writes in its own.
        """
        with self.lock:
            if self._writing:
                yield self.conn  # the outer write commits or rolls back
                return
            with self.writer if handoff else contextlib.nullcontext():
                self._writing = True
                try:
                    with self._transaction() as conn:
                        yield conn
                finally:
                    self._writing = False

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _unavailable(self.path, exc, self.timeout) from exc
        try:
            yield self.conn
        except sqlite3.OperationalError as exc:
            self.conn.execute("ROLLBACK")
            raise _unavailable(self.path, exc, self.timeout) from exc
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
            raise _unavailable(self.path, exc, self.timeout) from exc

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read (one deferred transaction; inside an open write, that write)."""
        with self.lock:
            if self._writing:
                yield self.conn
                return
            try:
                self.conn.execute("BEGIN")
            except sqlite3.OperationalError as exc:
                raise _unavailable(self.path, exc, self.timeout) from exc
            try:
                yield self.conn
            except sqlite3.OperationalError as exc:
                self.conn.execute("ROLLBACK")
                raise _unavailable(self.path, exc, self.timeout) from exc
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


def _unavailable(
    path: Path, exc: sqlite3.OperationalError, timeout: float
) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"the SQLite database {str(path)!r} refused the operation ({exc}); nothing was "
        "changed and it is safe to retry. If it says 'locked', another process held the "
        f"write lock longer than {timeout:g}s (the busy timeout, {BUSY_TIMEOUT_ENV})"
    )
