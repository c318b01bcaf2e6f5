"""How many worker processes the queues need: the arithmetic behind ``conveyor scale-hint``.

Two terms per queue, both in slots (one slot runs one job at a time):

- **keeping up**: the slots its finished attempts kept busy over the window, on average
  (their run time added up, divided by the window: Little's law), or the slots running right
  now if more;
- **catching up**: the slots that drain today's ready backlog within the target wait (ready
  jobs times their mean run time, divided by the target wait).

The window averages arrivals and run times, so one busy second does not double the fleet and
one quiet second does not halve it. A queue with ready jobs but no finished attempt in the
window has no measured run time: it is given one process, the least that starts learning it.
The processes are the slots needed divided by the slots per process, rounded up. The hint is
never zero while schedules are active and no standalone ``conveyor scheduler`` holds its
lease, since then the workers are what fires cron.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.models import QueueStats
from conveyor.store.watch_types import QueueLoad

SCHEDULER_LEASE = "scheduler"
"""The lease a standalone ``conveyor scheduler`` holds while it runs."""


@dataclass(frozen=True, slots=True)
class QueueNeed:
    """What one queue needs, and the figures it was worked out from."""

    queue: str
    ready: int
    """Jobs ready to run now."""
    running: int
    attempts_per_second: float
    """Attempts finished per second over the window: the rate the queue drains at."""
    mean_seconds: float | None
    """Mean run time of those attempts; None when none finished in the window."""
    keep_up_slots: float
    catch_up_slots: float
    ready_at_least: bool = False
    """True when ``ready`` is a lower bound: the store stops counting at ``COUNT_CAP``, so
    the catch-up term (and the advice) is at least this much."""

    @property
    def slots(self) -> float:
        """Slots this queue needs: keeping up plus catching up."""
        return self.keep_up_slots + self.catch_up_slots

    @property
    def drain_seconds(self) -> float | None:
        """How long today's backlog takes at the current drain rate (None: not draining)."""
        if self.ready == 0:
            return 0.0
        if self.attempts_per_second <= 0:
            return None
        return self.ready / self.attempts_per_second


@dataclass(frozen=True, slots=True)
class ScaleHint:
    """How many worker processes to run, and why."""

    processes: int
    slots_per_process: int
    target_wait: float
    window: float
    queues: tuple[QueueNeed, ...]
    reason: str
    """One sentence: what decided the number."""


def queue_needs(
    stats: Sequence[QueueStats],
    loads: Sequence[QueueLoad],
    *,
    window: float,
    target_wait: float,
) -> list[QueueNeed]:
    """Each queue's need from its counts now and the load its attempts put on the window.

    Paused queues need nothing: no worker would claim from them.
    """
    by_queue = {load.queue: load for load in loads}
    names = sorted({s.queue for s in stats if not s.paused} | set(by_queue))
    paused = {s.queue for s in stats if s.paused}
    counts = {s.queue: s for s in stats}
    needs = []
    for name in names:
        if name in paused:
            continue
        count = counts.get(name, QueueStats(queue=name))
        load = by_queue.get(name, QueueLoad(queue=name))
        mean = load.busy_seconds / load.attempts if load.attempts else None
        keep_up = max(load.busy_seconds / window, float(count.running))
        # No run time measured: one slot per ready job is all that can be said (the hint
        # then asks for one process, the least that starts them and measures them).
        catch_up = float(count.queued) if mean is None else count.queued * mean / target_wait
        needs.append(
            QueueNeed(
                queue=name,
                ready=count.queued,
                running=count.running,
                attempts_per_second=load.attempts / window,
                mean_seconds=mean,
                keep_up_slots=keep_up,
                catch_up_slots=catch_up,
                ready_at_least="queued" in count.at_least,
            )
        )
    return needs


def scale_hint(
    needs: Sequence[QueueNeed],
    *,
    slots_per_process: int,
    target_wait: float,
    window: float,
    schedules_need_workers: bool = False,
    most: int | None = None,
) -> ScaleHint:
    """The processes that serve ``needs``, at least one when ``schedules_need_workers``, at
    most ``most``."""
    if slots_per_process < 1:
        raise ValueError(f"slots per process must be 1 or more, got {slots_per_process}")
    unmeasured = [n.queue for n in needs if n.mean_seconds is None and n.ready > 0]
    measured = sum(n.slots for n in needs if n.queue not in unmeasured)
    processes = math.ceil(round(measured / slots_per_process, 6))
    if unmeasured:
        # Ready jobs of unknown run time: one process's slots, the least that starts them.
        processes = max(processes, 1)
    reason = _reason(needs, processes, unmeasured, target_wait)
    if processes == 0 and schedules_need_workers:
        processes = 1
        reason = ("schedules are active and no `conveyor scheduler` is running, so a worker "
                  "must run to fire them")
    if most is not None and processes > most:
        reason = f"capped at --max {most} (the queues ask for {processes}); " + reason
        processes = most
    return ScaleHint(
        processes=processes,
        slots_per_process=slots_per_process,
        target_wait=target_wait,
        window=window,
        queues=tuple(needs),
        reason=reason,
    )


def _reason(
    needs: Sequence[QueueNeed], processes: int, unmeasured: list[str], target_wait: float
) -> str:
    if processes == 0:
        return "no job is ready or running, and none finished in the window"
    if unmeasured:
        return (f"ready jobs in {', '.join(unmeasured)} with no run time measured yet: one "
                "process starts them")
    top = max(needs, key=lambda n: n.slots)
    if top.catch_up_slots > top.keep_up_slots:
        ready = f"at least {top.ready:,}" if top.ready_at_least else f"{top.ready:,}"
        return (f"{top.queue} has {ready} ready jobs to start within {target_wait:g}s "
                f"at {top.mean_seconds or 0:.3g}s each")
    return f"{top.queue} keeps {top.keep_up_slots:.3g} slots busy on average"
