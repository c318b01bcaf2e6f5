"""The exception tree: everything Conveyor raises derives from :class:`ConveyorError`.

Every message says what was wrong and what to do about it.
"""

from __future__ import annotations


class ConveyorError(Exception):
    """Base class of every error Conveyor raises."""


class ConfigurationError(ConveyorError, ValueError):
    """An option given to ``@app.job``, ``Conveyor(...)`` or the CLI is invalid.

    Raised at declaration time (import time), never later when a job runs.
    """


class UnknownJobError(ConveyorError, LookupError):
    """A job name is not registered on this app."""


class ArgumentError(ConveyorError, TypeError):
    """Enqueue arguments do not fit the job's signature, are not JSON, or are too large.

    Nothing was written when this is raised.
    """


class PayloadTooLargeError(ArgumentError):
    """The encoded arguments exceed the app's ``max_payload_bytes``."""


class OutputLimitError(ConveyorError):
    """``ctx.emit`` would take a job's output past the app's ``max_output_bytes``."""


class UsageError(ConveyorError, ValueError):
    """``ctx.usage`` was given a unit name that is not an identifier or a value that is not a
    finite number."""


class JobNotFoundError(ConveyorError, LookupError):
    """No job with the given id exists (it may have been pruned)."""


class JobReplacedError(JobNotFoundError):
    """A handle's job is gone and its id now belongs to another job.

    Raised by :class:`~conveyor.JobHandle` instead of reading the other job: the handle's job
    was never committed (the transaction it was enqueued in rolled back, and SQLite handed its
    id out again) or its row was replaced behind Conveyor's back. A :class:`JobNotFoundError`,
    so code that already handles a missing job handles this too.
    """


class InvalidTransitionError(ConveyorError):
    """An action does not fit the job's current state (e.g. replaying a job that is not dead)."""


class StoreError(ConveyorError):
    """The store refused an operation; nothing was changed."""


class StoreUnavailableError(StoreError):
    """The store (database) could not be reached or refused the operation.

    The operation was not applied; it is safe to retry.
    """


class MigrationError(ConveyorError):
    """The database schema is missing, too new, or a migration failed."""


class JobFailedError(ConveyorError):
    """Raised by ``handle.result()`` when the job ended in ``dead``.

    ``error_type`` and ``error_message`` describe the last failed attempt.
    """

    def __init__(self, job_id: int, error_type: str | None, error_message: str | None) -> None:
        self.job_id = job_id
        self.error_type = error_type
        self.error_message = error_message
        super().__init__(
            f"job {job_id} ended in the dead-letter queue: {error_type}: {error_message} "
            f"(inspect it with `conveyor jobs show {job_id}`, replay it with "
            f"`conveyor dlq replay {job_id}`)"
        )


class JobCancelledError(ConveyorError):
    """Raised by ``handle.result()`` when the job was cancelled."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} was cancelled and will not produce a result")


class ResultTimeoutError(ConveyorError, TimeoutError):
    """``handle.result(timeout=...)`` gave up waiting; the job is still not finished."""


class QueueFull(ConveyorError):
    """An enqueue found its queue at ``max_queued``; nothing was written."""

    def __init__(self, queue: str, depth: int, limit: int) -> None:
        super().__init__(
            f"queue {queue!r} is full: {depth} jobs waiting, max_queued={limit}; retry later, "
            f"pass wait_for_room='30s' to wait for space, or raise the queue's max_queued"
        )
        self.queue = queue
        self.depth = depth
        self.limit = limit


class RunNotFoundError(ConveyorError, LookupError):
    """No pipeline run with the given id exists (it may have been pruned)."""


class RunFailedError(ConveyorError):
    """Raised by ``run.result()`` when the run ended ``failed``; ``error`` says which stage
    failed and why."""

    def __init__(self, run_id: int, error: str | None) -> None:
        self.run_id = run_id
        self.error = error
        super().__init__(
            f"run {run_id} failed: {error or 'no error recorded'} (see `conveyor runs show "
            f"{run_id}`; fix the cause and `conveyor runs resume {run_id}`)"
        )


class RunCancelledError(ConveyorError):
    """Raised by ``run.result()`` when the run was cancelled."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        super().__init__(
            f"run {run_id} was cancelled and has no result (`conveyor runs resume {run_id}` "
            "runs its unfinished stages)"
        )


class StageJobRetryError(ConfigurationError):
    """A retry or dead-letter replay matched finished stage jobs of pipeline runs; nothing was
    retried. A stage job runs again only with its run: ``conveyor runs resume RUN`` re-runs the
    stage and those after it, reusing the outputs before it (see docs/pipelines.md)."""

    def __init__(self, found: list[tuple[int, int, str]]) -> None:
        self.job_ids = [job_id for job_id, _, _ in found]
        self.run_ids = sorted({run_id for _, run_id, _ in found})
        if len(found) == 1:
            [(job_id, run_id, stage)] = found
            head = f"job {job_id} is stage `{stage}` of run {run_id}"
            how = f"`conveyor runs resume {run_id}`"
        else:
            jobs = ", ".join(str(j) for j in self.job_ids[:10])
            more = f" and {len(found) - 10} more" if len(found) > 10 else ""
            runs = ", ".join(str(r) for r in self.run_ids[:10])
            more_runs = f" and {len(self.run_ids) - 10} more" if len(self.run_ids) > 10 else ""
            head = f"jobs {jobs}{more} are stage jobs of runs {runs}{more_runs}"
            how = "`conveyor runs resume RUN` for each run"
        super().__init__(
            f"{head}: a stage job runs again only with its run, and nothing was retried. "
            f"{how} re-runs the stage and the stages after it, reusing the outputs before it "
            "(or run.resume(), or Resume on the run's dashboard page); to retry other jobs, "
            "narrow the selection so it leaves out stage jobs"
        )


class ResumeRefusedError(ConveyorError):
    """A resume would reuse a stored output that no longer fits the code, or the run cannot
    be resumed as asked; nothing was written. The message names the stage to resume from."""


class MiddlewareError(ConveyorError):
    """A middleware's ``around_attempt`` raised before the attempt ran (or never ran it).

    Recorded as the attempt's error, which is then retried by the job's policy like any
    failure; the message names the middleware and its exception.
    """
