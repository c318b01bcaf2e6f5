"""Unique keys in a batch insert, decided once for every store.

:func:`insert_unique` is the plan every store runs: lock the batch's keys so that no other
producer can commit a holder until this transaction ends (PostgreSQL: advisory locks; SQLite:
its single write lock), read the jobs that hold them, then decide which jobs of the batch to
write and what to answer for each one, in input order. A later job of the batch whose key an
earlier one takes is a duplicate of that earlier job. Each store gives only its statements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from conveyor.models import JobState
from conveyor.store.plan import Plan, Statement
from conveyor.store.protocol import InsertedJob, JobBatch, NewJob


def insert_unique(
    jobs: Sequence[NewJob],
    lock: Callable[[list[str]], Plan[None]],
    holders: Callable[[list[str]], Statement],
    insert: Callable[[Sequence[NewJob]], Plan[list[InsertedJob]]],
) -> Plan[list[InsertedJob]]:
    """Insert a batch with unique keys, one transaction; answers in input order.

    ``lock(keys)`` keeps every other producer of ``keys`` out until the transaction ends;
    ``holders(keys)`` reads, *after* the lock is held, the jobs holding them as rows of
    :func:`holders_from_rows`; ``insert(jobs)`` writes the jobs no one holds.
    """
    keys = unique_keys(jobs)
    yield from lock(keys)
    found = yield holders(keys)
    batch = UniqueBatch.split(jobs, holders_from_rows(found.rows))
    inserted = (yield from insert(batch.to_insert)) if batch.to_insert else []
    return batch.answer(inserted)


def has_unique(jobs: Sequence[NewJob]) -> bool:
    """True when some job of the batch has a unique key (and so takes the locking path)."""
    if isinstance(jobs, JobBatch):  # one template for all: no job to build
        return jobs.template.unique_key is not None
    return any(job.unique_key is not None for job in jobs)


def unique_keys(jobs: Sequence[NewJob]) -> list[str]:
    """The batch's distinct keys, sorted: every producer locks them in the same order."""
    return sorted({job.unique_key for job in jobs if job.unique_key is not None})


def holders_from_rows(found: Iterable[Sequence[Any]]) -> dict[str, InsertedJob]:
    """Rows of (key, id, state, name, held_until, created_at), ordered by id, as each key's
    holder.

    Normally a key has at most one holder; replaying a dead job can make two, and then the
    newest one answers.
    """
    return {
        row[0]: InsertedJob(
            id=row[1],
            state=JobState(row[2]),
            duplicate=True,
            held_until=None if row[4] is None else float(row[4]),
            name=row[3],
            created_at=float(row[5]),
        )
        for row in found
    }


@dataclass
class UniqueBatch:
    """Which jobs of a batch to write, and how to answer for every job of it."""

    to_insert: list[NewJob] = field(default_factory=list)
    _answers: list[InsertedJob | int | tuple[int]] = field(default_factory=list)
    """Per input job: the holder, the index of its row in ``to_insert``, or ``(index,)`` for a
    duplicate of an earlier job of the same batch."""

    @classmethod
    def split(cls, jobs: Sequence[NewJob], holders: dict[str, InsertedJob]) -> UniqueBatch:
        """Decide each job: held by an existing job, by an earlier job of the batch, or new."""
        batch = cls()
        first: dict[str, int] = {}
        for job in jobs:
            key = job.unique_key
            if key is not None and key in holders:
                batch._answers.append(holders[key])
            elif key is not None and key in first:
                batch._answers.append((first[key],))
            else:
                if key is not None:
                    first[key] = len(batch.to_insert)
                batch._answers.append(len(batch.to_insert))
                batch.to_insert.append(job)
        return batch

    def answer(self, inserted: Sequence[InsertedJob]) -> list[InsertedJob]:
        """Results in input order, given what inserting :attr:`to_insert` returned."""
        out = []
        for slot in self._answers:
            if isinstance(slot, InsertedJob):
                out.append(slot)
            elif isinstance(slot, int):
                out.append(inserted[slot])
            else:
                earlier = inserted[slot[0]]
                name = self.to_insert[slot[0]].name
                out.append(replace(earlier, duplicate=True, held_until=None, name=name))
        return out
