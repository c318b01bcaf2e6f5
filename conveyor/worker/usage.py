"""Usage accounting in the worker: what each attempt cost, measured around it and written in
batches to the store's usage table (``conveyor usage``, the dashboard, ``Budget`` alerts).

The meter is a built-in middleware, so it sees every attempt, sync and async, with its
context: wall time is measured around the rest of the chain. CPU seconds are the handler
thread's for sync jobs (the executor reads ``time.thread_time()`` on that thread) and the
whole process's over the attempt for async jobs, which share the event loop: concurrent async
attempts each count the others' CPU too. Memory is the process's resident set at the end of
the attempt (a process-wide figure: concurrent attempts share it). Rows are written by a
periodic service off the completion path, so a slow or failing usage write never delays or
loses a job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import sys
import time
from collections import deque

from conveyor.middleware import AttemptEnd, AttemptStart, CallNext, Middleware
from conveyor.store.contract.usage import UsageRow
from conveyor.store.protocol import AsyncStore
from conveyor.worker.periodic import PeriodicService

log = logging.getLogger("conveyor.worker")

MAX_PENDING = 10_000
"""Rows kept while the store is unreachable; past it the oldest are dropped (and counted)."""

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


_statm: dict[int, int] = {}
"""This process's open ``/proc/self/statm`` by pid: re-read, never reopened (an open per
attempt was half the meter's cost); a forked child opens its own."""


def _statm_fd() -> int:
    pid = os.getpid()
    fd = _statm.get(pid)
    if fd is None:
        for inherited in _statm.values():  # a parent's descriptor reads the parent
            with contextlib.suppress(OSError):
                os.close(inherited)
        _statm.clear()
        fd = _statm[pid] = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
    return fd


def resident_mb() -> float:
    """This process's resident memory in MiB (Linux: now; elsewhere: its peak so far)."""
    try:
        return int(os.pread(_statm_fd(), 128, 0).split()[1]) * _PAGE / (1024 * 1024)
    except (OSError, IndexError, ValueError, AttributeError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # ru_maxrss is in KiB on Linux and bytes on macOS.
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


MEMORY_EVERY = 0.1
"""Seconds a resident-memory reading is reused for the attempts ending after it."""


class UsageMeter(Middleware):
    """Measures each attempt and keeps its :class:`UsageRow` until :class:`UsageWriter`
    takes it."""

    def __init__(self) -> None:
        self.pending: deque[UsageRow] = deque()
        self.dropped = 0
        self._memory = 0.0
        self._memory_at = -MEMORY_EVERY

    def memory_mb(self, now: float) -> float:
        """The process's resident memory, read at most every :data:`MEMORY_EVERY` seconds.

        Reading ``/proc/self/statm`` was a quarter of the meter's cost, and at thousands of
        attempts a second the process's memory does not change between them by any amount
        the figure could show (it is the process's, not the attempt's, either way).
        """
        if now - self._memory_at >= MEMORY_EVERY:
            self._memory, self._memory_at = resident_mb(), now
        return self._memory

    async def around_attempt(self, attempt: AttemptStart, call_next: CallNext) -> AttemptEnd:
        """Time the attempt; record its row after it ended (never delaying its completion)."""
        ctx = attempt.ctx
        began, cpu_began = time.monotonic(), time.process_time()
        end = await call_next()
        ended = time.monotonic()
        cpu = ctx._cpu if ctx._cpu is not None else time.process_time() - cpu_began
        self.add(UsageRow(
            job_id=ctx.job_id, attempt=ctx.attempt, name=ctx.name, queue=ctx.queue,
            tenant=ctx.tenant, finished_at=time.time(), wall=ended - began,
            cpu=max(0.0, cpu), memory_mb=self.memory_mb(ended), units=ctx.take_units(),
        ))
        return end

    def add(self, row: UsageRow) -> None:
        """Keep ``row`` for the next write, dropping the oldest past :data:`MAX_PENDING`."""
        if len(self.pending) >= MAX_PENDING:
            self.pending.popleft()
            self.dropped += 1
        self.pending.append(row)

    def take(self) -> list[UsageRow]:
        """Every kept row, removed."""
        rows = list(self.pending)
        self.pending.clear()
        return rows


class UsageWriter(PeriodicService):
    """Writes the meter's rows every ``interval``, in one transaction per batch."""

    name = "usage"

    def __init__(self, store: AsyncStore, meter: UsageMeter, interval: float = 1.0) -> None:
        super().__init__(interval, run_at_start=False)
        self.store = store
        self.meter = meter

    async def tick(self) -> None:
        """Write what the meter holds; on failure put it back for the next tick."""
        rows = self.meter.take()
        if not rows:
            return
        # A store that runs its verbs on one thread of its own (SQLite's) takes the batch
        # there, between claims; otherwise the sync store's call waits on a helper thread.
        on_store_thread = getattr(self.store, "record_usage", None)
        try:
            if on_store_thread is not None:
                await on_store_thread(rows)
            else:
                await asyncio.to_thread(self.store.sync.record_usage, rows)
        except BaseException:
            for row in reversed(rows):
                self.meter.pending.appendleft(row)
            raise

    async def final(self) -> None:
        """The last write as the worker stops: a failure is logged, not raised."""
        try:
            await self.tick()
        except Exception as exc:
            log.warning("could not write the usage of %d attempts: %s",
                        len(self.meter.pending), exc)
