"""The OS file lock Conveyor's own writers take around every write transaction on one database.

SQLite lets one writer in at a time and makes the others retry by sleeping (1 ms, 2 ms,
... up to 100 ms between tries). Under steady contention the waiting processes sleep far
longer than the transactions they wait for, and the workers end up taking turns instead
of sharing the work. A blocking ``flock`` on a side file hands the lock over as soon as
it is released; the kernel releases it too when its holder dies, even by ``kill -9``.
Writers that do not take it (your own connections) still meet SQLite's busy timeout.

``flock`` has no timeout, and a holder may itself wait a whole busy timeout for SQLite's lock,
so the wait is bounded here: an uncontended lock is taken at once on the caller's thread; a
contended one is waited for by a helper thread (still a blocking ``flock``, so the hand-over
stays immediate) while the caller waits at most ``timeout`` seconds for it.
"""

from __future__ import annotations

import fcntl
import os
import queue
import threading
from pathlib import Path

from conveyor.errors import StoreUnavailableError


class _Request:
    """One contended acquisition handed to the helper thread."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.mutex = threading.Lock()
        self.granted = False
        self.abandoned = False


class WriterLock:
    """An exclusive ``flock`` on ``<database>-writer.lock``, waited for at most ``timeout`` s.

    Not re-entrant; callers serialise their own threads (``Database.lock``).
    """

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._helper: threading.Thread | None = None
        self._outstanding = 0  # requests the helper has not finished (guarded by _count_lock)
        self._count_lock = threading.Lock()
        if str(path) == ":memory:":
            return
        try:
            self._fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            self._fd = None  # e.g. a read-only folder: SQLite's own locking still applies

    def __enter__(self) -> None:
        if self._fd is None:
            return
        with self._count_lock:
            helper_busy = self._outstanding > 0
        if not helper_busy:
            # While the helper still waits for an abandoned request, a lock taken here would
            # be released by it when that request is granted: go through the helper instead.
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
        self._wait()

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _wait(self) -> None:
        request = _Request()
        with self._count_lock:
            self._outstanding += 1
        self._start_helper()
        self._requests.put(request)
        if request.done.wait(self.timeout):
            return
        with request.mutex:
            if request.granted:
                return  # granted just as the wait ran out: keep it
            request.abandoned = True
        raise StoreUnavailableError(
            f"another Conveyor process held the write lock of the SQLite database "
            f"{str(self.path)!r} (the file {str(self.path)!r}-writer.lock) for more than "
            f"{self.timeout:g}s; nothing was changed and it is safe to retry. A long write "
            "(e.g. a job's ctx.transaction) or a stopped process may be holding it; raise the "
            "wait with CONVEYOR_SQLITE_BUSY_TIMEOUT if long writes are expected"
        )

    def _start_helper(self) -> None:
        if self._helper is None or not self._helper.is_alive():
            assert self._fd is not None
            # The helper locks through a duplicate of the descriptor: the same open file
            # description, so the lock it takes is the one __exit__ releases, and a close()
            # while it still waits cannot make it touch a reused descriptor number.
            fd = os.dup(self._fd)
            self._helper = threading.Thread(
                target=self._serve, args=(fd,), name="conveyor-writer-lock", daemon=True
            )
            self._helper.start()

    def _serve(self, fd: int) -> None:
        try:
            while True:
                request = self._requests.get()
                if request is None:
                    return
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    with request.mutex:
                        if request.abandoned:
                            fcntl.flock(fd, fcntl.LOCK_UN)
                        else:
                            request.granted = True
                            request.done.set()
                finally:
                    with self._count_lock:
                        self._outstanding -= 1
        finally:
            os.close(fd)

    def close(self) -> None:
        """Close the lock file (a helper still waiting closes its descriptor when it ends)."""
        if self._helper is not None:
            self._requests.put(None)
            self._helper = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
