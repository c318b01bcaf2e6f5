"""Queues (pause, resume), schedules (trigger now, pause, resume), the audit log of actions,
and usage (what the jobs cost)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from conveyor._names import check_queue, check_schedule_name
from conveyor.app import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.models import QueueControl, QueueStats
from conveyor.schedules.timing import Timing, parse_timing
from conveyor.store.protocol import Store
from conveyor.store.watch_types import LedgerEntry, ScheduleRow
from conveyor.store.web_types import ActionRow
from conveyor.web.forms import read_form
from conveyor.web.pages_common import (
    PAGE_SIZE,
    back,
    call,
    record,
    render,
)
from conveyor.web.params import query_text, query_whole, usage_query
from conveyor.web.web_context import WebContext


@dataclass(frozen=True, slots=True)
class QueueLine:
    """A queue with its counts and who last paused or resumed it."""

    stats: QueueStats
    control: QueueControl | None


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    """A schedule with its timing in words, next slot and last slot."""

    row: ScheduleRow
    timing: str
    next_at: float | None
    last: LedgerEntry | None
    last_label: str | None


@dataclass(frozen=True, slots=True)
class ActionLine:
    """An audit-log entry with its details decoded for display."""

    row: ActionRow
    details: Any


def read_queues(app: Conveyor) -> dict[str, Any]:
    """Every queue with counts: those with jobs, and those the app declares (maybe empty)."""
    store = app.store
    stats = {s.queue: s for s in store.queue_stats()}
    for definition in app.jobs.values():
        stats.setdefault(definition.options.queue, QueueStats(definition.options.queue))
    lines = [QueueLine(s, store.queue_control(s.queue)) for _, s in sorted(stats.items())]
    return {"now": store.now(), "queues": lines}


def _timing(row: ScheduleRow) -> Timing | None:
    try:
        return parse_timing(row.timing, row.tz)
    except ConfigurationError:
        return None


def read_schedules(store: Store) -> dict[str, Any]:
    """Every schedule with its next slot (none while paused) and what became of its last."""
    now = store.now()
    lines = []
    for row in store.list_schedules():
        timing = _timing(row)
        ledger = store.schedule_ledger(row.name, limit=1)
        last = ledger[0] if ledger else None
        lines.append(
            ScheduleLine(
                row,
                timing.describe() if timing else f"{row.timing} ({row.tz})",
                None if row.paused or timing is None else timing.next_after(now),
                last,
                None if last is None else str(last.status)
                + (f"/{last.verdict}" if last.verdict is not None else ""),
            )
        )
    return {"now": now, "schedules": lines}


def read_actions(store: Store, before_id: int | None, target: str | None) -> dict[str, Any]:
    """One page of the audit log, newest first."""
    found = store.list_actions(limit=PAGE_SIZE + 1, before_id=before_id, target=target)
    rows = found[:PAGE_SIZE]
    older = {"before_id": str(rows[-1].id)} if len(found) > PAGE_SIZE else None
    if older and target:
        older["target"] = target
    return {"now": store.now(), "actions": [ActionLine(r, _decode(r.details_json)) for r in rows],
            "older": older, "target": target}


def read_usage(store: Store, by: str, since: float) -> dict[str, Any]:
    """Each group's usage over the last ``since`` seconds, with every unit any reported."""
    now = store.now()
    totals = store.usage_totals(by, since=now - since)  # type: ignore[arg-type]
    units = sorted({unit for t in totals for unit in t.units})
    return {"now": now, "by": by, "since": since, "totals": totals, "units": units}


def _decode(details_json: str) -> Any:
    try:
        details = json.loads(details_json)
    except ValueError:
        return details_json
    return details or None


class AdminPages:
    """``/queues``, ``/schedules``, ``/actions`` (with their forms) and ``/usage``."""

    def __init__(self, context: WebContext) -> None:
        self.context = context

    def routes(self) -> list[BaseRoute]:
        """The routes of these pages and their actions."""
        return [
            Route("/queues", self.queues, name="queues"),
            Route("/queues/pause", self.pause_queue, methods=["POST"], name="queue_pause"),
            Route("/queues/resume", self.resume_queue, methods=["POST"], name="queue_resume"),
            Route("/schedules", self.schedules, name="schedules"),
            Route("/schedules/trigger", self.trigger, methods=["POST"], name="schedule_trigger"),
            Route("/schedules/pause", self.pause_schedule, methods=["POST"],
                  name="schedule_pause"),
            Route("/schedules/resume", self.resume_schedule, methods=["POST"],
                  name="schedule_resume"),
            Route("/actions", self.actions, name="actions"),
            Route("/usage", self.usage, name="usage"),
        ]

    # -- queues ---------------------------------------------------------------------------------

    async def queues(self, request: Request) -> Response:
        """Render every queue with pause and resume buttons."""
        principal = await self.context.principal(request)
        data = await call(read_queues, self.context.app)
        return await render(self.context, request, principal, "queues.html",
                            {**data, "nav": "queues"})

    async def pause_queue(self, request: Request) -> Response:
        """Stop workers claiming from a queue (it still accepts jobs)."""
        return await self._queue_switch(request, pause=True)

    async def resume_queue(self, request: Request) -> Response:
        """Let workers claim from a paused queue again."""
        return await self._queue_switch(request, pause=False)

    async def _queue_switch(self, request: Request, *, pause: bool) -> Response:
        principal = await self.context.principal(request, act=True)
        try:
            name = check_queue((await read_form(request)).get("name"))
        except ConfigurationError as exc:
            return back(request, "queues", error=str(exc))
        store = self.context.store
        verb = "pause_queue" if pause else "resume_queue"

        def run() -> bool:
            changed = store.set_queue_paused(name, pause, principal.name)
            if changed:
                record(store, principal, verb, f"queue:{name}")
            return changed

        if not await call(run):
            state = "already paused" if pause else "not paused"
            return back(request, "queues", error=f"queue {name} is {state}; nothing changed")
        done = "paused: workers stop claiming its jobs" if pause else "resumed"
        return back(request, "queues", flash=f"queue {name} {done}")

    # -- schedules ------------------------------------------------------------------------------

    async def schedules(self, request: Request) -> Response:
        """Render every schedule with trigger, pause and resume buttons."""
        principal = await self.context.principal(request)
        data = await call(read_schedules, self.context.store)
        return await render(self.context, request, principal, "schedules.html",
                            {**data, "nav": "schedules"})

    async def trigger(self, request: Request) -> Response:
        """Run a schedule's job now, outside its timing (a manual slot in its ledger)."""
        principal = await self.context.principal(request, act=True)
        try:
            name = check_schedule_name((await read_form(request)).get("name"))
        except ConfigurationError as exc:
            return back(request, "schedules", error=str(exc))
        app = self.context.app

        def run() -> int | None:
            written = app.trigger_schedule(name, by=principal.name)
            record(app.store, principal, "trigger_schedule", f"schedule:{name}",
                   job_id=written.job_id)
            return written.job_id

        try:
            job_id = await call(run)
        except ConfigurationError as exc:
            return back(request, "schedules", error=str(exc))
        made = f": job {job_id}" if job_id is not None else ""
        return back(request, "schedules", flash=f"schedule {name} triggered{made}")

    async def pause_schedule(self, request: Request) -> Response:
        """Stop a schedule firing (its slots are recorded as paused)."""
        return await self._schedule_switch(request, pause=True)

    async def resume_schedule(self, request: Request) -> Response:
        """Let a paused schedule fire again."""
        return await self._schedule_switch(request, pause=False)

    async def _schedule_switch(self, request: Request, *, pause: bool) -> Response:
        principal = await self.context.principal(request, act=True)
        try:
            name = check_schedule_name((await read_form(request)).get("name"))
        except ConfigurationError as exc:
            return back(request, "schedules", error=str(exc))
        store = self.context.store
        verb = "pause_schedule" if pause else "resume_schedule"

        def run() -> bool:
            changed = store.set_schedule_paused(name, pause, principal.name)
            if changed:
                record(store, principal, verb, f"schedule:{name}")
            return changed

        if not await call(run):
            state = "already paused" if pause else "not paused"
            return back(request, "schedules",
                        error=f"schedule {name} does not exist or is {state}; nothing changed")
        return back(request, "schedules",
                    flash=f"schedule {name} {'paused' if pause else 'resumed'}")

    # -- the audit log --------------------------------------------------------------------------

    async def actions(self, request: Request) -> Response:
        """Render the audit log, newest first, optionally of one target."""
        principal = await self.context.principal(request)
        data = await call(read_actions, self.context.store,
                          query_whole(request.query_params, "before_id"),
                          query_text(request.query_params, "target"))
        return await render(self.context, request, principal, "actions.html",
                            {**data, "nav": "actions"})

    # -- usage ----------------------------------------------------------------------------------

    async def usage(self, request: Request) -> Response:
        """Render what the jobs cost over a window, per job name, queue or tenant."""
        principal = await self.context.principal(request)
        by, since = usage_query(request.query_params)
        data = await call(read_usage, self.context.store, by, since)
        return await render(self.context, request, principal, "usage.html",
                            {**data, "nav": "usage"})
