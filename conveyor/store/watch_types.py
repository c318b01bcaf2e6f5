"""What the scheduler and the monitor keep in the store: schedules, their ledger of slots,
check-ins and incidents (their notifications are rows of :mod:`conveyor._outbox`).

These are plain records; the rules that fill them live in :mod:`conveyor.schedules` and
:mod:`conveyor.monitor`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conveyor.models import JobState

if TYPE_CHECKING:  # protocol.py imports this module's verbs
    from conveyor.store.contract.run_records import NewRun
    from conveyor.store.protocol import NewJob


class ScheduleSource(enum.StrEnum):
    """Where a schedule is defined."""

    CODE = "code"
    """Declared with ``@app.cron`` / ``@app.every``; written to the store when a worker starts."""
    STORE = "store"
    """Added at run time (``conveyor schedules add``); lives only in the store."""


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """A schedule's definition and its run-time state."""

    name: str
    job_name: str
    timing: str
    """Round-trippable timing: ``"cron:0 3 * * *"`` or ``"every:900"``."""
    tz: str = "UTC"
    args_json: str = "{}"
    queue: str | None = None
    """The queue to enqueue on; ``None`` is the job type's own queue."""
    priority: int | None = None
    grace: float = 0.0
    """Seconds after a slot by which its run must have succeeded."""
    catch_up: str = "latest"
    catch_up_cap: int = 100
    overlap: str = "skip"
    source: ScheduleSource = ScheduleSource.CODE
    paused: bool = False
    paused_by: str | None = None
    created_at: float = 0.0
    """When the store first saw the schedule: no slot before it is expected."""
    updated_at: float = 0.0
    last_slot: float | None = None
    """The newest slot in the ledger (any status), or None."""


class SlotStatus(enum.StrEnum):
    """What the scheduler did with a slot."""

    ENQUEUED = "enqueued"
    MISSED = "missed"
    """No scheduler was running in time (or the misfire policy dropped it)."""
    SKIPPED = "skipped"
    """The previous run was still going and the overlap policy is ``skip``."""
    PAUSED = "paused"
    """The schedule was paused (``by`` says who paused it)."""


class Verdict(enum.StrEnum):
    """The monitor's judgement of a slot, written once its run finished or its grace ran out."""

    OK = "ok"
    FAILED = "failed"
    """The run failed into the dead-letter queue or was cancelled."""
    LATE = "late"
    """No success within the grace (still queued, retrying or running past it)."""
    MISSED = "missed"
    UNEXPECTED = "unexpected"
    """The run succeeded but broke the schedule's expectation on its result or duration."""
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class SlotFire:
    """One slot for :meth:`ScheduleVerbs.fire_slots` to write: with a job (or a pipeline run)
    when it is enqueued."""

    slot: float
    status: SlotStatus
    job: NewJob | None = None
    manual: bool = False
    """True for ``trigger now``: the slot is the trigger time, not one the timing produced."""
    by: str | None = None
    run: NewRun | None = None
    """For a schedule that starts a pipeline: the run to start (instead of ``job``)."""
    stages: Mapping[str, NewJob] | None = field(default=None, compare=False, repr=False)
    """With ``run`` and enqueue middleware: the stage jobs the middleware saw, by stage name,
    for their ``after_enqueue`` once the run is written (the store never reads it)."""


@dataclass(frozen=True, slots=True)
class SlotWritten:
    """What :meth:`ScheduleVerbs.fire_slots` did with one :class:`SlotFire`."""

    slot: float
    written: bool
    """False when another scheduler had already written this slot: nothing was enqueued."""
    job_id: int | None = None
    run_id: int | None = None
    """The pipeline run the slot started, for a schedule of a pipeline."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A slot of a schedule with what became of it (the job's fields are None once pruned)."""

    schedule: str
    slot: float
    status: SlotStatus
    fired_at: float
    manual: bool = False
    by: str | None = None
    job_id: int | None = None
    job_state: JobState | None = None
    started_at: float | None = None
    finished_at: float | None = None
    result_json: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    verdict: Verdict | None = None
    verdict_detail: str | None = None
    judged_at: float | None = None
    run_id: int | None = None
    """For a schedule of a pipeline: the run the slot started. The job fields then describe
    the run: its state (``failed`` reads as ``dead``), creation and finish times, result and
    error, so the slot is judged by how the whole run ended, not by its first stage."""


@dataclass(frozen=True, slots=True)
class CheckinRow:
    """Work outside Conveyor that pings (``conveyor checkin NAME``) and is watched for silence."""

    name: str
    timing: str
    """Expected pings, as a schedule timing: ``"every:86400"`` or ``"cron:0 3 * * *"``."""
    tz: str = "UTC"
    grace: float = 0.0
    created_at: float = 0.0
    last_ping_at: float | None = None
    paused: bool = False


class IncidentState(enum.StrEnum):
    """An incident is open while its rule fires for its subject."""

    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """A rule firing for one subject, from when it started until it resolved."""

    id: int
    rule: str
    subject: str
    state: IncidentState
    summary: str
    details_json: str
    opened_at: float
    updated_at: float
    resolved_at: float | None = None
    last_notified_at: float | None = None
    notify_count: int = 0


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """What :meth:`~conveyor.store.contract.monitor.MonitorVerbs.upsert_incident` wrote: the
    incident as it is now, and whether this call opened it."""

    row: IncidentRow
    opened: bool = False


class NoticeKind(enum.StrEnum):
    """Why a notice is sent: an incident opened, is still open, or has ended (the kind an
    outbox row carries)."""

    FIRING = "firing"
    REMINDER = "reminder"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """What finished in a queue since a point in time (for the failure-rate and DLQ rules)."""

    queue: str
    succeeded: int = 0
    """Jobs that succeeded."""
    failed_attempts: int = 0
    """Attempts that failed (retried or dead), by attempt finish time."""
    dead: int = 0
    """Jobs that went to the dead-letter queue."""
    expired: int = 0
    """Jobs cancelled because they were not started by their start deadline."""


@dataclass(frozen=True, slots=True)
class QueueLoad:
    """How busy a queue kept its workers since a point in time (for the scale hint)."""

    queue: str
    attempts: int = 0
    """Attempts that finished (any outcome), by attempt finish time."""
    busy_seconds: float = 0.0
    """Their run time added up: slots those attempts kept busy."""


@dataclass(frozen=True, slots=True)
class OpenTransaction:
    """A transaction another session keeps open in the store's database
    (:meth:`MonitorVerbs.open_transactions`): while it is open, vacuum cannot remove the rows
    that finished or were claimed after it began."""

    pid: int
    """The server process of the session (``pg_terminate_backend(pid)`` ends it)."""
    age: float
    """Seconds since the transaction began."""
    state: str | None
    """The session's state, e.g. ``idle in transaction``; None when the role may not see it."""
    user: str | None
    application: str | None
    query: str | None
    """The session's current or last statement, cut to 200 characters."""


@dataclass(frozen=True, slots=True)
class OverdueRun:
    """A running pipeline run past its deadline or stalled (:meth:`MonitorVerbs.overdue_runs`)."""

    id: int
    pipeline: str
    created_at: float
    deadline_at: float | None
    stall_after: float | None
    last_progress_at: float
    """When a stage last finished (or the run started or was resumed)."""
    resumes: int = 0
    tenant: str | None = None

    def past_deadline(self, now: float) -> bool:
        """True when the run has a deadline and ``now`` is at or past it."""
        return self.deadline_at is not None and now >= self.deadline_at

    def stalled(self, now: float) -> bool:
        """True when no stage has finished for ``stall_after`` seconds at ``now``."""
        return self.stall_after is not None and now >= self.last_progress_at + self.stall_after
