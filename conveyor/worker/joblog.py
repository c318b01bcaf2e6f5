"""The job lifecycle log: one line when an attempt starts and one when it ends.

A built-in middleware every worker runs outermost, so the lines frame everything the app's own
middleware does. Lines go to the ``conveyor.jobs`` logger and carry the job's fields (id, name,
queue, attempt and max, worker id, tenant, trace id) as record attributes, plus ``event``
(``started`` or the end's status), ``duration``, ``retry_at``, ``error_type`` and
``timed_out`` on the end line. ``CONVEYOR_LOG_LEVEL=WARNING`` keeps only the failures.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

from conveyor.middleware import AttemptEnd, AttemptStart, AttemptStatus, CallNext, Middleware

log = logging.getLogger("conveyor.jobs")

_LEVELS = {
    AttemptStatus.SUCCEEDED: logging.INFO,
    AttemptStatus.CANCELLED: logging.INFO,
    AttemptStatus.RELEASED: logging.INFO,
    AttemptStatus.SNOOZED: logging.INFO,
    AttemptStatus.RETRYING: logging.WARNING,
    AttemptStatus.LOST: logging.WARNING,
    AttemptStatus.DEAD: logging.ERROR,
}
MAX_SHOWN = 300
"""Characters of an error message shown in the line's text (the field keeps all of it)."""


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _error(end: AttemptEnd) -> str:
    if end.error_type is None:
        return ""
    message = (end.error_message or "")[:MAX_SHOWN]
    return f" ({end.error_type}: {message})" if message else f" ({end.error_type})"


def describe(attempt: AttemptStart, end: AttemptEnd) -> str:
    """The end line's text, e.g. ``myapp.send failed in 0.120s (ValueError: boom); attempt
    1/3, retrying at 2026-01-01T10:00:05Z``."""
    ctx = attempt.ctx
    took = f"{end.duration:.3f}s"
    tries = f"attempt {ctx.attempt}/{ctx.max_attempts}"
    failed = "timed out after" if end.timed_out else "failed in"
    match end.status:
        case AttemptStatus.SUCCEEDED:
            return f"{ctx.name} succeeded in {took} ({tries})"
        case AttemptStatus.RETRYING:
            at = "" if end.retry_at is None else f" at {_when(end.retry_at)}"
            return f"{ctx.name} {failed} {took}{_error(end)}; {tries}, retrying{at}"
        case AttemptStatus.DEAD:
            return f"{ctx.name} {failed} {took}{_error(end)}; {tries}, dead"
        case AttemptStatus.CANCELLED:
            return f"{ctx.name} cancelled itself after {took}{_error(end)}"
        case AttemptStatus.RELEASED:
            return (
                f"{ctx.name} interrupted by shutdown after {took}; handed back to the queue, "
                f"{tries} not charged"
            )
        case AttemptStatus.LOST:
            reason = f" ({end.error_message})" if end.error_message else ""
            return f"{ctx.name} lost its job after {took}{reason}; its lease decides what follows"
        case AttemptStatus.SNOOZED:
            at = "" if end.retry_at is None else f" until {_when(end.retry_at)}"
            reason = f": {end.error_message}" if end.error_message else ""
            return f"{ctx.name} snoozed{at}{reason} after {took}; {tries} not charged"


class JobLog(Middleware):
    """Logs each attempt's start and end with the job's fields (see the module's doc)."""

    async def around_attempt(self, attempt: AttemptStart, call_next: CallNext) -> AttemptEnd:
        """Log the start, run the attempt, log its end."""
        if not log.isEnabledFor(logging.INFO):
            end = await call_next()
            level = _LEVELS[end.status]
            if log.isEnabledFor(level):
                self._log_end(attempt, end, level, attempt.ctx.log_fields())
            return end
        ctx = attempt.ctx
        # The job's fields are the same on both lines: read them (and parse the trace id
        # from the headers) once per attempt, not once per line.
        job = ctx.log_fields()
        fields = dict(job)
        fields["event"] = "started"
        fields["queue_wait"] = round(attempt.queue_wait, 6)
        _emit(
            logging.INFO, "%s started on queue %s (attempt %d/%d)",
            (ctx.name, ctx.queue, ctx.attempt, ctx.max_attempts), fields,
        )
        end = await call_next()
        self._log_end(attempt, end, _LEVELS[end.status], job)
        return end

    @staticmethod
    def _log_end(attempt: AttemptStart, end: AttemptEnd, level: int, job: dict[str, Any]) -> None:
        """Log the end line; ``job`` (the job's fields) becomes the record's fields."""
        fields = job
        fields["event"] = str(end.status)
        fields["duration"] = round(end.duration, 6)
        if end.error_type is not None:
            fields["error_type"] = end.error_type
            fields["error_message"] = end.error_message
        if end.timed_out:
            fields["timed_out"] = True
        if end.retry_at is not None:
            fields["retry_at"] = _when(end.retry_at)
        _emit(level, "%s", (describe(attempt, end),), fields)


_TEMPLATES: dict[int, dict[str, Any]] = {}
"""Per thread: the attributes every record of ours shares (see :func:`_record`)."""
# A forked child starts over: its records carry its own process id. (Clearing at fork, rather
# than keying by ``os.getpid()``, spares every record a system call.)
os.register_at_fork(after_in_child=_TEMPLATES.clear)


def _template() -> dict[str, Any]:
    key = threading.get_ident()  # another thread: another name and id
    base = _TEMPLATES.get(key)
    if base is None:
        base = logging.LogRecord(log.name, logging.INFO, __file__, 0, "", (), None).__dict__
        base = _TEMPLATES[key] = dict(base)
    return base


def _record(level: int, message: str, args: tuple[Any, ...], fields: dict[str, Any]) -> Any:
    """A record equal to what ``Logger.makeRecord`` makes, for a third of its cost.

    ``LogRecord.__init__`` works out, for every record, what is the same for all of ours: the
    file and module names (a path split each time), the process and thread ids and names.
    Those are copied from a record made once per process and thread; only the time, level,
    message and fields are set per record.
    """
    base = _template()
    record = _NEW_RECORD(logging.LogRecord)
    attrs = record.__dict__
    attrs.update(base)
    created = time.time()
    attrs["created"] = created
    attrs["msecs"] = int((created - int(created)) * 1000) + 0.0
    attrs["relativeCreated"] = base["relativeCreated"] + (created - base["created"]) * 1000
    attrs["levelno"] = level
    attrs["levelname"] = logging.getLevelName(level)
    attrs["msg"] = message
    attrs["args"] = args
    if "taskName" in base:  # Python 3.12+: the current task, as LogRecord records it
        task = _current_task()
        attrs["taskName"] = None if task is None else task.get_name()
    attrs.update(fields)
    return record


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop in this thread
        return None


_NEW_RECORD = object.__new__


def _emit(level: int, message: str, args: tuple[Any, ...], fields: dict[str, Any]) -> None:
    """Log a record on ``conveyor.jobs`` without looking up the caller's frame: every line
    comes from here, so the file and line logging would find say nothing (and finding them
    was a fifth of a line's cost)."""
    log.handle(_record(level, message, args, fields))
