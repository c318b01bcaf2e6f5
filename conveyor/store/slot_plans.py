"""Firing a schedule's slots, written once for every store (see :mod:`.plan`).

:func:`fire_slots` is the plan both stores run inside one transaction: write the ledger rows
(won or not), start the pipeline run of each won slot that names one, insert the jobs of the
won slots, link runs and jobs to their slots, and advance the schedule's ``last_slot``. The
ledger insert decides which slots are this call's, so it and everything it decides commit
together. Each store gives only its statements (a :class:`SlotDialect`): how it inserts a
batch of slots and tells which it won, and how it writes the links.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from conveyor.store import run_plans
from conveyor.store.contract.records import InsertedJob, NewJob
from conveyor.store.plan import Plan, Statement
from conveyor.store.watch_types import SlotFire, SlotWritten

LinkKind = Literal["run", "job"]
"""What a won slot is linked to in its ledger row."""


class SlotDialect(Protocol):
    """What a store gives :func:`fire_slots`: its statements and its job and run writes."""

    @property
    def runs(self) -> run_plans.RunDialect:
        """The store's dialect of the run plans (a pipeline's slot starts a run)."""
        ...

    def insert_slots(
        self, schedule: str, fires: Sequence[SlotFire], now: float | None
    ) -> Plan[list[bool]]:
        """Write a ledger row per fire where none exists; per fire, whether this call wrote
        it (a slot given twice in one call is won by its first fire only)."""
        ...

    def insert_jobs(self, jobs: Sequence[NewJob], now: float | None) -> Plan[list[InsertedJob]]:
        """Insert jobs as ``insert_jobs`` does (unique keys included), in input order."""
        ...

    def link(self, kind: LinkKind, schedule: str, ids: dict[float, int]) -> Statement:
        """Set each slot's run or job id (``ids`` maps slot to id)."""
        ...

    def advance(self, schedule: str, slot: float) -> Statement:
        """Raise the schedule's ``last_slot`` to ``slot`` (never lower it)."""
        ...


def fire_slots(
    d: SlotDialect, schedule: str, fires: Sequence[SlotFire], now: float | None
) -> Plan[list[SlotWritten]]:
    """Ledger rows, then the runs and jobs of the rows this transaction won, then the links.

    Must run in one transaction; answers one :class:`SlotWritten` per fire, in input order.
    """
    if not fires:
        return []
    won = yield from d.insert_slots(schedule, fires, now)
    mine = [f for f, w in zip(fires, won, strict=True) if w]
    run_of: dict[float, int] = {}
    for fire in mine:
        if fire.run is not None:
            run_of[fire.slot] = yield from run_plans.start_run(d.runs, fire.run, now)
    if run_of:
        yield d.link("run", schedule, run_of)
    to_enqueue = [f for f in mine if f.job is not None]
    jobs = [f.job for f in to_enqueue if f.job is not None]
    job_of: dict[float, int] = {}
    if jobs:
        made = yield from d.insert_jobs(jobs, now)
        job_of = {f.slot: job.id for f, job in zip(to_enqueue, made, strict=True)}
        yield d.link("job", schedule, job_of)
    scheduled = [f.slot for f in fires if not f.manual]
    if scheduled:
        yield d.advance(schedule, float(max(scheduled)))
    return [
        SlotWritten(
            slot=f.slot,
            written=w,
            job_id=job_of.get(f.slot) if w else None,
            run_id=run_of.get(f.slot) if w else None,
        )
        for f, w in zip(fires, won, strict=True)
    ]
