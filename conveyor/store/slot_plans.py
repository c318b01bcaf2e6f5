"""Firing a schedule's slots, written once for every store (see :mod:`.plan`).

:func:`fire_many` is the plan both stores run inside one transaction: write the ledger rows
(won or not), start the pipeline run of each won slot that names one, insert the jobs of the
won slots, link runs and jobs to their slots, and advance the schedules' ``last_slot``; for
one schedule (:func:`fire_slots`) or for every schedule a scheduler round fires. The ledger
insert decides which slots are this call's, so it and everything it decides commit
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


SlotKey = tuple[str, float]
"""A ledger row's key: (schedule, slot)."""


class SlotDialect(Protocol):
    """What a store gives :func:`fire_many`: its statements and its job and run writes."""

    @property
    def runs(self) -> run_plans.RunDialect:
        """The store's dialect of the run plans (a pipeline's slot starts a run)."""
        ...

    def insert_slots(
        self, fires: Sequence[tuple[str, SlotFire]], now: float | None
    ) -> Plan[list[bool]]:
        """Write a ledger row per (schedule, fire) where none exists; per fire, whether this
        call wrote it (a slot given twice in one call is won by its first fire only)."""
        ...

    def insert_jobs(self, jobs: Sequence[NewJob], now: float | None) -> Plan[list[InsertedJob]]:
        """Insert jobs as ``insert_jobs`` does (unique keys included), in input order."""
        ...

    def link(self, kind: LinkKind, ids: dict[SlotKey, int]) -> Statement:
        """Set each slot's run or job id (``ids`` maps (schedule, slot) to id)."""
        ...

    def advance(self, slots: dict[str, float]) -> Statement:
        """Raise each schedule's ``last_slot`` to its slot here (never lower it)."""
        ...


def fire_slots(
    d: SlotDialect, schedule: str, fires: Sequence[SlotFire], now: float | None
) -> Plan[list[SlotWritten]]:
    """:func:`fire_many` for one schedule."""
    answers = yield from fire_many(d, [(schedule, fires)], now)
    return answers[0]


def fire_many(
    d: SlotDialect, batches: Sequence[tuple[str, Sequence[SlotFire]]], now: float | None
) -> Plan[list[list[SlotWritten]]]:
    """Ledger rows, then the runs and jobs of the rows this transaction won, then the links,
    for the slots of any number of schedules at once (a scheduler's whole round).

    Must run in one transaction; answers, per batch in input order, one :class:`SlotWritten`
    per fire in input order. The statements do not grow with the number of schedules: one
    ledger insert, one job insert, one link and one advance for all of them (SQLite sends
    them row by row within its write lock, where that costs no round trip).
    """
    pairs = [(schedule, fire) for schedule, fires in batches for fire in fires]
    if not pairs:
        return [[] for _ in batches]
    won = yield from d.insert_slots(pairs, now)
    mine = [pair for pair, w in zip(pairs, won, strict=True) if w]
    run_of: dict[SlotKey, int] = {}
    for schedule, fire in mine:
        if fire.run is not None:
            run_of[(schedule, fire.slot)] = yield from run_plans.start_run(d.runs, fire.run, now)
    if run_of:
        yield d.link("run", run_of)
    to_enqueue = [(schedule, fire) for schedule, fire in mine if fire.job is not None]
    job_of: dict[SlotKey, int] = {}
    if to_enqueue:
        jobs = [fire.job for _, fire in to_enqueue if fire.job is not None]
        made = yield from d.insert_jobs(jobs, now)
        job_of = {
            (schedule, fire.slot): job.id
            for (schedule, fire), job in zip(to_enqueue, made, strict=True)
        }
        yield d.link("job", job_of)
    last: dict[str, float] = {}
    for schedule, fire in pairs:
        if not fire.manual:
            last[schedule] = max(last.get(schedule, fire.slot), float(fire.slot))
    if last:
        yield d.advance(last)
    answers: list[list[SlotWritten]] = []
    index = 0
    for schedule, fires in batches:
        answer = []
        for fire in fires:
            w = won[index]
            index += 1
            key = (schedule, fire.slot)
            answer.append(
                SlotWritten(
                    slot=fire.slot,
                    written=w,
                    job_id=job_of.get(key) if w else None,
                    run_id=run_of.get(key) if w else None,
                )
            )
        answers.append(answer)
    return answers
