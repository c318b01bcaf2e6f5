"""Jobs: inserting, claiming, completing, reading, acting on and pruning them; ``ctx.once()``.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from conveyor._lifecycle import Completion
from conveyor.models import Attempt, Job
from conveyor.store.contract.records import (
    ClaimedJob,
    ClaimParams,
    ClaimRound,
    CompletionResult,
    HeartbeatParams,
    InsertedJob,
    JobFilter,
    NewJob,
    Replay,
    Retention,
)


class StoreTransaction(Protocol):
    """An open transaction a sync handler writes through (``ctx.transaction``)."""

    connection: Any
    """The driver connection (psycopg or sqlite3), inside the open transaction."""

    def complete(self, completion: Completion, *, now: float | None = None) -> bool:
        """Apply the attempt's completion in this transaction; False if it lost the job.

        Fenced as :meth:`JobVerbs.complete_jobs`, and written at ``now`` (the caller's clock,
        defaulting to the store's) as it is.
        """
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

    async def complete(self, completion: Completion, *, now: float | None = None) -> bool:
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


class JobVerbs(Protocol):
    """A job's life: insert, claim, heartbeat, complete, rescue; reads; bulk actions; pruning."""

    def insert_jobs(self, jobs: Sequence[NewJob], *, now: float | None = None) -> list[InsertedJob]:
        """Insert jobs atomically (all or none); return ids and states in input order.

        Guarantees: one transaction: every job or none. Not idempotent (each call inserts new jobs),
        except that a job whose ``unique_key`` is held comes back as a duplicate and writes nothing,
        so repeating a keyed insert is harmless. Due times and unique holds are judged at ``now``.
        """
        ...

    def insert_jobs_in(self, connection: object, jobs: Sequence[NewJob]) -> list[InsertedJob]:
        """Insert jobs on the caller's driver connection, inside the caller's transaction.

        The jobs exist only if the caller commits. Raises ``ConfigurationError`` for a
        connection this store cannot write through.

        Guarantees: inside the caller's transaction: the store neither commits nor rolls back.
        Unique keys as :meth:`insert_jobs`; the store's clock.
        """
        ...

    def claim_jobs(self, params: ClaimParams) -> list[ClaimedJob]:
        """Atomically move up to ``limit`` ready jobs to ``running`` under a fresh lease.

        Ready means a pending state and ``run_at`` passed. Order: priority (higher first),
        then ``run_at``, then id. Each claim counts an attempt and issues a new token.
        ``params.now``: the caller's clock, defaulting to the store's; leases end
        ``lease_seconds`` after it.

        Guarantees: one transaction per call. Fenced by state: only ready jobs are taken, and paused
        queues, concurrency limits and rate limits are judged in the same transaction, so concurrent
        claimers never get the same job. Not idempotent: each call takes other jobs and issues new
        tokens.
        """
        ...

    def complete_jobs(
        self, completions: Sequence[Completion], *, now: float | None = None
    ) -> list[CompletionResult]:
        """Apply attempt outcomes in one transaction, each guarded by state and token.

        ``now``: the caller's clock, defaulting to the store's; finish times are ``now`` and a
        retry or a snooze is due ``retry_delay`` seconds after it. A ``snoozed`` completion
        keeps the job's result and error columns and adds one to ``snoozes`` in its meta (the
        count ``max_snoozes`` is checked against when the job is next claimed).

        Guarantees: one transaction for the batch. Fenced by state and token: a completion for a job
        no longer running under that token writes nothing and comes back ``accepted=False``, so
        repeating a completion is harmless. The target state is the completion's (decided by
        :mod:`conveyor._lifecycle`); the store decides no transition.
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

        Guarantees: one transaction for both halves; fenced as :meth:`complete_jobs` and
        :meth:`claim_jobs`. Not idempotent (the claim half takes new jobs).
        """
        ...

    def heartbeat(self, params: HeartbeatParams) -> frozenset[int]:
        """Extend leases of held jobs; return the ids still held (others were lost).

        ``params.now``: the caller's clock, defaulting to the store's.

        Guarantees: one transaction. Fenced by token: only pairs still running under that token are
        renewed. Idempotent at a given ``now`` (leases end at the same time).
        """
        ...

    def set_progress(
        self, job_id: int, token: int, fraction: float, message: str | None,
        *, now: float | None = None,
    ) -> bool:
        """Record progress of a running attempt; False if the attempt no longer holds the job.

        Guarantees: one transaction. Fenced by the running state and the token. Idempotent: the last
        write wins. ``Job.progress_at`` becomes ``now`` (the caller's clock, defaulting to the
        store's) only when the fraction or the message changed: repeating a value is not progress
        (``stall_after=``).
        """
        ...

    def rescue_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """Fail attempts whose lease lapsed: retry them, or send them to ``dead`` when exhausted.

        ``now``: the caller's clock, defaulting to the store's; a lease lapsed when it ended
        before ``now``.

        Guarantees: one transaction per call. Fenced by state and lease: only running jobs whose
        lease ended before ``now``; each gets a ``lost`` attempt and the state
        :func:`conveyor._lifecycle.lost_attempt` decides. Idempotent: a rescued job is no longer
        running, so a repeat or a concurrent rescuer does not rescue it again.
        """
        ...

    def cancel_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """End waiting jobs past their start deadline (``expires_at``) as ``cancelled``, with
        error type ``Expired`` and a message naming the deadline; return their ids, sorted.

        ``now``: the caller's clock, defaulting to the store's. A stage job's run advances in
        the same transaction.

        Guarantees: one transaction per call, at most ``limit`` jobs. Fenced by state: only
        ``scheduled``, ``queued`` and ``retrying`` jobs (the lifecycle's ``EXPIRE`` row); a
        running job has started, and keeps running. Idempotent: an expired job is final. The
        claims never hand out a job past its deadline, whether or not this has run yet.
        """
        ...

    def get_job(self, job_id: int) -> Job | None:
        """One job, or None when it does not exist.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def get_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        """Several jobs by id (missing ids are skipped).

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def list_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[Job]:
        """Jobs matching ``flt``, newest first.

        Guarantees: reads only: writes nothing, so it is safe to repeat; ages are judged at ``now``.
        """
        ...

    def count_jobs(self, flt: JobFilter, *, now: float | None = None) -> int:
        """How many jobs match ``flt`` (``limit`` and ``before_id`` ignored).

        Guarantees: reads only: writes nothing, so it is safe to repeat; ages are judged at ``now``.
        """
        ...

    def list_attempts(self, job_id: int) -> list[Attempt]:
        """A job's attempts, oldest first.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def retry_jobs(
        self, flt: JobFilter, *, replay: Replay | None = None, now: float | None = None
    ) -> list[int]:
        """Run matching jobs again from ``now``; return the ids changed.

        Dead and cancelled jobs get fresh attempts and keep their history; scheduled and
        retrying jobs are made due now. Running and succeeded jobs are left alone. Ids come
        back in id order.

        With ``replay`` (the dead-letter queue's replay): only dead jobs are taken, whatever
        ``flt.states`` says, and every match (``flt.limit`` and ``flt.before_id`` are ignored,
        so it takes what :meth:`count_jobs` counted); the ids come back oldest death first,
        and with ``replay.per_second`` the i-th of them is due ``i / per_second`` seconds after
        ``now`` (one due later waits as ``scheduled``, as a delayed insert would). With
        ``replay.args_json`` they also take those arguments (the dashboard's "replay with new
        arguments", of one job by id). The target states are :mod:`conveyor._lifecycle`'s
        (``retry_now``, and ``retry_later`` for a job due later).

        Guarantees: one transaction. Fenced by state, judged inside it: a job that is running
        or succeeded by then (with ``replay``: that is not dead by then) is left alone, so of
        concurrent callers each job is taken by one. Safe to repeat: a second call only makes
        the same (now waiting) jobs due at ``now`` again; with ``replay`` it finds them no
        longer dead and returns [].
        """
        ...

    def cancel_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[int]:
        """Cancel matching jobs that are not final; return the ids cancelled.

        Guarantees: one transaction. Fenced by state: final jobs are left alone; a running attempt
        is recorded as cancelled and its later completion is refused (its token no longer matches).
        Idempotent: cancelled jobs are final.
        """
        ...

    def discard_jobs(self, flt: JobFilter) -> int:
        """Delete matching final jobs and their history; return how many.

        Guarantees: one transaction. Fenced by state: only final jobs. Idempotent: discarded jobs
        are gone.
        """
        ...

    def prune(self, retention: Retention, limit: int = 10_000, *, now: float | None = None) -> int:
        """Delete what ``retention`` lets go at ``now`` (the caller's clock, defaulting to the
        store's); return how many rows went, in all:

        - finished jobs older than their state's retention, with their attempt history, up to
          ``limit`` per state (a succeeded job whose unique key still holds is kept); their
          usage rows are folded into the hourly roll-up first (see
          :mod:`conveyor.store.contract.usage`), and roll-up hours older than
          ``retention.usage`` go (not counted in the total: a few rows per hour);
        - ``ctx.once()`` records older than ``retention.once``, and rate-limit starts whose
          window has passed, up to ``limit`` each;
        - the monitor's records older than ``retention.watch``: judged schedule slots, resolved
          incidents with their alert deliveries, delivered or given-up alert deliveries, and
          check-in pings (each check-in keeps its newest), up to ``limit`` per table;
        - delivered or given-up webhook deliveries whose job is gone (pruned or discarded), up
          to ``limit``; pending ones stay until delivered or given up.

        Every table is bounded by ``limit``, so a caller looping until it gets less than
        ``limit`` back has cleared every backlog (a table that hit its bound makes the total
        reach it).

        Guarantees: several transactions (the jobs' batch, the monitor's records, the
        deliveries); a crash between them leaves only less deleted. Fenced by state and age
        (and a held unique key keeps its job; a firing incident and a pending delivery are
        never deleted). Idempotent.
        """
        ...

    def once_seen(self, key: str) -> bool:
        """True when a committed ``ctx.once()`` record of ``key`` exists.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def record_once(self, key: str, job_id: int) -> bool:
        """Record ``key`` for ``ctx.once()`` in its own transaction.

        True if newly recorded, False if it already existed (recorded by another attempt).

        Guarantees: one transaction; insert-if-absent on ``key``, so of concurrent callers exactly
        one gets True. Idempotent.
        """
        ...

    def begin(self) -> StoreTransaction:
        """Open a transaction for a handler's own writes, completed in the same commit.

        Guarantees: nothing is written until ``commit``; the transaction's ``complete`` is fenced as
        :meth:`complete_jobs`.
        """
        ...
