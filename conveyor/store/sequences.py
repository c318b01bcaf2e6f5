"""Sequences (``sequence=``): one job of a key at a time, in enqueue order, on every store.

A job of a sequence is written ``held``. A held job is *released* (to ``queued``, or to
``scheduled`` when it is due later) when nothing of its key is ahead of it: no job of the key is
waiting to run, running or retrying, and no dead job of the key blocks it (``on_dead="block"``).
Of the held jobs of a free key the one with the lowest id goes first, so order is enqueue order.

Every write that can free a key (an insert, a completion, a rescue, a cancel, an expiry, a
replay, a discard) ends with :func:`advance` over the keys it touched, in the same transaction.
On PostgreSQL the keys are locked first (advisory transaction locks): an insert and the end of
the key's head can then not both miss each other, whichever commits first. SQLite has one
writer at a time, so its lock is a no-op. The stores give only their statements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from conveyor._lifecycle import Action, sources, target
from conveyor.models import JobState
from conveyor.store.plan import Plan, Statement
from conveyor.store.protocol import InsertedJob, JobBatch, NewJob

UNFINISHED = ("scheduled", "queued", "running", "retrying")
"""The states of a job that is ahead of a held one: its key is busy while one exists."""

Lock = Callable[[list[str]], Plan[None]]
"""Keep every other writer of ``keys`` out until the transaction ends (sorted keys)."""
Release = Callable[[list[str]], Statement]
"""The statement that releases the first held job of each free key, rows (id, state)."""
KeysOf = Callable[[list[int]], Statement]
"""The statement that reads the sequence keys of jobs by id, rows (key,)."""


def release_params() -> dict[str, Any]:
    """The lifecycle's states as the release statements' parameters (they name none)."""
    [held] = sources(Action.ADVANCE)
    return {
        "held_state": str(held),
        "due_state": str(target(Action.ADVANCE)),
        "later_state": str(target(Action.ADVANCE_LATER)),
    }


def requeue_state() -> str:
    """The state a sequenced job run again goes to first (back in line)."""
    return str(target(Action.REQUEUE))


def has_sequence(jobs: Sequence[NewJob]) -> bool:
    """True when some job of the batch belongs to a sequence (and so takes the locking path)."""
    if isinstance(jobs, JobBatch):  # one template for all: no job to build
        return jobs.template.sequence_key is not None
    return any(job.sequence_key is not None for job in jobs)


def sequence_keys(jobs: Sequence[NewJob]) -> list[str]:
    """The batch's distinct sequence keys, sorted: every writer locks them in the same order."""
    return sorted({job.sequence_key for job in jobs if job.sequence_key is not None})


def insert_in_sequence(
    jobs: Sequence[NewJob],
    lock: Lock,
    insert: Callable[[Sequence[NewJob]], Plan[list[InsertedJob]]],
    release: Release,
) -> Plan[list[InsertedJob]]:
    """Insert a batch whose sequenced jobs start ``held``, then release each free key's first.

    The answers carry the state each job has when the transaction ends.
    """
    keys = sequence_keys(jobs)
    yield from lock(keys)
    inserted = yield from insert(jobs)
    released = yield release(keys)
    states = {int(r[0]): JobState(r[1]) for r in released.rows}
    return [
        replace(job, state=states[job.id]) if job.id in states and not job.duplicate else job
        for job in inserted
    ]


def advance(keys_of: KeysOf, lock: Lock, release: Release, ids: Sequence[int]) -> Plan[list[int]]:
    """After jobs ``ids`` changed state: release the next job of each of their keys that is
    free now. Returns the released ids. No statement at all when ``ids`` is empty."""
    if not ids:
        return []
    found = yield keys_of(list(ids))
    keys = sorted({str(r[0]) for r in found.rows if r[0] is not None})
    return (yield from advance_keys(lock, release, keys))


def advance_keys(lock: Lock, release: Release, keys: list[str]) -> Plan[list[int]]:
    """Release the first held job of each free key of ``keys`` (locked first)."""
    if not keys:
        return []
    yield from lock(keys)
    released = yield release(keys)
    return sorted(int(r[0]) for r in released.rows)


def no_lock(keys: list[str]) -> Plan[None]:
    """SQLite's lock: its writes already hold the one write lock."""
    return
    yield  # a plan of no statements
