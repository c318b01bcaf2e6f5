"""What a lapsed lease means for a job, decided once for every store."""

from __future__ import annotations

from conveyor.models import AttemptOutcome
from conveyor.store.protocol import Completion, CompletionKind, ErrorInfo

WORKER_LOST = "WorkerLost"
"""The error type recorded for an attempt whose worker stopped renewing its lease."""


def lost_attempt(
    job_id: int, token: int, attempt: int, max_attempts: int, worker_id: str | None
) -> tuple[Completion, AttemptOutcome]:
    """The completion and history outcome of an attempt whose lease lapsed.

    The attempt counts as failed: the job is retried at once, or sent to ``dead`` when its
    attempts are spent, so a job that kills its worker every time cannot loop forever.

    A retry here is not a handler's retry: the stores apply it with their rescue statement,
    which keeps the job's ``run_at`` (a claim never changes it). The orphan so returns to its
    old place in claim order (priority, run_at, id), ahead of the jobs enqueued while its
    worker held it, instead of behind the whole backlog; a rescued job re-runs within about
    lease + rescue interval of its worker's death, however deep the queue.
    """
    exhausted = attempt >= max_attempts
    message = (
        f"worker {worker_id} stopped renewing its lease (it died, was killed, or was paused "
        "past the lease); the attempt is counted as failed"
    )
    kind = CompletionKind.DEAD if exhausted else CompletionKind.RETRY
    completion = Completion(job_id, token, kind, error=ErrorInfo(WORKER_LOST, message))
    return completion, AttemptOutcome.DEAD if exhausted else AttemptOutcome.LOST
