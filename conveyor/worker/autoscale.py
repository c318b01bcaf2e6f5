"""Growing and shrinking a supervisor's processes with the backlog (``--processes 1..8``).

Every few seconds the supervisor asks :class:`Autoscaler` how many processes to run. The
number comes from :func:`conveyor._scaling.scale_hint` over the queues this worker reads,
kept between the least and the most, and then damped:

- **growing** is at once (a backlog is waiting now), but never past the most;
- **shrinking** waits until the advice has stayed below the current count for a whole
  cooldown, then gives up one process, and waits a cooldown again before the next: a lull
  of a few seconds between bursts does not cost a process start.

The load is averaged over the same cooldown, so a burst that ended a moment ago still counts.
A process given up drains (running jobs finish, as on SIGTERM), so shrinking charges no
attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor._scaling import QueueNeed, queue_needs, scale_hint
from conveyor.errors import StoreUnavailableError
from conveyor.store.protocol import Store

log = logging.getLogger("conveyor.supervisor")


@dataclass
class Autoscaler:
    """Decides the process count between ``least`` and ``most``."""

    least: int
    most: int
    slots_per_process: int
    target_wait: float = 30.0
    cooldown: float = 60.0
    _below_since: float | None = None
    _last_shrink: float = float("-inf")

    def decide(self, current: int, needs: Sequence[QueueNeed], now: float) -> int:
        """The process count to run now, given ``current`` and the queues' ``needs``."""
        hint = scale_hint(
            needs,
            slots_per_process=self.slots_per_process,
            target_wait=self.target_wait,
            window=self.cooldown,
        ).processes
        wanted = max(self.least, min(self.most, hint))
        if wanted > current:
            self._below_since = None
            return wanted
        if wanted == current:
            self._below_since = None
            return current
        if self._below_since is None:
            self._below_since = now
        if now - self._below_since >= self.cooldown and now - self._last_shrink >= self.cooldown:
            self._last_shrink = now
            self._below_since = now
            return current - 1
        return current

    def read(self, store: Store, queues: Sequence[str]) -> list[QueueNeed] | None:
        """The needs of ``queues`` from the store, or None when it cannot be read now."""
        try:
            at = store.now()
            stats = [s for s in store.queue_stats(now=at) if s.queue in queues]
            loads = [q for q in store.queue_load(at - self.cooldown) if q.queue in queues]
        except StoreUnavailableError as exc:
            log.warning("autoscale: store unavailable, keeping the processes as they are: %s",
                        exc)
            return None
        return queue_needs(stats, loads, window=self.cooldown, target_wait=self.target_wait)
