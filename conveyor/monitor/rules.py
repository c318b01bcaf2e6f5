"""Alert rules over the store: each looks at counts the store keeps and names what is wrong.

Each rule is a small frozen dataclass implementing :class:`conveyor.monitor.config.Rule`: its
:meth:`evaluate` returns one :class:`Firing` per subject (a queue) it fires for, and an incident
stays open while the rule keeps firing for that subject. Pass them to
``app.configure_monitor(rules=[...])``; :func:`default_rules` is what runs when none are given.

Missed schedule runs and silent check-ins are always watched; they are not rules here.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from conveyor._durations import Duration, age, duration, to_seconds
from conveyor._names import check_queue
from conveyor._sequence import ON_DEAD_BLOCK
from conveyor.errors import ConfigurationError
from conveyor.models import LIVE_AFTER_SECONDS, ON_DEAD, Job, JobState, QueueStats
from conveyor.monitor.config import Firing, Rule
from conveyor.store.contract.records import JobFilter
from conveyor.store.contract.usage import USAGE_BY

if TYPE_CHECKING:
    from conveyor.store.protocol import Store

__all__ = [
    "BacklogGrowth",
    "Budget",
    "DeadLetterGrowth",
    "Expirations",
    "FailureRate",
    "LongTransactions",
    "NoWorker",
    "QueueAge",
    "StalledJobs",
    "UnknownJobs",
    "default_rules",
]

_NAMES_SHOWN = 5  # a summary names a few job names; the details carry them all


def _positive(value: Duration, rule: str, what: str = "window") -> float:
    seconds = to_seconds(value, what=f"{rule} {what}")
    if seconds <= 0:
        raise ConfigurationError(f"{rule}: {what} must be longer than zero, got {value!r}")
    return seconds


def _queue(value: str | None) -> str | None:
    return None if value is None else check_queue(value)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class DeadLetterGrowth:
    """Fires for a queue when at least ``threshold`` of its jobs went dead within ``window``."""

    threshold: int = 1
    window: Duration = "15m"
    queue: str | None = None
    """Watch only this queue; None watches every queue."""

    name: ClassVar[str] = "dlq_growth"

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise ConfigurationError(
                f"DeadLetterGrowth: threshold must be a whole number of jobs, got "
                f"{self.threshold!r}"
            )
        if self.threshold < 1:
            raise ConfigurationError(
                f"DeadLetterGrowth: threshold must be 1 or more, got {self.threshold}"
            )
        object.__setattr__(self, "window", _positive(self.window, "DeadLetterGrowth"))
        object.__setattr__(self, "queue", _queue(self.queue))

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Queues with ``threshold`` or more jobs dead since ``now - window``."""
        window = to_seconds(self.window)
        found = []
        for counts in store.window_counts(now - window):
            if self.queue not in (None, counts.queue) or counts.dead < self.threshold:
                continue
            found.append(
                Firing(
                    rule=self.name,
                    subject=counts.queue,
                    summary=(
                        f"queue {counts.queue}: {_plural(counts.dead, 'job')} went to the "
                        f"dead-letter queue in the last {age(window)} "
                        f"(`conveyor dlq list --queue {counts.queue}`)"
                    ),
                    details={
                        "dead": counts.dead,
                        "window_seconds": window,
                        "threshold": self.threshold,
                    },
                )
            )
        return found


@dataclass(frozen=True)
class Expirations:
    """Fires for a queue when at least ``threshold`` of its jobs expired within ``window``:
    cancelled because no worker started them by their start deadline (``expires_in=`` /
    ``start_by=``). Usually too few workers, or a queue paused too long."""

    threshold: int = 1
    window: Duration = "15m"
    queue: str | None = None
    """Watch only this queue; None watches every queue."""

    name: ClassVar[str] = "expirations"

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int) or (
            self.threshold < 1
        ):
            raise ConfigurationError(
                f"Expirations: threshold must be a whole number of jobs, 1 or more, got "
                f"{self.threshold!r}"
            )
        object.__setattr__(self, "window", _positive(self.window, "Expirations"))
        object.__setattr__(self, "queue", _queue(self.queue))

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Queues with ``threshold`` or more jobs expired since ``now - window``."""
        window = to_seconds(self.window)
        return [
            Firing(
                rule=self.name,
                subject=counts.queue,
                summary=(
                    f"queue {counts.queue}: {_plural(counts.expired, 'job')} expired unstarted "
                    f"in the last {age(window)} (their start deadline passed; "
                    f"`conveyor jobs list --queue {counts.queue} --state cancelled`)"
                ),
                details={
                    "expired": counts.expired,
                    "window_seconds": window,
                    "threshold": self.threshold,
                },
            )
            for counts in store.window_counts(now - window)
            if self.queue in (None, counts.queue) and counts.expired >= self.threshold
        ]


@dataclass(frozen=True)
class QueueAge:
    """Fires for a queue whose oldest ready job has waited longer than ``older_than``."""

    older_than: Duration = "10m"
    queue: str | None = None

    name: ClassVar[str] = "queue_age"

    def __post_init__(self) -> None:
        object.__setattr__(self, "older_than", _positive(self.older_than, "QueueAge", "older_than"))
        object.__setattr__(self, "queue", _queue(self.queue))

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Queues whose oldest ready job is older than the limit."""
        limit = to_seconds(self.older_than)
        found = []
        for stats in store.queue_stats():
            oldest = stats.oldest_queued_age
            if self.queue not in (None, stats.queue) or oldest is None or oldest <= limit:
                continue
            paused = " (the queue is paused)" if stats.paused else ""
            found.append(
                Firing(
                    rule=self.name,
                    subject=stats.queue,
                    summary=(
                        f"queue {stats.queue}: the oldest of {_plural(stats.queued, 'ready job')} "
                        f"has waited {age(oldest)}, more than {age(limit)}{paused}"
                    ),
                    details={
                        "oldest_queued_age": oldest,
                        "queued": stats.queued,
                        "running": stats.running,
                        "older_than": limit,
                        "paused": stats.paused,
                    },
                )
            )
        return found


@dataclass(frozen=True)
class FailureRate:
    """Fires for a queue where more than ``above`` of the attempts within ``window`` failed.

    Only once at least ``min_attempts`` attempts finished in the window, so one failure out of
    two does not page anyone.
    """

    above: float = 0.5
    window: Duration = "15m"
    min_attempts: int = 20
    queue: str | None = None

    name: ClassVar[str] = "failure_rate"

    def __post_init__(self) -> None:
        above = self.above
        if isinstance(above, bool) or not isinstance(above, int | float) or not 0 <= above < 1:
            raise ConfigurationError(
                f"FailureRate: above is the share of failed attempts that fires, from 0 up to "
                f"(not including) 1, e.g. 0.5; got {above!r}"
            )
        minimum = self.min_attempts
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
            raise ConfigurationError(
                f"FailureRate: min_attempts must be a whole number, 1 or more, got {minimum!r}"
            )
        object.__setattr__(self, "above", float(above))
        object.__setattr__(self, "window", _positive(self.window, "FailureRate"))
        object.__setattr__(self, "queue", _queue(self.queue))

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Queues whose share of failed attempts since ``now - window`` is above the limit."""
        window = to_seconds(self.window)
        found = []
        for counts in store.window_counts(now - window):
            attempts = counts.succeeded + counts.failed_attempts
            if self.queue not in (None, counts.queue) or attempts < self.min_attempts:
                continue
            rate = counts.failed_attempts / attempts
            if rate <= self.above:
                continue
            found.append(
                Firing(
                    rule=self.name,
                    subject=counts.queue,
                    summary=(
                        f"queue {counts.queue}: {rate:.0%} of attempts failed in the last "
                        f"{age(window)} ({counts.failed_attempts} of {attempts}), more than "
                        f"{self.above:.0%}"
                    ),
                    details={
                        "failed_attempts": counts.failed_attempts,
                        "attempts": attempts,
                        "rate": round(rate, 4),
                        "above": self.above,
                        "window_seconds": window,
                    },
                )
            )
        return found


@dataclass(frozen=True)
class UnknownJobs:
    """Fires for a queue with ready jobs whose name no live worker reading that queue knows.

    Typical after a deploy that renamed a job while old jobs wait, or when producers run newer
    code than the workers. Queues no live worker reads are :class:`NoWorker`'s business.
    """

    name: ClassVar[str] = "unknown_job"

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Queues with ready jobs of names unknown to the live workers reading them."""
        live = store.live_workers(stale_after=LIVE_AFTER_SECONDS)
        found = []
        for stats in _ready_queues(store):
            reading = [w for w in live if w.reads(stats.queue)]
            if not reading:
                continue
            known = {name for w in reading for name in w.names}
            unknown = sorted(set(stats.waiting_names) - known)
            if not unknown:
                continue
            shown = ", ".join(unknown[:_NAMES_SHOWN]) + (
                ", ..." if len(unknown) > _NAMES_SHOWN else ""
            )
            found.append(
                Firing(
                    rule=self.name,
                    subject=stats.queue,
                    summary=(
                        f"queue {stats.queue}: ready jobs named {shown} wait, but none of the "
                        f"{len(reading)} live worker(s) reading the queue knows them; run "
                        "workers of the app (and code version) that declares them"
                    ),
                    details={"unknown_names": unknown, "workers": len(reading)},
                )
            )
        return found


@dataclass(frozen=True)
class NoWorker:
    """Fires for a queue with ready jobs and no live worker reading it."""

    name: ClassVar[str] = "no_worker"

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Queues with ready work that no live worker reads."""
        live = store.live_workers(stale_after=LIVE_AFTER_SECONDS)
        found = []
        for stats in _ready_queues(store):
            if any(w.reads(stats.queue) for w in live):
                continue
            found.append(
                Firing(
                    rule=self.name,
                    subject=stats.queue,
                    summary=(
                        f"queue {stats.queue}: {_plural(stats.queued, 'job')} ready but no live "
                        f"worker reads the queue (none seen in the last "
                        f"{LIVE_AFTER_SECONDS:.0f}s); start one with "
                        f"`conveyor worker myapp:app --queues {stats.queue}`"
                    ),
                    details={"queued": stats.queued, "live_workers": len(live)},
                )
            )
        return found


@dataclass(frozen=True)
class BacklogGrowth:
    """Fires for a queue whose ready backlog grew over the whole ``window``: jobs arrive
    faster than the workers drain them. Only once at least ``min_ready`` jobs are ready.

    Arrivals are what drained plus what the backlog grew by. The backlog's past size is the
    rule's own memory of earlier rounds (the store keeps no history of counts), so after the
    monitor starts or changes hands the rule needs one window of rounds before it can fire.
    """

    window: Duration = "10m"
    min_ready: int = 100
    queue: str | None = None
    _seen: dict[str, deque[tuple[float, int]]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Per queue: (time, ready jobs) of the rounds within the last window."""

    name: ClassVar[str] = "backlog_growth"

    def __post_init__(self) -> None:
        minimum = self.min_ready
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
            raise ConfigurationError(
                f"BacklogGrowth: min_ready must be a whole number, 1 or more, got {minimum!r}"
            )
        object.__setattr__(self, "window", _positive(self.window, "BacklogGrowth"))
        object.__setattr__(self, "queue", _queue(self.queue))

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Queues whose backlog is larger than a window ago and at least ``min_ready``."""
        window = to_seconds(self.window)
        drained = {load.queue: load.attempts for load in store.queue_load(now - window)}
        found = []
        for stats in store.queue_stats():
            if self.queue not in (None, stats.queue) or stats.paused:
                self._seen.pop(stats.queue, None)
                continue
            seen = self._seen.setdefault(stats.queue, deque())
            seen.append((now, stats.queued))
            # Keep one round at or before the window's start: the backlog's size back then.
            while len(seen) > 1 and seen[1][0] <= now - window:
                seen.popleft()
            then_at, then_ready = seen[0]
            if then_at > now - window or stats.queued < self.min_ready:
                continue
            grew = stats.queued - then_ready
            if grew <= 0:
                continue
            span = now - then_at
            drain_rate = drained.get(stats.queue, 0) / window
            arrival_rate = drain_rate + grew / span
            to_drain = (
                f"at {drain_rate:.3g} jobs/s they take {age(stats.queued / drain_rate)} to drain"
                if drain_rate > 0 else "nothing drained them"
            )
            found.append(
                Firing(
                    rule=self.name,
                    subject=stats.queue,
                    summary=(
                        f"queue {stats.queue}: the backlog grew from {then_ready:,} to "
                        f"{stats.queued:,} ready jobs in the last {age(span)}: arriving at "
                        f"{arrival_rate:.3g} jobs/s, draining at {drain_rate:.3g}; {to_drain} "
                        "(`conveyor scale-hint` says how many workers keep up)"
                    ),
                    details={
                        "ready": stats.queued,
                        "ready_before": then_ready,
                        "arrival_per_second": round(arrival_rate, 4),
                        "drain_per_second": round(drain_rate, 4),
                        "drain_seconds": (
                            None if drain_rate <= 0 else round(stats.queued / drain_rate, 1)
                        ),
                        "window_seconds": window,
                    },
                )
            )
        return found


@dataclass(frozen=True)
class Budget:
    """Fires when the ``unit`` that handlers report with ``ctx.usage(...)`` sums to more than
    ``limit`` over the last ``per``: for each tenant, queue or job name (``by``) on its own,
    or for all jobs together (``by=None``). E.g. ``Budget("cost", 50, per="1d",
    by="tenant")`` pages when a tenant's jobs cost more than 50 in a day.

    The window slides: the incident resolves once the sum over the last ``per`` falls back to
    the limit or below.
    """

    unit: str
    limit: float
    per: Duration = "1d"
    by: str | None = None
    """``"tenant"``, ``"queue"`` or ``"name"``: a budget for each; None: one for everything."""

    name: ClassVar[str] = "budget"

    def __post_init__(self) -> None:
        if not isinstance(self.unit, str) or not self.unit.isidentifier():
            raise ConfigurationError(
                f"Budget: unit is the name a handler reports with ctx.usage(...), e.g. "
                f"\"cost\" or \"tokens\"; got {self.unit!r}"
            )
        limit = self.limit
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not (
            math.isfinite(limit) and limit >= 0
        ):
            raise ConfigurationError(
                f"Budget: limit must be a finite number, 0 or more, of {self.unit}; got "
                f"{limit!r}"
            )
        if self.by is not None and self.by not in USAGE_BY:
            raise ConfigurationError(
                f"Budget: by must be one of {', '.join(map(repr, USAGE_BY))} or None (one "
                f"budget for all jobs); got {self.by!r}"
            )
        object.__setattr__(self, "limit", float(limit))
        object.__setattr__(self, "per", _positive(self.per, "Budget", "per"))

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Each group whose ``unit`` summed over ``now - per`` .. ``now`` passes the limit."""
        per = to_seconds(self.per)
        found = []
        for total in store.usage_totals(self.by, since=now - per, until=now):  # type: ignore[arg-type]
            spent = total.units.get(self.unit, 0.0)
            if spent <= self.limit:
                continue
            who = (
                "all jobs" if self.by is None
                else f"{self.by} {total.key}" if total.key is not None
                else f"jobs without a {self.by}"
            )
            found.append(
                Firing(
                    rule=self.name,
                    subject=self.unit if self.by is None else f"{self.unit}:{total.key or '-'}",
                    summary=(
                        f"{who}: {self.unit} reached {spent:,.6g} in the last {age(per)}, over "
                        f"the budget of {self.limit:,.6g} (`conveyor usage --by "
                        f"{self.by or 'name'} --since {int(per)}s`)"
                    ),
                    details={
                        "unit": self.unit,
                        "spent": spent,
                        "limit": self.limit,
                        "by": self.by,
                        "key": total.key,
                        "attempts": total.attempts,
                        "window_seconds": per,
                    },
                )
            )
        return found


@dataclass(frozen=True)
class StalledJobs:
    """Fires for a job type with running jobs whose progress stood still for their
    ``stall_after=``: the worker's heartbeat goes on (so the lease never lapses), but
    ``ctx.progress(...)`` has not changed. Only job types declared with ``stall_after`` can
    fire; the jobs keep running (cancel one with ``conveyor jobs cancel ID``)."""

    queue: str | None = None
    """Watch only this queue; None watches every queue."""
    scan: int = 1000
    """At most this many running jobs are read per round (running jobs are bounded by the
    workers' slots, so this is a safety net, not a sample)."""

    name: ClassVar[str] = "stalled_jobs"

    def __post_init__(self) -> None:
        if isinstance(self.scan, bool) or not isinstance(self.scan, int) or self.scan < 1:
            raise ConfigurationError(
                f"StalledJobs: scan must be a whole number of jobs, 1 or more, got {self.scan!r}"
            )
        object.__setattr__(self, "queue", _queue(self.queue))

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Job names with a running job stalled at ``now``; the subject is the job name."""
        running = store.list_jobs(
            JobFilter(states=(JobState.RUNNING,), queue=self.queue, limit=self.scan,
                      payloads=False),
            now=now,
        )
        stalled: dict[str, list[tuple[int, float, str]]] = {}
        for job in running:
            still = job.stalled_for(now)
            if still is not None:
                stalled.setdefault(job.name, []).append((job.id, still, job.queue))
        found = []
        for name, jobs in sorted(stalled.items()):
            jobs.sort(key=lambda j: -j[1])
            worst_id, worst, queue = jobs[0]
            found.append(
                Firing(
                    rule=self.name,
                    subject=name,
                    summary=(
                        f"{name} (queue {queue}): {_plural(len(jobs), 'running job')} made no "
                        f"progress for its stall_after; job {worst_id} has stood still for "
                        f"{duration(worst)} (`conveyor jobs why {worst_id}`)"
                    ),
                    details={
                        "jobs": [j[0] for j in jobs][:100],
                        "stalled": len(jobs),
                        "longest_seconds": round(worst, 1),
                    },
                )
            )
        return found


@dataclass(frozen=True)
class BlockedSequences:
    """Fires for a sequence key (``sequence=``) whose later jobs wait behind a dead job
    (``on_dead="block"``, the default); resolves when the key moves again: the dead job is
    replayed, discarded, or the waiting jobs are cancelled."""

    queue: str | None = None
    """Watch only this queue's dead jobs; None watches every queue."""
    scan: int = 1000
    """At most this many of the newest dead jobs are read per round (a blocking dead job
    older than that is found once newer ones are replayed or discarded)."""

    name: ClassVar[str] = "sequence_blocked"

    def __post_init__(self) -> None:
        if isinstance(self.scan, bool) or not isinstance(self.scan, int) or self.scan < 1:
            raise ConfigurationError(
                f"BlockedSequences: scan must be a whole number of jobs, 1 or more, "
                f"got {self.scan!r}"
            )
        object.__setattr__(self, "queue", _queue(self.queue))

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Sequence keys held up by a dead job at ``now``; the subject is the key."""
        dead = store.list_jobs(
            JobFilter(states=(JobState.DEAD,), queue=self.queue, limit=self.scan,
                      payloads=False),
            now=now,
        )
        blockers: dict[str, Job] = {}
        for job in dead:
            key = job.sequence
            if key is None or job.meta.get(ON_DEAD, ON_DEAD_BLOCK) != ON_DEAD_BLOCK:
                continue
            if key not in blockers or job.id < blockers[key].id:
                blockers[key] = job
        found = []
        for key, job in sorted(blockers.items()):
            waiting = store.count_jobs(
                JobFilter(sequence=key, states=(JobState.HELD,)), now=now
            )
            if not waiting:
                continue
            error = f" ({job.error_type}: {job.error_message})" if job.error_type else ""
            found.append(
                Firing(
                    rule=self.name,
                    subject=key,
                    summary=(
                        f"sequence {key} is blocked: job {job.id} ({job.name}) is dead{error} "
                        f"and {_plural(waiting, 'job')} wait behind it; replay or discard it "
                        f"to continue (`conveyor dlq replay {job.id}`)"
                    ),
                    details={"job": job.id, "name": job.name, "queue": job.queue,
                             "waiting": waiting},
                )
            )
        return found


@dataclass(frozen=True)
class LongTransactions:
    """Fires for a transaction another session has kept open in the store's database for more
    than ``older_than`` (PostgreSQL; never on SQLite). While it stays open, vacuum cannot
    remove the row versions that claims and completions leave behind, so every claim steps
    over more of them: ``benchmarks/deep_postgres.py --cases unheld,held`` measured a fifth
    of the throughput. The subject is the session's pid; the incident resolves when the
    transaction ends."""

    older_than: Duration = "10m"
    """How long a transaction may stay open before it fires."""
    shown: int = 5
    """At most this many transactions fire per round (the oldest)."""

    name: ClassVar[str] = "long_transaction"

    def __post_init__(self) -> None:
        _positive(self.older_than, "LongTransactions", "older_than")
        if isinstance(self.shown, bool) or not isinstance(self.shown, int) or self.shown < 1:
            raise ConfigurationError(
                f"LongTransactions: shown must be a whole number, 1 or more, got {self.shown!r}"
            )

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Transactions open longer than ``older_than``; the subject is ``pid N``."""
        limit = to_seconds(self.older_than, what="LongTransactions older_than")
        found = []
        for tx in store.open_transactions(limit, self.shown):
            who = ", ".join(
                part for part in (
                    f"user {tx.user}" if tx.user else "",
                    f"application {tx.application!r}" if tx.application else "",
                    tx.state or "",
                ) if part
            )
            found.append(
                Firing(
                    rule=self.name,
                    subject=f"pid {tx.pid}",
                    summary=(
                        f"a transaction has been open for {age(tx.age)} (pid {tx.pid}"
                        f"{', ' + who if who else ''}): vacuum cannot remove finished or "
                        "claimed rows while it stays open, so claims slow down as they pile "
                        f"up; end it (`SELECT pg_terminate_backend({tx.pid})`) or set "
                        "idle_in_transaction_session_timeout"
                    ),
                    details={"pid": tx.pid, "age_seconds": round(tx.age, 1), "state": tx.state,
                             "user": tx.user, "application": tx.application,
                             "query": tx.query},
                )
            )
        return found


def _ready_queues(store: Store) -> list[QueueStats]:
    """Queues with ready jobs that workers are supposed to take (a paused queue is not)."""
    return [s for s in store.queue_stats() if s.queued > 0 and not s.paused]


def default_rules() -> list[Rule]:
    """The rules the monitor runs when ``configure_monitor`` names none, with defaults:
    every rule but :class:`BacklogGrowth`, :class:`Expirations` and :class:`Budget` (opt-in)."""
    return [
        DeadLetterGrowth(), QueueAge(), FailureRate(), UnknownJobs(), NoWorker(), StalledJobs(),
        BlockedSequences(), LongTransactions(),
    ]
