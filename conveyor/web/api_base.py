"""What the JSON API's handlers share: the JSON answer and the base of the handler classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from conveyor.errors import StoreUnavailableError
from conveyor.models import Job
from conveyor.web import params
from conveyor.web.events import StreamSlots
from conveyor.web.pages_common import NO_STORE_HEADERS
from conveyor.web.web_context import ApiError, WebContext

T = TypeVar("T")


class ApiJson(JSONResponse):
    """A JSON answer of the API: never cached, never sniffed (:data:`NO_STORE_HEADERS`)."""

    def __init__(
        self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(content, status_code, {**NO_STORE_HEADERS, **(headers or {})})


class ApiBase:
    """The state every handler class of the API shares: the dashboard's context, the event
    streams' slots, and running blocking store calls off the event loop."""

    def __init__(self, context: WebContext) -> None:
        self.context = context
        self.slots = StreamSlots(context.stream_limits)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking store call on a thread; an unreachable store is a 503."""
        try:
            return await run_in_threadpool(fn, *args)
        except StoreUnavailableError as exc:
            raise ApiError(503, "store_unavailable", str(exc)) from exc

    async def _job(self, request: Request) -> Job:
        job_id = params.job_id(request)
        job = await self._run(self.context.store.get_job, job_id)
        if job is None:
            raise ApiError(404, "job_not_found", f"no job {job_id} (it may have been pruned)")
        return job
