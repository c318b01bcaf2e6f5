"""Which waiting jobs no live worker will run: a job name nobody knows, a queue nobody reads.

A worker registers the queues it reads and the job names its app declares; a job waits
forever when no live worker has both. This is the most common "my jobs never run" cause, so
``conveyor queues`` and ``conveyor jobs show`` say it in plain words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.models import LIVE_AFTER_SECONDS, JobState, QueueStats, WorkerInfo
from conveyor.store.protocol import JobFilter, Store

_SCAN_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Unserved:
    """Ready jobs of one name in one queue that no live worker will pick up."""

    queue: str
    name: str
    ready: int
    reason: str
    """``unknown_name`` (no live worker declares the job) or ``queue_not_read``."""

    @property
    def message(self) -> str:
        """The plain-words warning shown under the queues table."""
        if self.reason == "unknown_name":
            return (
                f"no running worker knows `{self.name}` ({self.ready} queued in queue "
                f"{self.queue})"
            )
        return (
            f"no running worker reads queue {self.queue} for `{self.name}` ({self.ready} "
            "queued); start one with --queues including it"
        )


def live_workers(store: Store) -> list[WorkerInfo]:
    """Workers seen in the last minute."""
    return store.live_workers(stale_after=LIVE_AFTER_SECONDS)


def why_unserved(workers: Sequence[WorkerInfo], queue: str, name: str) -> str | None:
    """Why no worker in ``workers`` would run ``name`` from ``queue``, or None if one would."""
    knowing = [w for w in workers if name in w.names]
    if not knowing:
        return "unknown_name"
    if not any(w.reads(queue) for w in knowing):
        return "queue_not_read"
    return None


def ready_count(store: Store, queue: str, name: str) -> int:
    """Jobs of ``name`` in ``queue`` that could run right now."""
    flt = JobFilter(states=(JobState.QUEUED,), queue=queue, name=name)
    count = store.count_jobs(flt)
    # Scheduled and retrying jobs are ready once their time has come; the filter cannot say
    # "due", so look at them (bounded) and count the due ones.
    now = store.now()
    later = store.list_jobs(
        JobFilter(
            states=(JobState.SCHEDULED, JobState.RETRYING),
            queue=queue,
            name=name,
            limit=_SCAN_LIMIT,
        )
    )
    return count + sum(1 for job in later if job.run_at <= now)


def unserved(
    store: Store, stats: Sequence[QueueStats], workers: Sequence[WorkerInfo]
) -> list[Unserved]:
    """Every (queue, job name) with ready jobs that no live worker will run."""
    found = []
    for queue in stats:
        for name in queue.waiting_names:
            reason = why_unserved(workers, queue.queue, name)
            if reason is not None:
                found.append(Unserved(queue.queue, name, ready_count(store, queue.queue, name),
                                      reason))
    return found


def job_warning(store: Store, queue: str, name: str, state: JobState) -> str | None:
    """For a waiting job, a sentence saying no live worker will run it; else None."""
    if state not in (JobState.QUEUED, JobState.SCHEDULED, JobState.RETRYING):
        return None
    reason = why_unserved(live_workers(store), queue, name)
    if reason == "unknown_name":
        return (
            f"no running worker knows `{name}`: start a worker for the app that declares it, "
            "e.g. `conveyor worker myapp:app`"
        )
    if reason == "queue_not_read":
        return (
            f"no running worker reads queue {queue} for `{name}`: start one with "
            f"`--queues {queue}`"
        )
    return None
