"""The scheduler: turns due slots into jobs, exactly once per slot across every replica.

Every worker process may run one. Each round reads the schedules from the store, works out
which slots came due since each schedule's newest ledger row, and writes those of every
schedule with one
:meth:`~conveyor.store.contract.schedules.ScheduleVerbs.fire_schedules`: a ledger row per slot,
keyed by (schedule, slot), in the same transaction as the slot's job. Two schedulers that race for a
slot both try; the key lets one of them write it. No leader is needed, so a scheduler that dies
mid-round costs nothing: the next round of any replica picks the slot up.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conveyor.errors import ConveyorError
from conveyor.schedules import slots as slot_writes
from conveyor.schedules.definition import ScheduleDef
from conveyor.schedules.misfire import decide_fires, on_time_window
from conveyor.schedules.timing import Timing
from conveyor.store.protocol import NewJob
from conveyor.store.watch_types import (
    ScheduleRow,
    SlotFire,
    SlotStatus,
    SlotWritten,
)

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.store.protocol import Store

log = logging.getLogger("conveyor.scheduler")

ROUND_SLOTS = 1000
"""Most ledger rows one round writes per schedule; a longer backlog continues next round."""
MAX_SLEEP = 1.0

ALIVE_LEASE = "scheduler:alive"
"""The lease every running scheduler (in a worker or ``conveyor scheduler``) keeps taking:
while someone holds it, some scheduler is running. The monitor alarms when nobody has for
a while and schedules are active (``no_scheduler``), before their next slot is missed."""
ALIVE_EVERY = 10.0
"""Seconds between a scheduler's attempts to take or extend :data:`ALIVE_LEASE`."""
ALIVE_FOR = 30.0
"""How long one taking of :data:`ALIVE_LEASE` lasts: three attempts, so a holder that misses
one keeps it, and a spare takes it over within ``ALIVE_EVERY`` of it running out."""
STANDBY_EVERY = ALIVE_EVERY
"""The longest pause between the rounds of a scheduler that does not hold :data:`ALIVE_LEASE`
(a standby, decision 143). Its rounds still fire what is due, so a slot its holder missed
(the holder died or is handing over) runs late by at most this, or by half the shortest
on-time window among the active schedules when that is shorter (:func:`standby_pause`)."""


@dataclass
class RoundReport:
    """What one scheduler round did."""

    enqueued: dict[str, list[float]] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    """Slots not run because the previous run was going (overlap) or the schedule paused."""
    lost_races: int = 0
    """Slots another scheduler wrote first (nothing was enqueued twice)."""
    errors: dict[str, str] = field(default_factory=dict)
    next_due: float | None = None
    """The earliest slot after this round, among active schedules (store clock)."""
    standby: float = STANDBY_EVERY
    """The pause before a standby's next round, for the schedules this round saw
    (:func:`standby_pause`)."""


class Scheduler:
    """Fires the app's schedules (and the store's run-time ones) through a store."""

    def __init__(
        self,
        app: Conveyor,
        *,
        store: Store | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        self.app = app
        self.store = store or app.store
        self._now = now or self.store.now
        self._store_clock = now is None
        """The clock is the store's: a statement each read, so a round reads it only when a
        schedule needs it (an idle fleet's rounds were most of its statements)."""
        self._round_clock: tuple[float, float] | None = None
        """The last round's store time and the monotonic time it was read at."""
        self._synced = False
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        """This scheduler's name in :data:`ALIVE_LEASE`."""
        self._alive_at: float | None = None
        self.active = True
        """Whether this scheduler held :data:`ALIVE_LEASE` at its last attempt: it then runs
        its rounds at the slots' pace, else at the standby's (:meth:`sleep_hint`)."""

    def announce(self, now: float | None) -> bool:
        """Say "a scheduler is running" in the store (take or extend :data:`ALIVE_LEASE`), at
        most every :data:`ALIVE_EVERY` seconds; True when this scheduler holds it. ``now``
        None: the lease is timed by the store's clock in its own statement (and paced by the
        process's monotonic clock).

        Only one scheduler holds the lease at a time; the others' attempts fail harmlessly,
        they run as standbys, and one takes it over once its holder stops. :meth:`run_round`
        calls this every round; between attempts it answers from the last one.
        """
        pace = time.monotonic() if self._store_clock or now is None else now
        if self._alive_at is not None and 0 <= pace - self._alive_at < ALIVE_EVERY:
            return self.active
        self._alive_at = pace
        self.active = self.store.set_lease(ALIVE_LEASE, self.holder, ALIVE_FOR, now=now)
        return self.active

    def release(self) -> None:
        """Give up :data:`ALIVE_LEASE` (at shutdown), so a spare scheduler takes it at once.
        Someone else's lease is left alone."""
        self.store.set_lease(ALIVE_LEASE, self.holder, None)
        self._alive_at = None

    def sync(self) -> None:
        """Write the app's code-declared schedules to the store (definitions only)."""
        self.store.put_schedules([d.to_row() for d in self.app.schedules.values()])
        self._synced = True

    def run_round(self) -> RoundReport:
        """Fire every due slot of every active schedule once; never raises for one schedule.

        The due slots of all schedules are written with one ``fire_schedules`` call (one
        transaction, the same few statements however many schedules are due). Should that
        call fail, each schedule is fired on its own, so one that cannot be written (a job
        whose arguments no longer fit) does not hold the others back.
        """
        if not self._synced:
            self.sync()
        report = RoundReport()
        rows = self.store.list_schedules()
        if not rows and self._store_clock:
            self.announce(None)  # no schedule needs the time this round
            return report
        now = self._now()
        self._round_clock = (now, time.monotonic())
        self.announce(now)
        due, batches, timings = self._read_rows(rows, now, report)
        report.standby = standby_pause(timings, now)
        # Overlap is about runs from earlier rounds: one read for every schedule that asks.
        ask = [d.name for d, _, runs in due if any(runs) and d.overlap == "skip"]
        busy = self.store.busy_schedules(ask) if ask else frozenset()
        for definition, slots, runs in due:
            try:
                batches.append(
                    (definition.name, self._fires(definition, slots, runs, definition.name in busy))
                )
            except ConveyorError as exc:
                report.errors[definition.name] = str(exc)
                log.error("schedule %s: %s", definition.name, exc)
        if not batches:
            return report
        try:
            written = self.store.fire_schedules(batches)
        except ConveyorError as exc:
            log.warning("firing %d schedules together failed (%s); one by one", len(batches), exc)
            for name, fires in batches:
                self._fire_one(name, fires, report)
            return report
        except BaseException as exc:
            for _, fires in batches:
                slot_writes.settle_fires(fires, None, exc)
            raise
        for (name, fires), answer in zip(batches, written, strict=True):
            slot_writes.settle_fires(fires, answer, read_run=self.store.get_run)
            self._record(name, fires, answer, report)
        return report

    def _read_rows(
        self, rows: Sequence[ScheduleRow], now: float, report: RoundReport
    ) -> tuple[
        list[tuple[ScheduleDef, list[float], list[bool]]], list[tuple[str, list[SlotFire]]],
        list[Timing],
    ]:
        """A round's reading of the schedules at ``now``: the active ones' due slots (with
        whether each would run), the paused ones' slots to record, and the active ones'
        timings; a schedule this process cannot run is reported and left out."""
        timings: list[Timing] = []
        due: list[tuple[ScheduleDef, list[float], list[bool]]] = []
        batches: list[tuple[str, list[SlotFire]]] = []
        for row in rows:
            try:
                definition = self.definition(row)
                if definition is None:
                    continue
                if row.paused:
                    # Recorded, not dropped: the ledger shows the slots a pause cost.
                    slots = self._due_slots(definition, row, now)
                    fires = [SlotFire(s, SlotStatus.PAUSED, by=row.paused_by) for s in slots]
                    if fires:
                        batches.append((definition.name, fires))
                else:
                    timings.append(definition.timing)
                    slots, runs = self._decide(definition, row, now)
                    if slots:
                        due.append((definition, slots, runs))
                upcoming = definition.timing.next_after(now)
                if report.next_due is None or upcoming < report.next_due:
                    report.next_due = upcoming
            except ConveyorError as exc:
                # One broken schedule (a job whose arguments changed) must not stop the rest.
                report.errors[row.name] = str(exc)
                log.error("schedule %s: %s", row.name, exc)
        return due, batches, timings

    def _fire_one(self, name: str, fires: list[SlotFire], report: RoundReport) -> None:
        """Write one schedule's fires on their own (after a failed write of the whole round)."""
        try:
            answer = self.store.fire_slots(name, fires)
        except BaseException as one:
            slot_writes.settle_fires(fires, None, one)
            if not isinstance(one, ConveyorError):
                raise
            report.errors[name] = str(one)
            log.error("schedule %s: %s", name, one)
            return
        slot_writes.settle_fires(fires, answer, read_run=self.store.get_run)
        self._record(name, fires, answer, report)

    def sleep_hint(self, report: RoundReport) -> float:
        """Seconds until the next round: the next slot, at most a second away; for a standby
        (:attr:`active` False), the standby's pause (:func:`standby_pause`)."""
        if not self.active:
            return report.standby
        if report.next_due is None:
            return MAX_SLEEP
        if self._store_clock and self._round_clock is not None:
            # The round's reading of the store's clock, moved on by the time since: no second
            # statement for a pause of at most a second.
            read, at = self._round_clock
            now = read + (time.monotonic() - at)
        else:
            now = self._now()
        return min(MAX_SLEEP, max(0.01, report.next_due - now))

    def definition(self, row: ScheduleRow) -> ScheduleDef | None:
        """This process's definition of a stored schedule, or None when it cannot run it.

        See :func:`conveyor.schedules.slots.definition_for`.
        """
        return slot_writes.definition_for(self.app, row)

    @staticmethod
    def _due_slots(definition: ScheduleDef, row: ScheduleRow, now: float) -> list[float]:
        """The schedule's slots due since its newest ledger row (at most ``ROUND_SLOTS``)."""
        after = row.last_slot if row.last_slot is not None else row.created_at
        return list(definition.timing.slots_between(after, now, ROUND_SLOTS))

    def _decide(
        self, definition: ScheduleDef, row: ScheduleRow, now: float
    ) -> tuple[list[float], list[bool]]:
        """The due slots of an active schedule and, per slot, whether its catch-up policy
        runs it (or records it missed)."""
        slots = self._due_slots(definition, row, now)
        if not slots:
            return [], []
        timing = definition.timing
        after = row.last_slot if row.last_slot is not None else row.created_at
        on_time = on_time_window(timing, now)
        late_total = sum(1 for slot in slots if now - slot > on_time)
        if late_total == ROUND_SLOTS:  # the round holds only late slots: there may be more
            late_total = timing.count_between(after, now - on_time)
        runs = decide_fires(
            slots,
            now=now,
            on_time=on_time,
            late_total=late_total,
            catch_up=definition.catch_up,
            cap=definition.catch_up_cap,
        )
        return slots, list(runs)

    def _fires(
        self, definition: ScheduleDef, slots: list[float], runs: list[bool], busy: bool
    ) -> list[SlotFire]:
        """A fire per due slot: enqueued, missed, or skipped while an earlier run goes on
        (``busy``, for a schedule whose overlap policy is ``skip``)."""
        fires: list[SlotFire] = []
        try:
            for slot, run in zip(slots, runs, strict=True):
                if not run:
                    fires.append(SlotFire(slot, SlotStatus.MISSED))
                elif busy:
                    fires.append(SlotFire(slot, SlotStatus.SKIPPED))
                else:
                    fires.append(slot_writes.fire_for(self.app, definition, slot))
        except BaseException as exc:
            slot_writes.settle_fires(fires, None, exc)  # the slots prepared so far: never written
            raise
        return fires

    def trigger(self, name: str, by: str | None = None) -> SlotWritten:
        """Run a schedule's job now, outside its timing (recorded as a manual slot).

        The same as :meth:`~conveyor.app.Conveyor.trigger_schedule`, at this scheduler's clock.
        """
        written = slot_writes.trigger(self.app, self.store, name, by=by, at=self._now())
        self.app._notify_local()
        return written

    def job_for(self, definition: ScheduleDef, slot: float) -> NewJob:
        """The job a slot enqueues; see :func:`conveyor.schedules.slots.job_for`."""
        return slot_writes.job_for(self.app, definition, slot)

    def _record(
        self,
        name: str,
        fires: list[SlotFire],
        written: list[SlotWritten],
        report: RoundReport,
    ) -> None:
        missed: list[float] = []
        for fire, result in zip(fires, written, strict=True):
            if not result.written:
                report.lost_races += 1
            elif fire.status == SlotStatus.ENQUEUED:
                report.enqueued.setdefault(name, []).append(fire.slot)
            elif fire.status == SlotStatus.MISSED:
                missed.append(fire.slot)
            else:
                report.skipped[name] = report.skipped.get(name, 0) + 1
        if missed:
            report.missed[name] = len(missed)
            log.warning(
                "schedule %s: %d slot(s) from %s to %s were missed (no scheduler was running); "
                "recorded in its ledger",
                name, len(missed), _clock(missed[0]), _clock(missed[-1]),
            )
        if report.enqueued.get(name):
            self.app._notify_local()


def standby_pause(timings: Sequence[Timing], now: float) -> float:
    """A standby's pause between rounds: :data:`STANDBY_EVERY`, or half the shortest on-time
    window of these schedules when that is shorter (at least :data:`MAX_SLEEP`), so that a
    slot the lease's holder left unwritten is still fired on time by a standby."""
    windows = [on_time_window(t, now) for t in timings]
    return max(MAX_SLEEP, min([STANDBY_EVERY, *(w / 2 for w in windows)]))


def _clock(slot: float) -> str:
    return datetime.fromtimestamp(slot, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
