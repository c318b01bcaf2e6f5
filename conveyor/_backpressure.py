"""Backpressure: refuse (or wait) when an enqueue would take a queue past its ``max_queued``.

The bound is checked with a bounded count just before the insert, not inside it. Counting in
the insert's transaction would serialise every producer of a queue on one lock (PostgreSQL) or
lengthen the single write lock (SQLite) on the hottest path there is, to protect a limit whose
purpose is to stop runaway growth, not to hold an exact number. So producers racing at the
boundary can overshoot it, each by at most the number of jobs it adds.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor._durations import Duration, to_seconds
from conveyor.errors import ConfigurationError, QueueFull
from conveyor.store.protocol import AsyncStore, NewJob, Store

FIRST_POLL = 0.05
"""Seconds before the first re-count while waiting for room; doubles up to :data:`MAX_POLL`."""
MAX_POLL = 1.0


def check_max_queued(value: object) -> int:
    """Return a valid ``max_queued`` (a positive int) or raise :class:`ConfigurationError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(
            f"max_queued must be a positive int (the most jobs a queue may hold waiting), got "
            f"{value!r}; pass max_queued=None to remove the limit"
        )
    return value


@dataclass(frozen=True, slots=True)
class Demand:
    """An enqueue's jobs for one bounded queue: how many it adds, and the queue's limit."""

    queue: str
    adding: int
    limit: int


def demands(
    jobs: Sequence[NewJob], limits: Mapping[str, int], held: frozenset[str] = frozenset()
) -> list[Demand]:
    """The bounded queues among ``jobs``, with how many jobs each would receive.

    A job whose unique key is ``held`` by an existing job, or taken by an earlier job of the
    same batch, adds nothing (the enqueue returns the holder), so it is not counted: a
    duplicate enqueue never raises :class:`QueueFull`.
    """
    counts: dict[str, int] = {}
    seen: set[str] = set()
    for job in jobs:
        if job.queue not in limits:
            continue
        if job.unique_key is not None:
            if job.unique_key in held or job.unique_key in seen:
                continue
            seen.add(job.unique_key)
        counts[job.queue] = counts.get(job.queue, 0) + 1
    return [Demand(queue, n, limits[queue]) for queue, n in sorted(counts.items())]


def bounded_keys(jobs: Sequence[NewJob], limits: Mapping[str, int]) -> list[str]:
    """The unique keys of jobs bound for a bounded queue: holders must be read for these."""
    return sorted({j.unique_key for j in jobs if j.queue in limits and j.unique_key is not None})


def wait_seconds(value: Duration | None) -> float | None:
    """``wait_for_room`` as seconds (None: do not wait)."""
    return None if value is None else to_seconds(value, what="wait_for_room")


def _full(demand: Demand, depth: int) -> QueueFull | None:
    if depth + demand.adding > demand.limit:
        return QueueFull(demand.queue, depth, demand.limit)
    return None


def _next_poll(delay: float, deadline: float) -> float:
    # Jitter keeps producers waiting on one queue from re-counting in step.
    return min(delay * random.uniform(0.8, 1.2), max(0.0, deadline - time.monotonic()))


@dataclass(frozen=True, slots=True)
class HeldKeys:
    """Ask the store which of ``keys`` are held (answered with a frozenset)."""

    keys: list[str]


@dataclass(frozen=True, slots=True)
class Depth:
    """Ask the store for ``queue``'s waiting jobs, counted up to ``cap`` (answered with an int)."""

    queue: str
    cap: int


@dataclass(frozen=True, slots=True)
class Pause:
    """Sleep ``seconds`` before counting again (answered with None)."""

    seconds: float


RoomPlan = Generator[HeldKeys | Depth | Pause, Any, None]


def make_room(jobs: Sequence[NewJob], limits: Mapping[str, int], wait: float | None) -> RoomPlan:
    """Return once every bounded queue has room for ``jobs``; raise :class:`QueueFull` if not.

    Written once, without I/O, and driven by :func:`ensure_room` and :func:`ensure_room_async`.
    With ``wait`` (seconds), re-count with growing pauses until there is room or the time is
    up. A batch larger than the limit itself can never fit, so it fails at once.
    """
    wanted = demands(jobs, limits)
    if not wanted:
        return
    keys = bounded_keys(jobs, limits)
    if keys:
        wanted = demands(jobs, limits, (yield HeldKeys(keys)))
    deadline = time.monotonic() + (wait or 0.0)
    delay = FIRST_POLL
    for demand in wanted:
        while True:
            # Count one past the limit: enough to tell "full", cheap however deep the queue.
            full = _full(demand, (yield Depth(demand.queue, demand.limit + 1)))
            if full is None:
                break
            if wait is None or demand.adding > demand.limit or time.monotonic() >= deadline:
                raise full
            yield Pause(_next_poll(delay, deadline))
            delay = min(delay * 2, MAX_POLL)


def ensure_room(
    store: Store, jobs: Sequence[NewJob], limits: Mapping[str, int], wait: float | None
) -> None:
    """Run :func:`make_room` against a sync store."""
    plan = make_room(jobs, limits, wait)
    reply: Any = None
    while True:
        try:
            step = plan.send(reply)
        except StopIteration:
            return
        if isinstance(step, HeldKeys):
            reply = store.held_unique_keys(step.keys)
        elif isinstance(step, Depth):
            reply = store.queue_depth(step.queue, step.cap)
        else:
            time.sleep(step.seconds)
            reply = None


async def ensure_room_async(
    store: AsyncStore, jobs: Sequence[NewJob], limits: Mapping[str, int], wait: float | None
) -> None:
    """Run :func:`make_room` against an async store (waits with ``asyncio.sleep``)."""
    plan = make_room(jobs, limits, wait)
    reply: Any = None
    while True:
        try:
            step = plan.send(reply)
        except StopIteration:
            return
        if isinstance(step, HeldKeys):
            reply = await store.held_unique_keys(step.keys)
        elif isinstance(step, Depth):
            reply = await store.queue_depth(step.queue, step.cap)
        else:
            await asyncio.sleep(step.seconds)
            reply = None
