"""The threads sync handlers run on, and the cheap way their results get back to the loop.

``loop.run_in_executor`` costs about 18 µs of CPU a call, and 29 µs with the
``wait_for(shield(...))`` a timeout needed (``benchmarks/sync_hop.py``): a concurrent future
with its condition variable, a work item, the chaining of two futures, and one wake-up of the
event loop (a write to its self-pipe) for every result. Here a call is a tuple on a queue read
by long-lived threads, and results are handed back in batches: the thread that finds the
hand-back list empty schedules one drain on the loop, and every result that arrives before
that drain runs rides along, so a busy worker wakes its loop once for many results.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Call = tuple["asyncio.Future[Any]", contextvars.Context, Callable[[], Any]]


class JobThreads:
    """Up to ``size`` threads that run calls handed over from one event loop.

    Threads start when work needs them (as a ``ThreadPoolExecutor``'s do) and are daemons:
    a thread stuck in a handler must not keep the process alive once the worker has given up
    on it (the executor asks for the process to be replaced instead).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int, name: str) -> None:
        self._loop = loop
        self._size = size
        self._name = name
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._results: list[tuple[asyncio.Future[Any], bool, Any]] = []
        self._closed = False

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``fn`` on a thread, in a copy of the caller's context; await the future for its
        result (or its exception). Cancelling the future before a thread takes the call skips
        it; after, the call runs on and its result is dropped."""
        if self._closed:
            raise RuntimeError("the job threads are shut down")
        future: asyncio.Future[T] = self._loop.create_future()
        with self._lock:
            start = self._idle == 0 and len(self._threads) < self._size
            if not start:
                self._idle -= 1
        self._calls.put((future, contextvars.copy_context(), fn))
        if start:
            thread = threading.Thread(
                target=self._serve, name=f"{self._name}_{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return future

    def shutdown(self) -> None:
        """Take no more calls; calls not yet taken are cancelled, running ones run on."""
        self._closed = True
        while True:
            try:
                call = self._calls.get_nowait()
            except queue.Empty:
                break
            if call is not None:
                call[0].cancel()
        for _ in self._threads:
            self._calls.put(None)

    def _serve(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            future, context, fn = call
            if not future.cancelled():  # read across threads: a hint, settled on the loop
                try:
                    result: tuple[asyncio.Future[Any], bool, Any] = (
                        future, True, context.run(fn)
                    )
                except BaseException as exc:  # handed to the awaiting task, as an executor does
                    result = (future, False, exc)
                self._hand_back(result)
            with self._lock:
                self._idle += 1

    def _hand_back(self, result: tuple[asyncio.Future[Any], bool, Any]) -> None:
        with self._lock:
            self._results.append(result)
            first = len(self._results) == 1
        if first:
            # A closed loop (RuntimeError) has nobody waiting any more.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            results, self._results = self._results, []
        for future, ok, value in results:
            if future.cancelled():
                continue
            if ok:
                future.set_result(value)
            else:
                try:
                    future.set_exception(value)
                except TypeError:  # asyncio refuses StopIteration; the task still gets an error
                    error = RuntimeError(f"a sync handler's thread raised {value!r}")
                    error.__cause__ = value
                    future.set_exception(error)
