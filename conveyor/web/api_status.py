"""The JSON API's other resources: health, the OpenAPI document, queues, workers, schedules,
alerts, and check-in pings."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from conveyor._names import check_schedule_name
from conveyor.errors import ConfigurationError
from conveyor.models import LIVE_AFTER_SECONDS, JobState
from conveyor.schedules.timing import parse_timing
from conveyor.store.protocol import JobFilter
from conveyor.web import serialize
from conveyor.web.api_base import ApiBase, ApiJson
from conveyor.web.openapi import openapi_document
from conveyor.web.params import BadParameter, usage_query
from conveyor.web.web_context import ApiError

MAX_RUNNING_LISTED = 1000
"""Running jobs read to show each worker's current jobs."""


class StatusApi(ApiBase):
    """The handlers of the API's resources other than jobs."""

    async def health(self, request: Request) -> Response:
        """The store answers: its clock, and who is asking."""
        principal = await self.context.principal(request)
        now = await self._run(self.context.store.now)
        return ApiJson(
            {"status": "ok", "now": now, "principal": principal.name,
             "role": principal.role.value}
        )

    async def openapi(self, request: Request) -> Response:
        """This API's OpenAPI 3.1 document."""
        await self.context.principal(request)
        return ApiJson(openapi_document(request.scope.get("root_path", "")))

    async def queues(self, request: Request) -> Response:
        """Every queue's counts, oldest queued age, throughput and failure rate."""
        await self.context.principal(request)
        stats = await self._run(self.context.store.queue_stats)
        return ApiJson({"queues": [serialize.queue_detail(s) for s in stats]})

    async def workers(self, request: Request) -> Response:
        """Live workers with their last heartbeat and the ids of the jobs they run."""
        await self.context.principal(request)
        store = self.context.store
        live = await self._run(store.live_workers, LIVE_AFTER_SECONDS)
        running = await self._run(
            store.list_jobs,
            JobFilter(states=(JobState.RUNNING,), limit=MAX_RUNNING_LISTED, payloads=False),
        )
        by_worker: dict[str, list[int]] = {}
        for job in running:
            if job.worker_id is not None:
                by_worker.setdefault(job.worker_id, []).append(job.id)
        return ApiJson(
            {
                "workers": [
                    {**serialize.worker_detail(w), "running": by_worker.get(w.id, [])}
                    for w in live
                ]
            }
        )

    async def schedules(self, request: Request) -> Response:
        """Every schedule with its next slot and its last slot's outcome."""
        await self.context.principal(request)
        return ApiJson({"schedules": await self._run(self._schedules_now)})

    def _schedules_now(self) -> list[dict[str, Any]]:
        store = self.context.store
        now = store.now()
        docs = []
        for row in store.list_schedules():
            upcoming = None
            if not row.paused:
                try:
                    upcoming = parse_timing(row.timing, row.tz).next_after(now)
                except ConfigurationError:
                    upcoming = None  # a timing this version cannot read: shown without one
            last = store.schedule_ledger(row.name, limit=1)
            docs.append(serialize.schedule_detail(row, upcoming, last[0] if last else None))
        return docs

    async def alerts(self, request: Request) -> Response:
        """Incidents firing now, oldest first."""
        await self.context.principal(request)
        firing = await self._run(self.context.store.firing_incidents)
        return ApiJson({"alerts": [serialize.incident_detail(i) for i in firing]})

    async def usage(self, request: Request) -> Response:
        """What the attempts that ended in the window cost, per job name, queue or tenant."""
        await self.context.principal(request)
        by, since = usage_query(request.query_params)
        store = self.context.store

        def read() -> dict[str, Any]:
            now = store.now()
            totals = store.usage_totals(by, since=now - since)  # type: ignore[arg-type]
            return {"by": by, "since": now - since, "until": now,
                    "groups": [serialize.usage_total(t) for t in totals]}

        return ApiJson(await self._run(read))

    async def checkin(self, request: Request) -> Response:
        """Record a ping of a check-in, as ``conveyor checkin NAME`` does, over HTTP."""
        await self.context.principal(request, act=True)
        try:
            name = check_schedule_name(request.path_params["name"])
        except ConfigurationError as exc:
            raise BadParameter("name", str(exc)) from exc
        at = await self._run(self.context.store.record_checkin, name)
        if at is None:
            known = await self._run(self.context.store.list_checkins)
            raise ApiError(
                404,
                "checkin_not_found",
                f"no check-in named {name!r} (known: "
                f"{', '.join(c.name for c in known) or 'none'}); declare it with app.checkin "
                "or create it with `conveyor checkin NAME --every 1h`",
            )
        return ApiJson({"name": name, "at": at})
