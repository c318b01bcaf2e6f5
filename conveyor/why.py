"""Why is my job not running? Name what holds a waiting job back, in plain words.

:func:`explain` looks at one job and returns every :class:`Reason` that keeps it waiting, in
the order an operator should address them: its own schedule, the queue's pause, the workers,
then the jobs ahead of it. ``conveyor jobs why ID`` prints them. A stage job of a pipeline
run also says which stage (and item) it is; :func:`explain_run` and :func:`explain_stage` say
what a run's unfinished stages wait for (``conveyor jobs why --run RUN [--stage S]``).

Each rule is a small function of the facts about the job; :data:`RULES` runs them in order.
Every comparison of times uses the store's clock, never this machine's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from conveyor._durations import clock, duration, since, until
from conveyor._lifecycle import EXPIRED, SNOOZES
from conveyor._sequence import ON_DEAD_BLOCK
from conveyor._why import Reason, job_context
from conveyor._why import explain_run as _explain_run
from conveyor._why import explain_stage as _explain_stage

# LIVE_AFTER_SECONDS lives with the worker model; ``conveyor.why.LIVE_AFTER_SECONDS`` (its old
# home) still resolves through this import.
from conveyor.models import (
    LIVE_AFTER_SECONDS,
    ON_DEAD,
    AttemptOutcome,
    Job,
    JobState,
    WorkerInfo,
)
from conveyor.store.contract.run_records import RunDetail, StageRunInfo
from conveyor.store.protocol import JobFilter, LimitStatus, Store

if TYPE_CHECKING:
    from conveyor.app import Conveyor

AHEAD_CAP = 10_000
"""Count at most this many jobs ahead: "10000+" says enough, and keeps the count cheap."""


@dataclass
class Facts:
    """What the rules look at: the job, the store's clock, and (read once, on demand) workers."""

    store: Store
    job: Job
    now: float
    _workers: list[WorkerInfo] | None = field(default=None, repr=False)
    _limits: LimitStatus | None = field(default=None, repr=False)

    @property
    def workers(self) -> list[WorkerInfo]:
        """Live workers, read on first use."""
        if self._workers is None:
            self._workers = self.store.live_workers(stale_after=LIVE_AFTER_SECONDS)
        return self._workers

    @property
    def limits(self) -> LimitStatus:
        """The job's concurrency and rate limits and what their keys spent, read on first use."""
        if self._limits is None:
            self._limits = self.store.limit_status(self.job.id) or LimitStatus()
        return self._limits


Rule = Callable[[Facts], Reason | None]


def explain(source: Conveyor | Store, job_id: int, *, in_run: bool = True) -> list[Reason]:
    """Every reason job ``job_id`` is not running, in order; never empty.

    ``source`` is an app or a store. A job that is missing, running or finished gets one
    reason saying so; a waiting job that nothing holds back gets ``ready``. A stage job of a
    pipeline run also gets ``stage`` (which run, stage and item it is) and, when its run is
    over or its fan-out stage still waits for other items, what that means (``in_run=False``
    leaves that out: :func:`explain_run` already says it).
    """
    store = _store(source)
    job = store.get_job(job_id)
    if job is None:
        return [Reason("not_found", f"job {job_id} does not exist (it may have been pruned)")]
    now = store.now()
    # A stage job first says which run and stage it is: that is what the operator asks about.
    context = job_context(store, job) if in_run else []
    if job.state is JobState.RUNNING:
        since = "" if job.started_at is None else f" since {_when(job.started_at, now)}"
        stalled = stall_text(job, now)
        return [Reason("running", f"job {job_id} is not waiting: it is running on worker "
                                  f"{job.worker_id}{since}"),
                *([Reason("stalled", stalled)] if stalled else []), *context]
    if job.state.is_final:
        ended = "" if job.finished_at is None else f" at {_when(job.finished_at, now)}"
        again = ("" if context else f" (`conveyor jobs retry {job_id}` runs it again)")
        if job.error_type == EXPIRED:
            ended += f": {job.error_message}"
        return [Reason("finished", f"job {job_id} is not waiting: it finished as {job.state}"
                                   f"{ended}{again}"), *context]
    facts = Facts(store, job, now)
    held = in_sequence(facts)
    if held is not None:
        # A held job waits for its turn first: the queue's reasons apply once it is released.
        return [*context, held]
    found = [reason for rule in RULES if (reason := rule(facts)) is not None]
    return context + (found or [
        Reason("ready", f"nothing holds job {job_id} back: it should start as soon as a worker "
                        f"of queue {job.queue} polls")
    ])


def explain_run(source: Conveyor | Store, run_id: int) -> list[Reason]:
    """Why run ``run_id`` has not finished: what each unfinished stage waits for, and the
    reasons of the job that holds it back; never empty (``not_found`` for a missing run)."""
    store = _store(source)
    run = store.get_run(run_id, outputs=0)  # states, counts and job ids: no output
    if run is None:
        return [_no_run(run_id)]
    return _explain_run(store, run, partial(explain, store, in_run=False))


def explain_stage(source: Conveyor | Store, run_id: int, stage: str) -> list[Reason]:
    """Why stage ``stage`` of run ``run_id`` has not finished ("waiting for 3 of 10,000
    items of `embed`; 2 failed, policy skip"); never empty."""
    store = _store(source)
    run = store.get_run(run_id, outputs=0)  # states, counts and job ids: no output
    if run is None:
        return [_no_run(run_id)]
    found = _find_stage(run, stage)
    if found is None:
        names = ", ".join(s.stage for s in run.stages)
        return [Reason("not_found", f"run {run_id} has no stage {stage!r} (its stages: "
                                    f"{names})")]
    return _explain_stage(store, run, found, partial(explain, store, in_run=False))


def _store(source: Conveyor | Store) -> Store:
    from conveyor.app import Conveyor  # here: the app module imports much of the package

    return source.store if isinstance(source, Conveyor) else source


def _no_run(run_id: int) -> Reason:
    return Reason("not_found", f"run {run_id} does not exist (it may have been pruned)")


def _find_stage(run: RunDetail, name: str) -> StageRunInfo | None:
    return next((s for s in run.stages if s.stage == name), None)


# -- the rules, in the order they are checked ----------------------------------------------------


def expired(facts: Facts) -> Reason | None:
    """Past its start deadline: no claim takes it, and the rescuer is about to cancel it."""
    deadline = facts.job.expires_at
    if deadline is None or deadline > facts.now:
        return None
    return Reason("expired", f"its start deadline passed {_when(deadline, facts.now)}: no "
                             "worker will start it, and a worker's rescuer cancels it as "
                             "expired within its rescue interval")


def not_due(facts: Facts) -> Reason | None:
    """A scheduled job whose time has not come, or a retry waiting out its backoff."""
    job = facts.job
    if job.run_at <= facts.now:
        return None
    at = _when(job.run_at, facts.now)
    if job.state is JobState.RETRYING:
        error = f" after {job.error_type}" if job.error_type else ""
        return Reason("retrying", f"retrying with backoff: attempt {job.attempt} of "
                                  f"{job.max_attempts} failed{error}; the next starts {at}")
    if job.state is JobState.SCHEDULED and job.meta.get(SNOOZES):
        return _snoozed(facts, at)
    return Reason("scheduled", f"scheduled for later: it starts {at}")


def _snoozed(facts: Facts, at: str) -> Reason:
    """The handler snoozed the job (its latest history row says why): no attempt was spent."""
    job = facts.job
    history = facts.store.list_attempts(job.id)
    last = history[-1] if history else None
    reason = last.error_message if last and last.outcome is AttemptOutcome.SNOOZED else None
    count = job.meta.get(SNOOZES)
    return Reason("snoozed", f"snoozed until {at}: {reason or 'no reason given'} (snooze "
                             f"{count}; attempt {job.attempt + 1} of {job.max_attempts} is "
                             "not spent)")


def paused(facts: Facts) -> Reason | None:
    """The job's queue is paused."""
    control = facts.store.queue_control(facts.job.queue)
    if control is None or not control.paused:
        return None
    queue = facts.job.queue
    by = f" by {control.changed_by}" if control.changed_by else ""
    return Reason("paused", f"queue {queue} was paused{by} "
                            f"{_when(control.changed_at, facts.now)}; resume it with "
                            f"`conveyor queues resume {queue}`")


def workers(facts: Facts) -> Reason | None:
    """No live worker reads the job's queue, or none of those that do knows its name.

    Queue first, then name: for one job the question is who could take it from its queue.
    (``conveyor queues`` summarises by job name first, see ``cli/health.py``.)
    """
    queue, name = facts.job.queue, facts.job.name
    live = facts.workers
    if not live:
        return Reason("no_worker", f"no worker is running (none seen in the last "
                                   f"{LIVE_AFTER_SECONDS:.0f}s): start one with "
                                   f"`conveyor worker myapp:app --queues {queue}`")
    # A worker that registered no queue list reads every queue.
    reading = [w for w in live if w.reads(queue)]
    if not reading:
        read = ", ".join(sorted({q for w in live for q in w.queues}))
        return Reason("no_worker", f"no live worker reads queue {queue} (they read: {read}); "
                                   f"start one with `--queues {queue}`")
    if not any(name in w.names for w in reading):
        return Reason("unknown_name", f"{len(reading)} live worker(s) read queue {queue}, but "
                                      f"none knows the job name `{name}`: run workers of the "
                                      "app (and code version) that declares it")
    return None


def behind(facts: Facts) -> Reason | None:
    """Ready jobs of the same queue that a claim takes first."""
    if facts.job.run_at > facts.now:
        return None  # not due: its place in line is decided when it is
    count = facts.store.count_ahead(facts.job.id, AHEAD_CAP)
    if count == 0:
        return None
    shown = f"{count}+" if count >= AHEAD_CAP else str(count)
    return Reason("behind", f"behind {shown} ready job{'s' if count != 1 else ''} in queue "
                            f"{facts.job.queue} that come first (higher priority, or equal "
                            "priority and earlier)")


# -- limits ---------------------------------------------------------------------------------------
# A limit holds a job back whatever its place in line, so these run before `behind`.

SHOWN_IDS = 10
"""List at most this many running job ids in a ``limit_full`` reason."""


def concurrency_limit(facts: Facts) -> Reason | None:
    """The job's concurrency key already runs as many jobs as its limit allows."""
    status = facts.limits
    if status.limit_key is None or status.limit_max is None:
        return None
    running = status.running
    if len(running) < status.limit_max:
        return None
    ids = ", ".join(str(i) for i in running[:SHOWN_IDS])
    more = f", and {len(running) - SHOWN_IDS} more" if len(running) > SHOWN_IDS else ""
    return Reason("limit_full", f"concurrency limit of key {status.limit_key} is full: "
                                f"{len(running)} running (job ids {ids}{more}) of at most "
                                f"{status.limit_max}; it starts when one of them finishes")


def rate_limit(facts: Facts) -> Reason | None:
    """The job's rate key has spent its budget of starts for the current window."""
    status = facts.limits
    if status.rate_key is None or status.spent_until is None:
        return None
    per = status.rate_per or 0.0
    budget = f"{status.rate_max} starts per {duration(per)}"
    return Reason("rate_spent", f"rate budget of key {status.rate_key} is spent until "
                                f"{_when(status.spent_until, facts.now)} ({budget})")


# -- sequences ------------------------------------------------------------------------------------
# A held job waits for its turn whatever else is true: explain() asks this rule first, alone.

AHEAD_STATES = (
    JobState.SCHEDULED, JobState.QUEUED, JobState.RUNNING, JobState.RETRYING, JobState.DEAD,
)


def sequence_head(store: Store, job: Job) -> Job | None:
    """The job that holds ``job``'s sequence key: its unfinished job, or the dead job that
    blocks it (``on_dead="block"``). None when ``job`` is not held or nothing holds the key."""
    key = job.sequence
    if key is None or job.state is not JobState.HELD:
        return None
    found = store.list_jobs(
        JobFilter(sequence=key, states=AHEAD_STATES, payloads=False, limit=50)
    )
    ahead = [
        j for j in found
        if j.state is not JobState.DEAD or j.meta.get(ON_DEAD, ON_DEAD_BLOCK) == ON_DEAD_BLOCK
    ]
    return min(ahead, key=lambda j: j.id) if ahead else None


def sequence_text(store: Store, job: Job) -> str | None:
    """What a held job waits behind, in one sentence (None for a job that is not held)."""
    if job.state is not JobState.HELD or job.sequence is None:
        return None
    head = sequence_head(store, job)
    # Held jobs of the key with lower ids go first (list_jobs reads newest first; few wait).
    also = len(store.list_jobs(JobFilter(sequence=job.sequence, states=(JobState.HELD,),
                                         before_id=job.id, payloads=False, limit=AHEAD_CAP)))
    queued = f" and {count_jobs(also)} held ahead of it" if also else ""
    if head is None:
        return (f"waiting in sequence `{job.sequence}`{queued}; the job ahead of it has just "
                f"finished, so it is released any moment")
    if head.state is JobState.DEAD:
        error = f": {head.error_type}: {head.error_message}" if head.error_type else ""
        return (f"waiting in sequence `{job.sequence}` behind job {head.id}, which is dead"
                f"{error}{queued}; replay or discard it to continue "
                f"(`conveyor dlq replay {head.id}` or `conveyor dlq discard {head.id}`)")
    return (f"waiting in sequence `{job.sequence}` behind job {head.id}, which is "
            f"{head.state}{queued}; it starts when that job finishes")


def count_jobs(n: int) -> str:
    """``1 job`` / ``3 jobs``."""
    return f"{n} job" if n == 1 else f"{n} jobs"


def in_sequence(facts: Facts) -> Reason | None:
    """The job is held: another job of its sequence key is ahead of it."""
    text = sequence_text(facts.store, facts.job)
    return None if text is None else Reason("sequence", text)


RULES: tuple[Rule, ...] = (expired, not_due, paused, workers, concurrency_limit, rate_limit, behind)
"""The rules :func:`explain` runs, in order."""


def stall_text(job: Job, now: float) -> str | None:
    """A sentence when ``job`` is running but its progress stood still for its
    ``stall_after=`` (:meth:`Job.stalled_for`); None when it is not stalled."""
    still = job.stalled_for(now)
    if still is None or job.stall_after is None:
        return None
    what = "reported no progress" if (job.progress_at or 0) < (job.started_at or 0) else (
        "made no progress"
    )
    return (f"stalled: it {what} for {duration(still)} (stall_after {duration(job.stall_after)})"
            f" while its worker's heartbeat goes on; the handler may be stuck "
            f"(`conveyor jobs cancel {job.id}` stops it)")


def _when(moment: float, now: float) -> str:
    """``in 5m (at 2026-11-30 12:00:00)`` or ``3m ago (at ...)``, by the store's clock."""
    relative = until(moment, now) if moment > now else f"{since(moment, now)} ago"
    return f"{relative} (at {clock(moment)})"
