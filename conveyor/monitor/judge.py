"""The dead-man's switch: judge each schedule slot once its run is over or its grace ran out.

A schedule promises that every slot's run **succeeded by the deadline** (the slot plus the
schedule's grace), with a result its ``expect`` accepts and within its ``max_duration``. The
monitor judges each ledger row once (:func:`judge`), stores the verdict, and the newest judged
slot of a schedule decides whether its ``missed_run`` incident fires (:func:`decides`).

Everything here is pure: times come in as arguments (the store's clock), nothing is read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from conveyor.models import JobState
from conveyor.schedules.definition import ScheduleDef
from conveyor.schedules.timing import Timing, parse_timing
from conveyor.store.watch_types import LedgerEntry, ScheduleRow, SlotStatus, Verdict

MISSED_RUN_RULE = "missed_run"
"""The rule name of schedule incidents (their subject is the schedule's name)."""

BAD_VERDICTS = frozenset({Verdict.FAILED, Verdict.LATE, Verdict.MISSED, Verdict.UNEXPECTED})
"""Verdicts that make a schedule's incident fire; OK resolves it and SKIPPED changes nothing."""

_DETAIL_CHARS = 300  # an exception's text can be a page; the alert needs its first line or so


@dataclass(frozen=True, slots=True)
class _Promise:
    """What a slot is judged against: the schedule's name, timing, zone and grace."""

    name: str
    timing: Timing | None
    tz: str
    grace: float


def _promise(schedule: ScheduleDef | ScheduleRow | None, fallback_name: str) -> _Promise:
    if schedule is None:
        # The schedule is gone: judge against a zero grace, which only matters for runs that
        # are still going (and the store returns those only once some grace ran out).
        return _Promise(fallback_name, None, "UTC", 0.0)
    if isinstance(schedule, ScheduleDef):
        return _Promise(schedule.name, schedule.timing, schedule.tz, schedule.grace)
    return _Promise(
        schedule.name, parse_timing(schedule.timing, schedule.tz), schedule.tz, schedule.grace
    )


def judge(
    entry: LedgerEntry, definition: ScheduleDef | None, now: float
) -> tuple[Verdict, str | None] | None:
    """Judge one ledger slot; None while it cannot be judged yet (its run may still succeed).

    - a slot the scheduler recorded as missed is MISSED; skipped or paused, SKIPPED;
    - a run that succeeded is UNEXPECTED when ``definition.expect`` returns False or raises for
      its result, or when it took longer than ``max_duration``; else LATE when it finished after
      the deadline (slot + grace: the promise is "succeeded by the deadline"); else OK;
    - a run that went dead or was cancelled is FAILED, and so is one whose job was pruned;
    - a run still queued, retrying or running at the deadline is LATE.

    The detail (second item) says why in a few words, or is None for OK.
    """
    if entry.status is SlotStatus.MISSED:
        return Verdict.MISSED, "no scheduler fired the slot in time"
    if entry.status is SlotStatus.SKIPPED:
        return Verdict.SKIPPED, "the previous run was still going (overlap=skip)"
    if entry.status is SlotStatus.PAUSED:
        return Verdict.SKIPPED, "the schedule was paused" + (f" by {entry.by}" if entry.by else "")
    promise = _promise(definition, entry.schedule)
    deadline = entry.slot + promise.grace
    state = entry.job_state
    if state is None:
        what = "job" if entry.run_id is None else f"run {entry.run_id}"
        return Verdict.FAILED, f"{what} pruned before it was judged"
    if state is JobState.SUCCEEDED:
        return _judge_success(entry, definition, promise, deadline)
    if state is JobState.DEAD:
        if entry.run_id is not None:  # a pipeline's run failed (the store reads it as dead)
            return Verdict.FAILED, _truncate(f"run {entry.run_id} failed: {entry.error_message}")
        return Verdict.FAILED, f"dead: {_error(entry)}"
    if state is JobState.CANCELLED:
        return Verdict.FAILED, "cancelled" + (f": {_error(entry)}" if entry.error_type else "")
    if now < deadline:
        return None
    return Verdict.LATE, _still(entry, promise.tz)


def _judge_success(
    entry: LedgerEntry, definition: ScheduleDef | None, promise: _Promise, deadline: float
) -> tuple[Verdict, str | None]:
    broken = _broken_expectation(entry, definition)
    if broken is not None:
        return Verdict.UNEXPECTED, broken
    finished = entry.finished_at
    if finished is not None and finished > deadline:
        return Verdict.LATE, f"succeeded at {wall_clock(finished, promise.tz)}, after the deadline"
    return Verdict.OK, None


def _broken_expectation(entry: LedgerEntry, definition: ScheduleDef | None) -> str | None:
    """Why a successful run breaks the schedule's expectations, or None when it keeps them."""
    if definition is None:
        return None
    if definition.expect is not None:
        try:
            result = None if entry.result_json is None else json.loads(entry.result_json)
            kept = definition.expect(result)
        except Exception as exc:  # the user's check is arbitrary code; its failure is a finding
            return _truncate(f"expect raised {type(exc).__name__}: {exc}")
        if not kept:  # None from a check that forgot to return is a bug worth seeing
            return _truncate(f"expect returned {kept!r} for result {entry.result_json}")
    limit = definition.max_duration
    if limit is not None and entry.started_at is not None and entry.finished_at is not None:
        took = entry.finished_at - entry.started_at
        if took > limit:
            return f"took {took:.1f}s, more than max_duration {limit:g}s"
    return None


def _still(entry: LedgerEntry, tz: str) -> str:
    """What a run that has not succeeded by its deadline is doing."""
    state = entry.job_state
    if state is JobState.RUNNING:
        since = "" if entry.started_at is None else f" since {wall_clock(entry.started_at, tz)}"
        return f"still running{since}"
    if state is JobState.RETRYING:
        after = f" after {_error(entry)}" if entry.error_type else ""
        return f"retrying{after}"
    if state is JobState.SCHEDULED:
        return "scheduled for later, not started"
    return "queued, not started"


def _error(entry: LedgerEntry) -> str:
    kind = entry.error_type or "error"
    message = entry.error_message or ""
    return _truncate(f"{kind}: {message}" if message else kind)


def _truncate(text: str) -> str:
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 3] + "..."


def wall_clock(moment: float, tz: str) -> str:
    """``HH:MM`` (``HH:MM:SS`` off the minute) of ``moment`` in zone ``tz``."""
    local = datetime.fromtimestamp(moment, ZoneInfo(tz))
    return local.strftime("%H:%M:%S" if local.second or local.microsecond else "%H:%M")


# -- what a verdict means for the schedule's incident -------------------------------------------


def decides(ledger: list[LedgerEntry]) -> LedgerEntry | None:
    """The entry that decides a schedule's incident: its newest judged slot that is not SKIPPED.

    ``ledger`` is newest first (as :meth:`Store.schedule_ledger` returns it). A skipped slot is
    neutral: the run before it is still going and will be judged on its own.
    """
    for entry in ledger:
        if entry.verdict is not None and entry.verdict is not Verdict.SKIPPED:
            return entry
    return None


def summary(
    schedule: ScheduleDef | ScheduleRow | None,
    entry: LedgerEntry,
    verdict: Verdict,
    detail: str | None = None,
) -> str:
    """One sentence about a judged slot, e.g. ``nightly_report: the 03:00 Europe/Berlin run
    did not succeed by 03:30 (still running since 03:00)``. ``detail`` defaults to the entry's."""
    promise = _promise(schedule, entry.schedule)
    detail = detail if detail is not None else entry.verdict_detail
    why = f" ({detail})" if detail else ""
    slot = (
        promise.timing.label(entry.slot)
        if promise.timing is not None
        else wall_clock(entry.slot, promise.tz) + f" {promise.tz}"
    )
    run = f"{promise.name}: the {slot} {'manual ' if entry.manual else ''}run"
    deadline = wall_clock(entry.slot + promise.grace, promise.tz)
    if verdict is Verdict.OK:
        return f"{run} succeeded by {deadline}"
    if verdict is Verdict.MISSED:
        return f"{promise.name}: the {slot} slot was missed: no scheduler was running"
    if verdict is Verdict.SKIPPED:
        return f"{promise.name}: the {slot} slot was skipped{why}"
    if verdict is Verdict.UNEXPECTED:
        return f"{run} succeeded but broke its expectation{why}"
    if verdict is Verdict.FAILED:
        if entry.job_state is JobState.DEAD and entry.run_id is not None:
            return f"{run} failed{why}"
        if entry.job_state is JobState.DEAD:
            return f"{run} failed into the dead-letter queue ({_error(entry)})"
        if entry.job_state is JobState.CANCELLED:
            return f"{run} was cancelled"
        return f"{run} failed{why}"
    return f"{run} did not succeed by {deadline}{why}"
