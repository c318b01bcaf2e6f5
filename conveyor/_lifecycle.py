"""The job state machine, decided in one place.

This module holds the table of transitions (from state, event) → (to state, attempt outcome,
attempt change), :func:`decide` (how an attempt ended → the :class:`Completion` a store
applies), and :func:`lost_attempt` (what a lapsed lease means). The stores write the target
state a :class:`Completion` or the table carries; no SQL statement and no store-local map picks
one. docs/architecture.md draws the same table (a unit test keeps the two equal).

It sits below the store: it imports only the models, the errors and the leaf modules that
define the handler's outcome exceptions (``retries``, ``once``).
"""

from __future__ import annotations

import enum
import json
import traceback
from dataclasses import dataclass, field
from typing import Any, Protocol

import pydantic_core

from conveyor._once import OnceConflictError
from conveyor._retries import Cancel, Permanent, Retry, Snooze
from conveyor.models import AttemptOutcome, JobState

MAX_MESSAGE = 4000
MAX_TRACEBACK = 64 * 1024

WORKER_LOST = "WorkerLost"
"""The error type recorded for an attempt whose worker stopped renewing its lease."""

CLAIM_UNANSWERED = "ClaimUnanswered"
"""The error type recorded (in the attempt history only) for a claim its worker never heard of,
handed back uncharged by ``release_unheld``."""


class CompletionKind(enum.StrEnum):
    """How an attempt ended, as a store applies it (the events out of ``running``)."""

    SUCCEEDED = "succeeded"
    RETRY = "retry"
    DEAD = "dead"
    CANCELLED = "cancelled"
    RELEASED = "released"
    """Hand the job back without charging the attempt (shutdown, process replacement)."""
    LOST = "lost"
    """The attempt's lease lapsed with attempts left (the rescuer's retry; ``run_at`` kept)."""
    SNOOZED = "snoozed"
    """The handler raised ``Snooze``: wait until ``run_at``, the attempt not charged, one more
    snooze counted in the job's meta (``snoozes``)."""


class Action(enum.StrEnum):
    """Events that are not the end of an attempt: the store's own and an operator's."""

    CLAIM = "claim"
    """A worker claims a due job (a new attempt, a new token)."""
    CANCEL = "cancel"
    """``cancel_jobs``: stop an unfinished job for good."""
    RETRY_NOW = "retry_now"
    """``retry_jobs``: run a waiting job now, or a finished one again with fresh attempts."""
    EXPIRE = "expire"
    """``cancel_expired``: a waiting job past its start deadline ends for good, never run late."""
    ADVANCE = "advance"
    """A sequence moves on: the first ``held`` job of a key whose jobs ahead have all finished
    is released, due now (see :mod:`conveyor.store.sequences`)."""
    ADVANCE_LATER = "advance_later"
    """As :attr:`ADVANCE`, for a released job whose ``run_at`` is still ahead: it waits."""
    REQUEUE = "requeue"
    """A job of a sequence made to run again (``retry_jobs``) goes back in line as ``held``:
    lowest id first, so a replayed dead job is again the head of its key."""
    RETRY_LATER = "retry_later"
    """``retry_jobs`` as a replay spread over time: a dead job due later waits, with fresh
    attempts, as a delayed insert would."""


Event = CompletionKind | Action


@dataclass(frozen=True, slots=True)
class Transition:
    """Where an event takes a job, and what the attempt history records for it."""

    to: JobState
    outcome: AttemptOutcome | None
    """The attempt history row written with the transition; ``None`` when none is written."""
    attempt_delta: int = 0
    """How ``attempt`` changes: ``-1`` un-charges a released attempt, ``+1`` counts a claim."""
    fresh_attempts: bool = False
    """``attempt`` restarts at 0 (a finished job retried); the history is kept."""


INSERTED_DUE = JobState.QUEUED
"""The state a new job starts in when it is due at once (``run_at`` not after the insert)."""
INSERTED_LATER = JobState.SCHEDULED
"""The state a new job starts in when it is due later; it waits, claimable once due. Both are
parameters of the stores' insert statements, which name no state themselves."""
INSERTED_HELD = JobState.HELD
"""The state a new job of a sequence starts in; the same transaction releases it at once when
its key has nothing unfinished ahead of it (see :mod:`conveyor.store.sequences`)."""

_RUNNING = JobState.RUNNING
_WAITING = (JobState.SCHEDULED, JobState.QUEUED, JobState.RETRYING)
_HELD = JobState.HELD

TRANSITIONS: dict[tuple[JobState, Event], Transition] = {
    # The end of an attempt (complete_jobs, ctx.transaction, rescue_expired).
    (_RUNNING, CompletionKind.SUCCEEDED): Transition(JobState.SUCCEEDED, AttemptOutcome.SUCCEEDED),
    (_RUNNING, CompletionKind.RETRY): Transition(JobState.RETRYING, AttemptOutcome.FAILED),
    (_RUNNING, CompletionKind.DEAD): Transition(JobState.DEAD, AttemptOutcome.DEAD),
    (_RUNNING, CompletionKind.CANCELLED): Transition(JobState.CANCELLED, AttemptOutcome.CANCELLED),
    (_RUNNING, CompletionKind.RELEASED): Transition(
        JobState.QUEUED, AttemptOutcome.RELEASED, attempt_delta=-1
    ),
    (_RUNNING, CompletionKind.LOST): Transition(JobState.RETRYING, AttemptOutcome.LOST),
    # A snooze is a wait the handler asked for, not a failure: it waits as a delayed insert.
    (_RUNNING, CompletionKind.SNOOZED): Transition(
        JobState.SCHEDULED, AttemptOutcome.SNOOZED, attempt_delta=-1
    ),
    # Claims (claim_jobs and the limited pass).
    **{(s, Action.CLAIM): Transition(_RUNNING, None, attempt_delta=1) for s in _WAITING},
    # cancel_jobs: every unfinished job; a running attempt is recorded as cancelled.
    **{(s, Action.CANCEL): Transition(JobState.CANCELLED, None) for s in (*_WAITING, _HELD)},
    (_RUNNING, Action.CANCEL): Transition(JobState.CANCELLED, AttemptOutcome.CANCELLED),
    # cancel_expired: a waiting job past its start deadline (a running one has started).
    **{(s, Action.EXPIRE): Transition(JobState.CANCELLED, None) for s in _WAITING},
    # retry_jobs: waiting jobs are made due now; dead and cancelled ones get fresh attempts.
    **{(s, Action.RETRY_NOW): Transition(JobState.QUEUED, None) for s in _WAITING},
    **{
        (s, Action.RETRY_NOW): Transition(JobState.QUEUED, None, fresh_attempts=True)
        for s in (JobState.DEAD, JobState.CANCELLED)
    },
    # Sequences: a held job is released when its key is free; a sequenced job run again
    # (replayed, retried by hand) goes back in line first.
    (_HELD, Action.ADVANCE): Transition(JobState.QUEUED, None),
    (_HELD, Action.ADVANCE_LATER): Transition(JobState.SCHEDULED, None),
    **{(s, Action.REQUEUE): Transition(_HELD, None) for s in (JobState.SCHEDULED, JobState.QUEUED)},
    # retry_jobs(replay=Replay(per_second=...)): the dead jobs after the first are due later.
    (JobState.DEAD, Action.RETRY_LATER): Transition(
        JobState.SCHEDULED, None, fresh_attempts=True
    ),
}
"""Every transition a job can make. A pair missing here is refused by the stores."""

_ENDINGS: dict[CompletionKind, Transition] = {k: TRANSITIONS[_RUNNING, k] for k in CompletionKind}
"""The rows out of ``running``, by kind: a :class:`Completion` is built for every attempt, so
its row is one lookup (every one of them records the attempt)."""
assert all(row.outcome is not None for row in _ENDINGS.values())


EXPIRED = "Expired"
"""The error type of a job that ended ``cancelled`` because it was not started by its start
deadline (``expires_in=`` / ``start_by=``)."""

EXPIRED_MESSAGE = ("not started by its start deadline, ", " UTC; it was cancelled rather than "
                   "run late")
"""The message of an expired job, around its deadline (``YYYY-MM-DD HH:MM:SS``), which each
store's statement formats from the row."""


def transition(state: JobState, event: Event) -> Transition:
    """The row of :data:`TRANSITIONS` for ``event`` in ``state``; ``ValueError`` if none."""
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise ValueError(f"a {state} job has no transition on {event!r}") from None


def sources(event: Event) -> tuple[JobState, ...]:
    """The states ``event`` applies to, in the order :class:`JobState` lists them."""
    return tuple(s for s in JobState if (s, event) in TRANSITIONS)


def target(event: Event) -> JobState:
    """The one state ``event`` leads to from all of its :func:`sources`."""
    [to] = {t.to for (_, e), t in TRANSITIONS.items() if e == event}
    return to


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A failed attempt's error, as recorded in the attempt history."""

    type: str
    message: str
    traceback: str | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """The end of one attempt. Applied only while the job is still ``running`` under ``token``.

    ``state``, ``outcome`` and ``attempt_delta`` are the table's row for ``kind``; the stores
    write them as they are.
    """

    job_id: int
    token: int
    kind: CompletionKind
    result_json: str | None = None
    retry_delay: float = 0.0
    error: ErrorInfo | None = None
    in_run: bool = False
    """True for a pipeline stage job (the worker knows it from the job's name): the store then
    advances the job's run in the transaction that applies this completion (see
    :mod:`conveyor.store.contract.runs`). Plain jobs leave it False and pay nothing for runs."""
    in_sequence: bool = False
    """True for a job of a sequence (``sequence=``; the worker knows it from the job's meta):
    the store then releases the next job of its key in the same transaction when this one ends
    (see :mod:`conveyor.store.sequences`). Plain jobs leave it False and pay nothing."""
    state: JobState = field(init=False)
    """The job's next state."""
    outcome: AttemptOutcome = field(init=False)
    """The attempt history row's outcome."""
    attempt_delta: int = field(init=False)
    """How the job's ``attempt`` changes."""

    def marked(self, *, in_run: bool, in_sequence: bool) -> Completion:
        """This completion with its run and sequence marks set (what ``dataclasses.replace``
        makes, without its generic field walk: the worker marks every stage job's)."""
        return Completion(
            self.job_id, self.token, self.kind, self.result_json, self.retry_delay, self.error,
            in_run, in_sequence,
        )

    def __post_init__(self) -> None:
        row = _ENDINGS[self.kind]
        # A frozen dataclass sets derived fields through object.__setattr__.
        object.__setattr__(self, "state", row.to)
        object.__setattr__(self, "outcome", row.outcome)
        object.__setattr__(self, "attempt_delta", row.attempt_delta)


# -- outcomes of an attempt, as values --------------------------------------------------------


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


SNOOZES = "snoozes"
"""The key of a job's meta that counts its snoozes (the stores add one with each snooze)."""

SNOOZE_LIMIT = "SnoozeLimit"
"""The error type recorded when a job snoozes past its ``max_snoozes``."""


def snoozes_of(meta_json: str) -> int:
    """How many times a job has snoozed, from its meta (0 when never)."""
    if SNOOZES not in meta_json:  # the common case costs no JSON parse
        return 0
    count = json.loads(meta_json).get(SNOOZES, 0)
    return count if isinstance(count, int) else 0


class AttemptRef(Protocol):
    """The parts of a claimed job :func:`decide` reads (a ``ClaimedJob`` has them)."""

    @property
    def id(self) -> int: ...
    @property
    def token(self) -> int: ...
    @property
    def attempt(self) -> int: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def meta_json(self) -> str: ...


class ErrorRules(Protocol):
    """A job type's retry rules :func:`decide` reads (a ``JobOptions`` has them)."""

    @property
    def retry_on(self) -> tuple[type[BaseException], ...]: ...
    @property
    def give_up_on(self) -> tuple[type[BaseException], ...]: ...
    @property
    def max_snoozes(self) -> int | None: ...


def error_info(error: BaseException) -> ErrorInfo:
    """Error type, message and full traceback, trimmed to storable sizes."""
    text = "".join(traceback.format_exception(error))
    # NUL cannot be stored in a PostgreSQL text column; show it instead of failing the write.
    return ErrorInfo(
        type=type(error).__qualname__,
        message=str(error)[:MAX_MESSAGE].replace("\x00", "\\0"),
        traceback=text[-MAX_TRACEBACK:].replace("\x00", "\\0"),
    )


@dataclass(frozen=True, slots=True)
class JSONText:
    """A return value already checked and encoded as JSON (a pipeline stage's output, which
    its seam check encodes): stored as it is, not decoded and encoded again."""

    text: str


def encode_result(result: Any) -> str:
    """The handler's return value as JSON (datetimes and pydantic models are converted)."""
    if result is None:  # most handlers return nothing: skip the converter and the encoder
        return "null"
    if type(result) is JSONText:
        return result.text
    return json.dumps(pydantic_core.to_jsonable_python(result), allow_nan=False)


def decide(
    job: AttemptRef, options: ErrorRules, outcome: Outcome, retry_delay: float
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
        case Raised(Snooze() as snooze):
            return _snooze(job, options.max_snoozes, snooze)
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


def _snooze(job: AttemptRef, max_snoozes: int | None, snooze: Snooze) -> Completion:
    """Put the job back for ``snooze.after`` seconds, or send it to ``dead`` past its cap."""
    done = snoozes_of(job.meta_json)
    if max_snoozes is not None and done >= max_snoozes:
        info = ErrorInfo(
            SNOOZE_LIMIT,
            f"the job snoozed {done} times, its max_snoozes, and asked again "
            f"({snooze.reason}); raise max_snoozes= on the job type (or None for no cap) if it "
            "must wait longer, or fail it with Retry/Permanent",
        )
        return Completion(job.id, job.token, CompletionKind.DEAD, error=info)
    info = ErrorInfo("Snooze", snooze.reason[:MAX_MESSAGE].replace("\x00", "\\0"))
    return Completion(
        job.id, job.token, CompletionKind.SNOOZED, retry_delay=snooze.after, error=info
    )


def lost_attempt(
    job_id: int, token: int, attempt: int, max_attempts: int, worker_id: str | None
) -> Completion:
    """The completion of an attempt whose lease lapsed (the rescuer's rule).

    The attempt counts as failed: the job is retried at once (``LOST``), or sent to ``dead``
    when its attempts are spent, so a job that kills its worker every time cannot loop forever.

    A ``LOST`` retry is not a handler's retry: the stores apply it with their rescue statement,
    which keeps the job's ``run_at`` (a claim never changes it). The orphan so returns to its
    old place in claim order (priority, run_at, id), ahead of the jobs enqueued while its
    worker held it, instead of behind the whole backlog; a rescued job re-runs within about
    lease + rescue interval of its worker's death, however deep the queue.
    """
    message = (
        f"worker {worker_id} stopped renewing its lease (it died, was killed, or was paused "
        "past the lease); the attempt is counted as failed"
    )
    kind = CompletionKind.DEAD if attempt >= max_attempts else CompletionKind.LOST
    return Completion(job_id, token, kind, error=ErrorInfo(WORKER_LOST, message))


def unheld_attempt(job_id: int, token: int, worker_id: str) -> Completion:
    """The completion of an attempt its worker never started: a claim that committed while
    its answer was lost (the connection broke at the commit), found by ``release_unheld``.

    A release, as on shutdown: the job goes back to ``queued``, the attempt is not charged
    (no handler ran), and the history records why, so an operator does not take it for a
    shutdown.
    """
    message = (
        f"worker {worker_id} claimed the job but never received the claim's answer (the "
        "connection broke as the claim committed); handed back without charging the attempt"
    )
    return Completion(
        job_id, token, CompletionKind.RELEASED, error=ErrorInfo(CLAIM_UNANSWERED, message)
    )
