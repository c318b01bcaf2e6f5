"""The store boundary: domain verbs every backend implements, and their parameters.

Everything above this module is backend-agnostic; everything below it is SQL. A store is
correct when it passes the conformance suite in ``tests/store``.

**Time is a parameter.** A verb whose answer depends on the current time takes it as ``now``
(epoch seconds): a keyword-only ``now: float | None = None`` argument, or a ``now`` field of
the parameters it already takes (:class:`ClaimParams`, :class:`HeartbeatParams`). ``now`` is
the caller's clock, defaulting to the store's: ``None`` reads the store's clock where the
store reads it anyway (SQLite: this machine's, under the write lock; PostgreSQL: the server's
``now()``). Everything the verb compares or writes as "now" (due times, leases, retry delays,
retention, rate windows) uses that one value, so a test advances time by passing a later
``now`` instead of sleeping. Production callers leave it unset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

# The lifecycle's values, re-exported: they are what complete_jobs takes.
from conveyor.lifecycle import Completion as Completion  # noqa: PLC0414 - a re-export
from conveyor.lifecycle import CompletionKind as CompletionKind  # noqa: PLC0414 - a re-export
from conveyor.lifecycle import ErrorInfo as ErrorInfo  # noqa: PLC0414 - a re-export
from conveyor.models import Attempt, Job, JobState, QueueControl, QueueStats, WorkerInfo
from conveyor.store.outbox_protocol import OutboxVerbs
from conveyor.store.watch_protocol import WatchVerbs
from conveyor.store.web_protocol import WebVerbs


@dataclass(frozen=True, slots=True)
class NewJob:
    """One job to insert. ``args_json`` is already validated and encoded."""

    queue: str
    name: str
    args_json: str
    max_attempts: int
    priority: int = 0
    run_at: float | None = None
    """Absolute start (epoch seconds); ``None`` means now plus ``delay`` by the store's clock."""
    delay: float = 0.0
    timeout: float | None = None
    unique_key: str | None = None
    tenant: str | None = None
    meta_json: str = "{}"
    unique_for: float | None = None
    """Seconds a succeeded job keeps holding ``unique_key``; negative is forever, None is none."""
    limit_key: str | None = None
    """The concurrency-limit key this job counts against while running (conveyor.limits)."""
    limit_max: int | None = None
    rate_key: str | None = None
    """The rate-limit key each start of this job counts against."""
    rate_max: int | None = None
    rate_per: float | None = None


@dataclass(frozen=True, slots=True)
class InsertedJob:
    """What an insert returns for each job, in input order."""

    id: int
    state: JobState
    duplicate: bool = False
    """True when the unique key was held: nothing was written and ``id`` is the holder's."""
    held_until: float | None = None
    """For a duplicate of a succeeded job: when its hold ends (epoch seconds); else None."""
    name: str | None = None
    """For a duplicate: the holder's job name (keys are shared by every job type)."""
    created_at: float | None = None
    """When the job (for a duplicate, the holder) was created, in epoch seconds, as the store
    reads it back: with the id, the job's identity (see :class:`~conveyor.JobHandle`)."""


@dataclass(frozen=True, slots=True)
class ClaimParams:
    """Claim up to ``limit`` ready jobs of ``queues`` whose name is in ``names``."""

    worker_id: str
    queues: tuple[str, ...]
    names: tuple[str, ...]
    limit: int
    lease_seconds: float
    limited_names: tuple[str, ...] = ()
    """Names of job types the worker declares with a concurrency or rate limit: the limited
    pass runs before the plain claim. Which jobs are limited is said by their rows."""
    now: float | None = None
    """The caller's clock, defaulting to the store's (see the module docstring): what is ready,
    when the lease ends and which rate windows are open are judged at it."""


@dataclass(frozen=True, slots=True)
class LimitStatus:
    """A job's limits and what their keys have spent now (for ``conveyor jobs why``)."""

    limit_key: str | None = None
    limit_max: int | None = None
    """The key's concurrency budget: the smallest of this job's and its running jobs' limits."""
    running: tuple[int, ...] = ()
    """Ids of the key's running jobs, oldest first."""
    rate_key: str | None = None
    rate_max: int | None = None
    rate_per: float | None = None
    spent_until: float | None = None
    """When the rate key has room again (epoch seconds); None when it has room now."""


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job handed to a worker. ``token`` fences every later write of this attempt."""

    id: int
    queue: str
    name: str
    args_json: str
    attempt: int
    max_attempts: int
    token: int
    priority: int
    timeout: float | None
    lease_until: float
    started_at: float
    created_at: float
    meta_json: str


@dataclass(frozen=True, slots=True)
class CompletionResult:
    """Whether a completion was applied; a stale attempt's completion is refused."""

    job_id: int
    accepted: bool


@dataclass(frozen=True, slots=True)
class ClaimRound:
    """What :meth:`Store.complete_and_claim` did: the completions' results, then the claim."""

    completed: list[CompletionResult]
    """One result per completion, in input order (as :meth:`Store.complete_jobs`)."""
    claimed: list[ClaimedJob]
    """The jobs claimed (as :meth:`Store.claim_jobs`)."""


@dataclass(frozen=True, slots=True)
class HeartbeatParams:
    """Renew the leases of the jobs a worker holds and mark the worker alive."""

    worker_id: str
    held: tuple[tuple[int, int], ...]
    """(job id, token) pairs."""
    lease_seconds: float
    now: float | None = None
    """The caller's clock, defaulting to the store's: leases end ``lease_seconds`` after it."""


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Selects jobs for listing and bulk actions. Unset fields do not filter."""

    states: tuple[JobState, ...] = ()
    queue: str | None = None
    name: str | None = None
    error_type: str | None = None
    ids: tuple[int, ...] = ()
    older_than: float | None = None
    """Only jobs created more than this many seconds ago."""
    newer_than: float | None = None
    """Only jobs created less than this many seconds ago."""
    before_id: int | None = None
    """Keyset pagination: only ids below this one (lists are newest first)."""
    limit: int | None = None
    tenant: str | None = None
    search: str | None = None
    """A case-insensitive substring of the job's arguments (as JSON) or its last error."""
    payloads: bool = True
    """False leaves ``args`` and ``result`` out of listed jobs (None): lists stay light."""


@dataclass(frozen=True, slots=True)
class Retention:
    """How long finished jobs are kept, in seconds, by final state."""

    succeeded: float = 86400.0
    dead: float = 30 * 86400.0
    cancelled: float = 7 * 86400.0
    once: float = 30 * 86400.0
    """How long ``ctx.once()`` records are kept. A job redelivered after its record is pruned
    repeats the guarded effect, so keep this longer than any job can take to finish, retries
    included."""
    watch: float = 30 * 86400.0
    """How long judged schedule slots, resolved incidents and check-in pings are kept."""


class StoreTransaction(Protocol):
    """An open transaction a sync handler writes through (``ctx.transaction``)."""

    connection: Any
    """The driver connection (psycopg or sqlite3), inside the open transaction."""

    def complete(self, completion: Completion) -> bool:
        """Apply the attempt's completion in this transaction; False if it lost the job."""
        ...

    def commit(self) -> None:
        """Commit the handler's writes and the completion together."""
        ...

    def rollback(self) -> None:
        """Discard everything written in the transaction."""
        ...

    def once_seen(self, key: str) -> bool:
        """True when a ``ctx.once()`` record of ``key`` is visible to this transaction."""
        ...

    def record_once(self, key: str, job_id: int) -> bool:
        """Record ``key`` in this transaction (it exists only if the transaction commits).

        True if newly recorded; False if a record already exists, committed by another
        transaction (on PostgreSQL this waits for a concurrent writer of the same key to end).
        """
        ...


class AsyncStoreTransaction(Protocol):
    """The async twin of :class:`StoreTransaction`."""

    connection: Any

    async def complete(self, completion: Completion) -> bool:
        """See :meth:`StoreTransaction.complete`."""
        ...

    async def commit(self) -> None:
        """See :meth:`StoreTransaction.commit`."""
        ...

    async def rollback(self) -> None:
        """See :meth:`StoreTransaction.rollback`."""
        ...

    async def once_seen(self, key: str) -> bool:
        """See :meth:`StoreTransaction.once_seen`."""
        ...

    async def record_once(self, key: str, job_id: int) -> bool:
        """See :meth:`StoreTransaction.record_once`."""
        ...


@runtime_checkable
class Store(WatchVerbs, WebVerbs, OutboxVerbs, Protocol):
    """The synchronous store: used by producers, the CLI and (through a thread) workers.

    The scheduler's and the monitor's verbs are in :mod:`conveyor.store.watch_protocol`, the
    dashboard's in :mod:`conveyor.store.web_protocol`."""

    def migrate(self) -> int:
        """Create or upgrade the schema; return the schema version. Safe to run concurrently."""
        ...

    def now(self) -> float:
        """The store's clock, in epoch seconds. Leases and schedules use it, not the caller's."""
        ...

    def insert_jobs(self, jobs: Sequence[NewJob], *, now: float | None = None) -> list[InsertedJob]:
        """Insert jobs atomically (all or none); return ids and states in input order."""
        ...

    def insert_jobs_in(self, connection: object, jobs: Sequence[NewJob]) -> list[InsertedJob]:
        """Insert jobs on the caller's driver connection, inside the caller's transaction.

        The jobs exist only if the caller commits. Raises ``ConfigurationError`` for a
        connection this store cannot write through.
        """
        ...

    def claim_jobs(self, params: ClaimParams) -> list[ClaimedJob]:
        """Atomically move up to ``limit`` ready jobs to ``running`` under a fresh lease.

        Ready means a pending state and ``run_at`` passed. Order: priority (higher first),
        then ``run_at``, then id. Each claim counts an attempt and issues a new token.
        ``params.now``: the caller's clock, defaulting to the store's; leases end
        ``lease_seconds`` after it.
        """
        ...

    def complete_jobs(
        self, completions: Sequence[Completion], *, now: float | None = None
    ) -> list[CompletionResult]:
        """Apply attempt outcomes in one transaction, each guarded by state and token.

        ``now``: the caller's clock, defaulting to the store's; finish times are ``now`` and a
        retry is due ``retry_delay`` seconds after it.
        """
        ...

    def complete_and_claim(
        self, completions: Sequence[Completion], params: ClaimParams
    ) -> ClaimRound:
        """Apply ``completions`` (as :meth:`complete_jobs`), then claim (as :meth:`claim_jobs`),
        in one transaction: the completions are durable before any claimed job can start,
        and a failure applies neither. Workers use it so a finished attempt is never lost
        with the process that goes on to run the next job. Whether the claim may take a job
        that one of these completions made ready again (released, retried at once) is up to
        the store. Both halves run at ``params.now`` (the caller's clock, defaulting to the
        store's).
        """
        ...

    def heartbeat(self, params: HeartbeatParams) -> frozenset[int]:
        """Extend leases of held jobs; return the ids still held (others were lost).

        ``params.now``: the caller's clock, defaulting to the store's."""
        ...

    def set_progress(self, job_id: int, token: int, fraction: float, message: str | None) -> bool:
        """Record progress of a running attempt; False if the attempt no longer holds the job."""
        ...

    def rescue_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """Fail attempts whose lease lapsed: retry them, or send them to ``dead`` when exhausted.

        ``now``: the caller's clock, defaulting to the store's; a lease lapsed when it ended
        before ``now``.
        """
        ...

    def expire_worker(self, worker_id: str, *, now: float | None = None) -> int:
        """Lapse the leases of a worker known to be dead, so they are rescued at once."""
        ...

    def register_worker(self, info: WorkerInfo) -> None:
        """Record a live worker process (replacing an older row with the same id)."""
        ...

    def deregister_worker(self, worker_id: str) -> None:
        """Remove a worker that stopped cleanly."""
        ...

    def live_workers(self, stale_after: float, *, now: float | None = None) -> list[WorkerInfo]:
        """Workers seen within ``stale_after`` seconds before ``now`` (the caller's clock,
        defaulting to the store's)."""
        ...

    def get_job(self, job_id: int) -> Job | None:
        """One job, or None when it does not exist."""
        ...

    def get_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        """Several jobs by id (missing ids are skipped)."""
        ...

    def list_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[Job]:
        """Jobs matching ``flt``, newest first."""
        ...

    def count_jobs(self, flt: JobFilter, *, now: float | None = None) -> int:
        """How many jobs match ``flt`` (``limit`` and ``before_id`` ignored)."""
        ...

    def list_attempts(self, job_id: int) -> list[Attempt]:
        """A job's attempts, oldest first."""
        ...

    def queue_stats(self, *, now: float | None = None) -> list[QueueStats]:
        """Per-queue counts and ages."""
        ...

    def retry_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[int]:
        """Run matching jobs again now.

        Dead and cancelled jobs get fresh attempts and keep their history; scheduled and
        retrying jobs are made due now. Running and succeeded jobs are left alone.
        """
        ...

    def cancel_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[int]:
        """Cancel matching jobs that are not final; return the ids cancelled."""
        ...

    def discard_jobs(self, flt: JobFilter) -> int:
        """Delete matching final jobs and their history; return how many."""
        ...

    def prune(self, retention: Retention, limit: int = 10_000, *, now: float | None = None) -> int:
        """Delete finished jobs older than their retention; return how many.

        Also deletes up to ``limit`` ``ctx.once()`` records older than ``retention.once``
        (counted in the total, so a caller looping until it gets less than ``limit`` also
        clears a backlog of them). Ages are measured at ``now``: the caller's clock,
        defaulting to the store's.
        """
        ...

    def next_due_in(
        self, queues: Sequence[str], names: Sequence[str], *, now: float | None = None
    ) -> float | None:
        """Seconds until the earliest pending job of these queues and names is due (0 if now)."""
        ...

    def once_seen(self, key: str) -> bool:
        """True when a committed ``ctx.once()`` record of ``key`` exists."""
        ...

    def record_once(self, key: str, job_id: int) -> bool:
        """Record ``key`` for ``ctx.once()`` in its own transaction.

        True if newly recorded, False if it already existed (recorded by another attempt).
        """
        ...

    def begin(self) -> StoreTransaction:
        """Open a transaction for a handler's own writes, completed in the same commit."""
        ...

    # -- queue controls (pause/resume, backpressure, "why is my job waiting") ----------------

    def pause_queue(self, name: str, by: str | None) -> bool:
        """Stop claims from queue ``name`` (it still accepts jobs); False if already paused.

        Jobs already running finish; a claim racing with the pause may still start one.
        """
        ...

    def resume_queue(self, name: str, by: str | None) -> bool:
        """Let workers claim from queue ``name`` again; False if it was not paused."""
        ...

    def paused_queues(self) -> frozenset[str]:
        """Names of the queues paused now."""
        ...

    def queue_control(self, name: str) -> QueueControl | None:
        """Queue ``name``'s pause state and who last changed it; None if never changed."""
        ...

    def queue_depth(self, queue: str, cap: int) -> int:
        """Waiting jobs (queued, scheduled, retrying) of ``queue``, counted up to ``cap``."""
        ...

    def held_unique_keys(self, keys: Sequence[str], *, now: float | None = None) -> frozenset[str]:
        """Those of ``keys`` that some job holds now (see docs/unique-jobs.md)."""
        ...

    def count_ahead(self, job_id: int, cap: int, *, now: float | None = None) -> int:
        """Ready jobs of the same queue a claim would take before ``job_id``, up to ``cap``.

        Ahead means higher priority, or equal priority and earlier ``run_at`` (then lower id).
        0 when the job does not exist.
        """
        ...

    def limit_status(self, job_id: int, *, now: float | None = None) -> LimitStatus | None:
        """Job ``job_id``'s concurrency and rate limits and what their keys have spent now.

        None when the job does not exist; a job without limits gets an empty status.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class AsyncStore(Protocol):
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
        self, job_id: int, token: int, fraction: float, message: str | None
    ) -> bool:
        """See :meth:`Store.set_progress`."""
        ...

    async def rescue_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.rescue_expired`."""
        ...

    async def register_worker(self, info: WorkerInfo) -> None:
        """See :meth:`Store.register_worker`."""
        ...

    async def deregister_worker(self, worker_id: str) -> None:
        """See :meth:`Store.deregister_worker`."""
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

    async def pause_queue(self, name: str, by: str | None) -> bool:
        """See :meth:`Store.pause_queue`."""
        ...

    async def resume_queue(self, name: str, by: str | None) -> bool:
        """See :meth:`Store.resume_queue`."""
        ...

    async def paused_queues(self) -> frozenset[str]:
        """See :meth:`Store.paused_queues`."""
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
