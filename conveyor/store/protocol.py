"""The store boundary: :class:`Store` and :class:`AsyncStore`, composed of the domain contracts.

The verbs are specified, one module per domain, in :mod:`conveyor.store.contract` (read its
docstring first: it says how to read the guarantees each verb states). This module composes
them into the one protocol each backend implements, and re-exports the records the verbs take
and return, so ``from conveyor.store.protocol import JobFilter`` keeps working. A store is
correct when it passes the conformance suite in ``tests/store``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

# The lifecycle's values, re-exported: they are what complete_jobs takes.
from conveyor._lifecycle import Completion as Completion  # noqa: PLC0414 - a re-export
from conveyor._lifecycle import CompletionKind as CompletionKind  # noqa: PLC0414 - a re-export
from conveyor._lifecycle import ErrorInfo as ErrorInfo  # noqa: PLC0414 - a re-export
from conveyor.models import Job, QueueControl, WorkerInfo
from conveyor.store.contract.audit import AuditVerbs
from conveyor.store.contract.dashboard import DashboardVerbs
from conveyor.store.contract.jobs import AsyncStoreTransaction as AsyncStoreTransaction  # noqa: PLC0414
from conveyor.store.contract.jobs import JobVerbs
from conveyor.store.contract.jobs import StoreTransaction as StoreTransaction  # noqa: PLC0414
from conveyor.store.contract.monitor import MonitorVerbs
from conveyor.store.contract.outbox import OutboxVerbs
from conveyor.store.contract.output import OutputVerbs
from conveyor.store.contract.queues import QueueVerbs
from conveyor.store.contract.records import ClaimedJob as ClaimedJob  # noqa: PLC0414
from conveyor.store.contract.records import ClaimParams as ClaimParams  # noqa: PLC0414
from conveyor.store.contract.records import ClaimRound as ClaimRound  # noqa: PLC0414
from conveyor.store.contract.records import CompletionResult as CompletionResult  # noqa: PLC0414
from conveyor.store.contract.records import HeartbeatParams as HeartbeatParams  # noqa: PLC0414
from conveyor.store.contract.records import InsertedJob as InsertedJob  # noqa: PLC0414
from conveyor.store.contract.records import JobBatch as JobBatch  # noqa: PLC0414
from conveyor.store.contract.records import JobFilter as JobFilter  # noqa: PLC0414
from conveyor.store.contract.records import LimitStatus as LimitStatus  # noqa: PLC0414
from conveyor.store.contract.records import NewJob as NewJob  # noqa: PLC0414
from conveyor.store.contract.records import Replay as Replay  # noqa: PLC0414
from conveyor.store.contract.records import Retention as Retention  # noqa: PLC0414
from conveyor.store.contract.runs import AsyncRunVerbs, RunVerbs
from conveyor.store.contract.schedules import ScheduleVerbs
from conveyor.store.contract.usage import UsageVerbs
from conveyor.store.contract.workers import WorkerVerbs


@runtime_checkable
class Store(
    JobVerbs,
    QueueVerbs,
    WorkerVerbs,
    ScheduleVerbs,
    MonitorVerbs,
    OutboxVerbs,
    AuditVerbs,
    DashboardVerbs,
    RunVerbs,
    OutputVerbs,
    UsageVerbs,
    Protocol,
):
    """The synchronous store: used by producers, the CLI and (through a thread) workers.

    Its verbs are those of the domain contracts in :mod:`conveyor.store.contract`, plus the
    store's own life (schema, clock, connections) below."""

    def close(self) -> None:
        """Release connections.

        Guarantees: call it once, last; the store is unusable afterwards.
        """
        ...

    def migrate(self) -> int:
        """Create or upgrade the schema; return the schema version. Safe to run concurrently.

        Guarantees: idempotent and safe to run concurrently (from several processes).
        """
        ...

    def now(self) -> float:
        """The store's clock, in epoch seconds. Leases and schedules use it, not the caller's.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...


@runtime_checkable
class AsyncStore(AsyncRunVerbs, Protocol):
    """The asynchronous twin of :class:`Store`, used by workers and async producers."""

    @property
    def sync(self) -> Store:
        """The synchronous store beside this one (same database)."""
        ...

    async def insert_jobs(
        self, jobs: Sequence[NewJob], *, now: float | None = None
    ) -> list[InsertedJob]:
        """See :meth:`Store.insert_jobs`."""
        ...

    async def insert_jobs_in(self, connection: object, jobs: Sequence[NewJob]) -> list[InsertedJob]:
        """See :meth:`Store.insert_jobs_in` (``connection`` may be an async connection)."""
        ...

    async def claim_jobs(self, params: ClaimParams) -> list[ClaimedJob]:
        """See :meth:`Store.claim_jobs`."""
        ...

    async def complete_jobs(
        self, completions: Sequence[Completion], *, now: float | None = None
    ) -> list[CompletionResult]:
        """See :meth:`Store.complete_jobs`."""
        ...

    async def complete_and_claim(
        self, completions: Sequence[Completion], params: ClaimParams
    ) -> ClaimRound:
        """See :meth:`Store.complete_and_claim`."""
        ...

    async def heartbeat(self, params: HeartbeatParams) -> frozenset[int]:
        """See :meth:`Store.heartbeat`."""
        ...

    async def set_progress(
        self, job_id: int, token: int, fraction: float, message: str | None,
        *, now: float | None = None,
    ) -> bool:
        """See :meth:`Store.set_progress`."""
        ...

    async def rescue_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.rescue_expired`."""
        ...

    async def cancel_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.cancel_expired`."""
        ...

    async def put_worker(
        self, worker_id: str, info: WorkerInfo | None, *, now: float | None = None
    ) -> None:
        """See :meth:`Store.put_worker`."""
        ...

    async def release_unheld(
        self, worker_id: str, held: Sequence[tuple[int, int]], *, now: float | None = None
    ) -> list[int]:
        """See :meth:`Store.release_unheld`."""
        ...

    async def get_job(self, job_id: int) -> Job | None:
        """See :meth:`Store.get_job`."""
        ...

    async def prune(
        self, retention: Retention, limit: int = 10_000, *, now: float | None = None
    ) -> int:
        """See :meth:`Store.prune`."""
        ...

    async def next_due_in(
        self, queues: Sequence[str], names: Sequence[str], *, now: float | None = None
    ) -> float | None:
        """See :meth:`Store.next_due_in`."""
        ...

    async def wait_for_change(self, timeout: float) -> bool:
        """Wait until another connection may have written jobs, or ``timeout`` passes.

        Returns True when a change was seen. Spurious wake-ups are allowed.
        """
        ...

    async def once_seen(self, key: str) -> bool:
        """See :meth:`Store.once_seen`."""
        ...

    async def record_once(self, key: str, job_id: int) -> bool:
        """See :meth:`Store.record_once`."""
        ...

    async def begin(self) -> AsyncStoreTransaction:
        """See :meth:`Store.begin`."""
        ...

    async def set_queue_paused(
        self, name: str, paused: bool, by: str | None, *, now: float | None = None
    ) -> bool:
        """See :meth:`Store.set_queue_paused`."""
        ...

    async def queue_controls(self) -> list[QueueControl]:
        """See :meth:`Store.queue_controls`."""
        ...

    async def queue_depth(self, queue: str, cap: int) -> int:
        """See :meth:`Store.queue_depth`."""
        ...

    async def held_unique_keys(
        self, keys: Sequence[str], *, now: float | None = None
    ) -> frozenset[str]:
        """The async twin of :meth:`Store.held_unique_keys`."""
        ...

    async def release(self) -> None:
        """Release what belongs to the running event loop (async pools, listeners).

        The store stays usable; a later event loop gets fresh resources. Call it before an
        event loop ends (``await app.aclose()`` does), so nothing is left bound to a dead loop.
        """
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...
