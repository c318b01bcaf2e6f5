"""Outcomes of an attempt as values, and the policy that turns them into completions."""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from typing import Any

import pydantic_core

from conveyor.jobs import JobOptions
from conveyor.once import OnceConflictError
from conveyor.retries import Cancel, Permanent, Retry
from conveyor.store.protocol import ClaimedJob, Completion, CompletionKind, ErrorInfo

MAX_MESSAGE = 4000
MAX_TRACEBACK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Succeeded:
    """The handler returned a value."""

    result: Any


@dataclass(frozen=True, slots=True)
class Raised:
    """The handler raised (including Retry, Permanent and Cancel)."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class TimedOut:
    """The attempt ran past its timeout and was stopped."""

    timeout: float


@dataclass(frozen=True, slots=True)
class Undecodable:
    """The job's stored arguments could not be turned into a call; retrying cannot help."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class Released:
    """The worker is stopping: hand the job back without charging the attempt."""


@dataclass(frozen=True, slots=True)
class Settled:
    """The completion was already committed with the handler's own writes (ctx.transaction)."""


@dataclass(frozen=True, slots=True)
class Lost:
    """The attempt no longer holds its job, or its fate is unknown: write nothing.

    The lease decides: a job still running under this attempt is rescued when it lapses.
    """

    reason: str


Outcome = Succeeded | Raised | TimedOut | Undecodable | Released


def error_info(error: BaseException) -> ErrorInfo:
    """Error type, message and full traceback, trimmed to storable sizes."""
    text = "".join(traceback.format_exception(error))
    # NUL cannot be stored in a PostgreSQL text column; show it instead of failing the write.
    return ErrorInfo(
        type=type(error).__qualname__,
        message=str(error)[:MAX_MESSAGE].replace("\x00", "\\0"),
        traceback=text[-MAX_TRACEBACK:].replace("\x00", "\\0"),
    )


def encode_result(result: Any) -> str:
    """The handler's return value as JSON (datetimes and pydantic models are converted)."""
    return json.dumps(pydantic_core.to_jsonable_python(result), allow_nan=False)


def decide(
    job: ClaimedJob, options: JobOptions, outcome: Outcome, retry_delay: float
) -> Completion:
    """Turn an outcome into the completion the store applies.

    ``retry_delay`` is the backoff the policy would use for this attempt.
    """
    attempts_left = job.attempt < job.max_attempts

    def fail(info: ErrorInfo, *, retryable: bool, delay: float = retry_delay) -> Completion:
        if retryable and attempts_left:
            return Completion(job.id, job.token, CompletionKind.RETRY, retry_delay=delay,
                              error=info)
        return Completion(job.id, job.token, CompletionKind.DEAD, error=info)

    match outcome:
        case Succeeded(result):
            try:
                result_json = encode_result(result)
            except (TypeError, ValueError, pydantic_core.PydanticSerializationError) as exc:
                info = ErrorInfo(
                    "ResultNotJSON",
                    f"the handler returned a {type(result).__name__}, which cannot be stored "
                    f"as JSON ({exc}); return plain data",
                )
                return fail(info, retryable=False)
            return Completion(job.id, job.token, CompletionKind.SUCCEEDED, result_json=result_json)
        case Released():
            return Completion(job.id, job.token, CompletionKind.RELEASED)
        case Undecodable(error):
            return fail(error_info(error), retryable=False)
        case TimedOut(timeout):
            info = ErrorInfo("TimeoutError", f"the attempt ran past its timeout of {timeout:g}s")
            return fail(info, retryable=True)
        case Raised(OnceConflictError() as conflict):
            # Another attempt committed this effect: the next attempt skips it, so retrying
            # is always right, even past the last attempt (a dead job here would be a job
            # whose work was done, reported as failed).
            return Completion(job.id, job.token, CompletionKind.RETRY, error=error_info(conflict))
        case Raised(Retry() as retry):
            return fail(error_info(retry), retryable=True, delay=retry.after)
        case Raised(Permanent() as error):
            return fail(error_info(error), retryable=False)
        case Raised(Cancel() as error):
            return Completion(job.id, job.token, CompletionKind.CANCELLED, error=error_info(error))
        case Raised(error):
            if isinstance(error, options.give_up_on):
                return fail(error_info(error), retryable=False)
            if options.retry_on and not isinstance(error, options.retry_on):
                return fail(error_info(error), retryable=False)
            return fail(error_info(error), retryable=True)
