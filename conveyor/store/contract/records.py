"""The records the job and queue verbs take and return (see :mod:`conveyor.store.contract`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, overload

from conveyor.models import JobState


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
    """The concurrency-limit key this job counts against while running (conveyor._limits)."""
    limit_max: int | None = None
    rate_key: str | None = None
    """The rate-limit key each start of this job counts against."""
    rate_max: int | None = None
    rate_per: float | None = None
    start_by: float | None = None
    """Start deadline (epoch seconds): no claim hands the job out after it, and it ends
    ``cancelled`` (expired) instead. ``None``: ``expires_in`` decides, if given."""
    expires_in: float | None = None
    """Start deadline as seconds after the job is due (its ``run_at``, by the store's clock)."""
    sequence_key: str | None = None
    """The sequence (``sequence=``) the job runs in: one job of a key at a time, in id order.
    The job is written ``held`` and the store releases it when the key is free."""
    sequence_blocks: bool = True
    """Whether this job, once dead, keeps later jobs of its key waiting (``on_dead="block"``)."""
    enqueueing: object | None = field(default=None, compare=False, repr=False)
    """What the app's enqueue middleware saw of this job (a
    :class:`conveyor.middleware.Enqueueing`), kept so their ``after_enqueue`` hooks can be
    told its id once it is written; None without middleware. Never written to the store."""


class JobBatch(Sequence[NewJob]):
    """Jobs of one type that differ only in their arguments: what ``enqueue_many`` prepares
    when no item sets its own options and nothing is derived per job (decision 124).

    It is a sequence of :class:`NewJob` (each built when read, from ``template`` with its
    arguments), so every store can take it as any batch; a store that knows it writes the
    shared columns once instead of once per job (PostgreSQL's COPY packs them once, and never
    builds the jobs). ``template`` must carry no enqueue middleware state: one
    ``Enqueueing`` cannot stand for many jobs. Raises :class:`ValueError` if it does.
    """

    __slots__ = ("_fields", "args", "template")

    _fields: tuple[Any, ...]

    def __init__(self, template: NewJob, args: Sequence[str]) -> None:
        if template.enqueueing is not None:
            raise ValueError("a JobBatch template cannot carry enqueue middleware state")
        self.template = template
        """Every job's fields but its arguments (its own ``args_json`` is not used)."""
        self.args = args
        """Each job's encoded arguments, in order."""
        self._fields = tuple(getattr(template, name) for name in _NEW_JOB_FIELDS)

    def __len__(self) -> int:
        return len(self.args)

    @overload
    def __getitem__(self, index: int) -> NewJob: ...

    @overload
    def __getitem__(self, index: slice) -> JobBatch: ...

    def __getitem__(self, index: int | slice) -> NewJob | JobBatch:
        if isinstance(index, slice):
            return JobBatch(self.template, self.args[index])
        return self._job(self.args[index])

    def __iter__(self) -> Iterator[NewJob]:
        for args_json in self.args:
            yield self._job(args_json)

    def _job(self, args_json: str) -> NewJob:
        # Positional: dataclasses.replace costs several times more for 23 fields.
        shared = self._fields
        return NewJob(shared[0], shared[1], args_json, *shared[3:])

    def __repr__(self) -> str:
        return f"<JobBatch of {len(self.args)} {self.template.name} jobs>"


_NEW_JOB_FIELDS = tuple(f.name for f in fields(NewJob))
"""NewJob's fields in constructor order (JobBatch builds jobs positionally)."""
if _NEW_JOB_FIELDS[2] != "args_json":  # pragma: no cover - a NewJob edit must update JobBatch
    raise RuntimeError("JobBatch expects NewJob.args_json to be NewJob's third field")


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
    run_at: float = 0.0
    """When the job was due (epoch seconds): ``started_at - run_at`` is its wait in the queue."""
    tenant: str | None = None
    """Whose work this is (``enqueue(tenant=...)``), for logs and metrics."""


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
    sequence: str | None = None
    """Only jobs of this sequence key (``sequence=``)."""
    payloads: bool = True
    """False leaves ``args`` and ``result`` out of listed jobs (None): lists stay light."""


@dataclass(frozen=True, slots=True)
class Replay:
    """:meth:`~conveyor.store.contract.jobs.JobVerbs.retry_jobs` as the dead-letter queue's
    replay: dead jobs only, every match, oldest death first, optionally spread over time."""

    per_second: float | None = None
    """With a rate, the i-th job (oldest death first) is due ``i / per_second`` seconds after
    ``now`` instead of at once, so a large replay does not stampede a recovering dependency.
    It must be a positive, finite number (``ConfigurationError`` otherwise)."""
    args_json: str | None = None
    """New arguments (JSON, already validated against the handler) for every replayed job; the
    attempts made with the old ones stay in its history. None keeps each job's arguments."""


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
    usage: float = 400 * 86400.0
    """How long the hourly roll-up of deleted jobs' usage is kept (``conveyor usage``, the
    ``Budget`` rule): over a year, so that last year's month can be compared."""
    runs: float = 30 * 86400.0
    """How long a finished pipeline run (with its stages, items, outputs and steps) is kept
    after it finished. A running run is never pruned, whatever its age."""
