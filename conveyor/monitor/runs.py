"""Watched runs: a pipeline's ``deadline=`` and ``stall=`` become incidents.

A run past its deadline fires ``run_deadline``; a run in which no stage has finished for its
``stall`` fires ``run_stall``. Each incident's subject is the run (``run:<id>``), so two late
runs are two incidents. Both are found by one cheap store read
(:meth:`~conveyor.store.contract.monitor.MonitorVerbs.overdue_runs`), and both resolve by
silence: once the run finishes (whichever way), is cancelled, or a stage finishes again (a
stall), the read no longer returns it, and :func:`~conveyor.monitor.incidents.reconcile`
resolves its incident in that round.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conveyor.models import StageState
from conveyor.monitor.config import Firing
from conveyor.store.watch_types import OverdueRun

if TYPE_CHECKING:
    from conveyor.store.contract.run_records import RunDetail
    from conveyor.store.protocol import Store

RUN_DEADLINE_RULE = "run_deadline"
"""The rule name of a run past its pipeline's ``deadline=`` (subject ``run:<id>``)."""
RUN_STALL_RULE = "run_stall"
"""The rule name of a run with no stage finished for its pipeline's ``stall=``."""
RUN_RULES = frozenset({RUN_DEADLINE_RULE, RUN_STALL_RULE})

DETAILED_RUNS = 20
"""Runs per round whose stages are read to say what they wait on; the rest get a shorter
summary (a burst of late runs must not turn one round into thousands of reads)."""


def run_subject(run_id: int) -> str:
    """An incident's subject for run ``run_id`` (as the audit log names runs)."""
    return f"run:{run_id}"


def watch_runs(store: Store, now: float, given: float | None = None) -> list[Firing]:
    """The firings of every running run past its deadline or stalled at ``now``.

    ``given`` is the caller's clock for the store read (None: the store's own, which ``now``
    was read from).
    """
    findings: list[Firing] = []
    for index, run in enumerate(store.overdue_runs(now=given)):
        # States and counts only: an overdue 10,000-item run's outputs are not read.
        detail = store.get_run(run.id, outputs=0) if index < DETAILED_RUNS else None
        waiting = _waiting_on(detail)
        if run.past_deadline(now):
            findings.append(_deadline(run, waiting))
        if run.stalled(now):
            findings.append(_stall(run, waiting))
    return findings


def _deadline(run: OverdueRun, waiting: str | None) -> Firing:
    assert run.deadline_at is not None
    # Nothing here depends on ``now``: reconcile rewrites an incident whose summary changed,
    # and a growing "late by" would rewrite it every round.
    summary = (
        f"pipeline {run.pipeline}, run {run.id}: not finished by its deadline "
        f"{_clock(run.deadline_at)} (started {_clock(run.created_at)})"
    )
    return Firing(
        rule=RUN_DEADLINE_RULE,
        subject=run_subject(run.id),
        summary=summary + (f"; {waiting}" if waiting else ""),
        details=_details(run, waiting),
    )


def _stall(run: OverdueRun, waiting: str | None) -> Firing:
    assert run.stall_after is not None
    summary = (
        f"pipeline {run.pipeline}, run {run.id}: stalled, no stage has finished since "
        f"{_clock(run.last_progress_at)} (stall={_span(run.stall_after)})"
    )
    return Firing(
        rule=RUN_STALL_RULE,
        subject=run_subject(run.id),
        summary=summary + (f"; {waiting}" if waiting else ""),
        details=_details(run, waiting),
    )


def _details(run: OverdueRun, waiting: str | None) -> dict[str, object]:
    return {
        "run_id": run.id,
        "pipeline": run.pipeline,
        "created_at": run.created_at,
        "deadline_at": run.deadline_at,
        "stall_after": run.stall_after,
        "last_progress_at": run.last_progress_at,
        "resumes": run.resumes,
        "tenant": run.tenant,
        "waiting_on": waiting,
    }


def _waiting_on(detail: RunDetail | None) -> str | None:
    """``waiting on `embed` (3 of 10000 items left)``: the stages whose jobs exist."""
    if detail is None:
        return None
    active = [s for s in detail.stages if s.state is StageState.ACTIVE]
    if not active:
        return None
    parts = []
    for stage in active:
        if stage.fan_out and stage.items_total:
            parts.append(
                f"`{stage.stage}` ({stage.items_left} of {stage.items_total} items left"
                + (f", {stage.items_failed} failed" if stage.items_failed else "")
                + ")"
            )
        else:
            parts.append(f"`{stage.stage}`")
    return "waiting on " + ", ".join(parts)


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: float) -> str:
    """``1h05m``, ``20m``, ``45s``: a duration as a person on call reads it."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"
