"""Plain records that cross the store boundary: jobs, attempts, queue stats, workers.

Times are Unix epoch seconds (float, UTC) as read from the store's clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class JobState(enum.StrEnum):
    """Where a job is in its life. See docs/architecture.md for the state machine."""

    HELD = "held"
    """Waiting its turn in a sequence (``sequence=``): not claimable until the job ahead of it
    in the same key finishes and the store releases it to ``queued`` or ``scheduled``."""
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """True for ``succeeded``, ``dead`` and ``cancelled``: nothing happens after these."""
        return self in FINAL_STATES


SEQUENCE = "sequence"
"""The key of a job's ``meta`` that carries its sequence key (``sequence=``), so the worker knows
its completion advances a sequence and the CLI and dashboard can show it."""

ON_DEAD = "sequence_on_dead"
"""The key of a job's ``meta`` that carries its type's ``on_dead=`` (``block`` or ``continue``)."""

STALL_AFTER = "stall_after"
"""The key of a job's ``meta`` that carries its type's ``stall_after=`` (seconds)."""

FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED})
PENDING_STATES = frozenset({JobState.SCHEDULED, JobState.QUEUED, JobState.RETRYING})
"""States a job waits in before it is claimed; it is claimable once ``run_at`` has passed."""


class RunState(enum.StrEnum):
    """Where a pipeline run is. ``running`` until every stage is final or one fails."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StageState(enum.StrEnum):
    """Where one stage of a run is: ``waiting`` for parents, ``active`` (its jobs exist), or
    final."""

    WAITING = "waiting"
    ACTIVE = "active"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AttemptOutcome(enum.StrEnum):
    """How one attempt ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # will be retried
    DEAD = "dead"  # failed and will not be retried
    CANCELLED = "cancelled"
    RELEASED = "released"  # handed back without charging an attempt (shutdown)
    LOST = "lost"  # the worker died or lost its lease; counted as a failed attempt
    SNOOZED = "snoozed"  # the handler raised Snooze: back to wait, attempt not charged


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the store holds it."""

    id: int
    queue: str
    name: str
    args: dict[str, Any] | None
    """Decoded arguments; ``None`` when the stored payload cannot be decoded."""
    state: JobState
    priority: int
    attempt: int
    max_attempts: int
    run_at: float
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    lease_until: float | None = None
    worker_id: str | None = None
    result: Any = None
    progress: float | None = None
    progress_message: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    timeout: float | None = None
    unique_key: str | None = None
    tenant: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    expires_at: float | None = None
    """The start deadline: not started by then, the job ends ``cancelled`` (expired)."""
    progress_at: float | None = None
    """When ``ctx.progress(...)`` last changed the progress (of this or an earlier attempt)."""

    @property
    def sequence(self) -> str | None:
        """The job's sequence key (``sequence=``), or None when its type declares none."""
        value = self.meta.get(SEQUENCE)
        return value if isinstance(value, str) else None

    @property
    def stall_after(self) -> float | None:
        """The job type's ``stall_after=`` in seconds, as stored with the job (None: not set)."""
        value = self.meta.get(STALL_AFTER)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            return None
        return float(value)

    def stalled_for(self, now: float) -> float | None:
        """Seconds this running job's progress has stood still, when that is ``stall_after``
        or longer; None when it is not stalled (not running, no ``stall_after``, or moving).

        Progress stands still since it last changed in this attempt, or since the attempt
        started when it reported none yet: a job that never calls ``ctx.progress`` counts too.
        """
        limit = self.stall_after
        if self.state is not JobState.RUNNING or limit is None or self.started_at is None:
            return None
        since = max(self.started_at, self.progress_at or self.started_at)
        still = now - since
        return still if still >= limit else None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a job: who ran it, when, and how it ended."""

    job_id: int
    attempt: int
    worker_id: str | None
    started_at: float | None
    finished_at: float | None
    outcome: AttemptOutcome
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds between start and end, when both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


COUNT_CAP = 10_000
"""Where the per-queue counts stop counting (``conveyor queues``, the dashboard, the monitor).

Counting a million waiting jobs exactly reads a million index entries on every refresh; a
count that stops at this cap costs the same however deep the backlog is, and a count that
reached it is reported as "at least" (:attr:`QueueStats.at_least`, shown as ``10,000+``)."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts for one queue, as shown by ``conveyor queues``."""

    queue: str
    queued: int = 0
    """Ready to run now (queued, or scheduled/retrying whose time has come)."""
    scheduled: int = 0
    running: int = 0
    retrying: int = 0
    dead: int = 0
    oldest_queued_age: float | None = None
    succeeded_last_hour: int = 0
    failed_last_hour: int = 0
    waiting_names: tuple[str, ...] = ()
    """Job names with ready jobs in this queue."""
    paused: bool = False
    """True while the queue is paused: it accepts jobs, but no worker claims them."""
    at_least: tuple[str, ...] = ()
    """The counts above (``queued``, ``scheduled``, ``running``, ``retrying``, ``dead``,
    ``succeeded_last_hour``) that reached :data:`COUNT_CAP`: the store stopped counting there,
    so the true number is that or more."""

    @property
    def approximate(self) -> bool:
        """True when some count is a lower bound (see :attr:`at_least`)."""
        return bool(self.at_least)

    def shown(self, count: str) -> str:
        """The count named ``count`` as people read it: ``10,000+`` when it is a lower bound."""
        value: int = getattr(self, count)
        return f"{value:,}+" if count in self.at_least else str(value)


@dataclass(frozen=True, slots=True)
class QueueControl:
    """A queue's operator-set state (``conveyor queues pause/resume``): who changed it, when."""

    name: str
    paused: bool
    changed_at: float
    changed_by: str | None = None


LIVE_AFTER_SECONDS = 60.0
"""A worker seen within this many seconds counts as live.

One threshold for every reader of worker liveness (``conveyor queues``, ``conveyor health``,
``conveyor jobs why``, the dashboard, the ``NoWorkers`` alert rule), so they never disagree
about whether a queue has a worker. Pass it as ``stale_after`` to ``Store.live_workers``.
"""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker process as registered in the store."""

    id: str
    hostname: str
    pid: int
    queues: tuple[str, ...]
    names: tuple[str, ...]
    started_at: float = 0.0
    last_seen: float = 0.0
    slots: int = 0
    """Jobs the process runs at once (0: a row written before slots were recorded)."""
    busy: int = 0
    """Slots running an attempt at the process's last heartbeat."""

    def reads(self, queue: str) -> bool:
        """True when this worker claims from ``queue`` (no queue list means every queue)."""
        return not self.queues or queue in self.queues
