"""The ``no_scheduler`` incident: schedules are active but no scheduler is running.

A slot nobody fired is only reported once its grace has run out (``missed_run``). This
watch says it before: every scheduler keeps taking the ``scheduler:alive`` lease
(:meth:`conveyor.schedules.scheduler.Scheduler.announce`), and when nobody has held it for
``NOT_SEEN_FOR`` seconds of this monitor's rounds while an active schedule has a next slot,
the incident names that slot. It resolves as soon as a scheduler holds the lease again, or no
schedule is active.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor._durations import clock
from conveyor.monitor.config import Firing
from conveyor.schedules.scheduler import ALIVE_LEASE

if TYPE_CHECKING:
    from conveyor.monitor.incidents import Key
    from conveyor.schedules.definition import ScheduleDef
    from conveyor.store.protocol import Store

NO_SCHEDULER_RULE = "no_scheduler"
SUBJECT = "scheduler"
NOT_SEEN_FOR = 30.0
"""Seconds the lease must stay free, as this monitor sees it, before the incident opens: a
spare scheduler takes over a dead holder's lease within ``ALIVE_EVERY`` of its end, and a
worker that is starting has had time for its first round."""


@dataclass
class SchedulerWatch:
    """Remembers since when no scheduler has been seen (one per monitor)."""

    absent_since: float | None = None

    def check(
        self,
        store: Store,
        definition: Callable[[str], ScheduleDef | None],
        now: float,
        given: float | None,
    ) -> tuple[list[Firing], set[Key]]:
        """The ``no_scheduler`` finding at ``now``, or the key to resolve."""
        cleared: set[Key] = {(NO_SCHEDULER_RULE, SUBJECT)}
        if store.lease_holder(ALIVE_LEASE, now=given) is not None:
            self.absent_since = None
            return [], cleared
        upcoming: list[tuple[float, str, ScheduleDef]] = []
        for row in store.list_schedules():
            found = None if row.paused else definition(row.name)
            if found is not None:
                upcoming.append((found.timing.next_after(now), row.name, found))
        if not upcoming:
            self.absent_since = None
            return [], cleared
        if self.absent_since is None or self.absent_since > now:
            self.absent_since = now
        if now - self.absent_since < NOT_SEEN_FOR:
            return [], set()
        due, name, first = min(upcoming, key=lambda u: (u[0], u[1]))
        label = first.timing.label(due, with_date=True)
        return [
            Firing(
                rule=NO_SCHEDULER_RULE,
                subject=SUBJECT,
                # Stable while nothing changes, so the incident is not rewritten every round.
                summary=(
                    f"no scheduler is running (none seen since {clock(self.absent_since)}) "
                    f"while {len(upcoming)} schedule(s) are active: the next slot of {name} "
                    f"is due at {label} and will be missed; start "
                    "`conveyor scheduler --app myapp:app`, or a worker without --no-scheduler"
                ),
                details={
                    "next_schedule": name,
                    "next_slot": due,
                    "active_schedules": len(upcoming),
                    "absent_since": self.absent_since,
                },
            )
        ], set()
