"""Server-Sent Events of one job: an event each time its state or progress changes.

The stream polls the store (on a worker thread, never on the event loop) a few times a
second rather than listening for notifications, so it works the same on SQLite and
PostgreSQL and costs one primary-key read per poll. Each event is::

    event: job
    id: <n>
    data: {"id": 7, "state": "running", "progress": 0.5, ...}

(:func:`conveyor.web.serialize.job_status`). The stream ends after the event that shows the
job final (succeeded, dead or cancelled), or with ``event: gone`` when the job no longer
exists (pruned or discarded), or when the client goes away. A comment line (``: keep-alive``)
goes out every :data:`HEARTBEAT_SECONDS` so proxies keep the connection open.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from conveyor.models import Job
from conveyor.web.serialize import job_status

POLL_SECONDS = 0.3
"""How often the stream reads the job."""
HEARTBEAT_SECONDS = 15.0
"""How often a keep-alive comment is sent while nothing changes."""
RETRY_MILLISECONDS = 2000
"""What the stream tells ``EventSource`` to wait before reconnecting."""


@dataclass
class JobEvents:
    """The event stream of one job; iterate it to get the encoded chunks."""

    request: Request
    job_id: int
    read_job: Callable[[int], Job | None]
    """A blocking read of the job (``store.get_job``); run on a thread."""
    poll_seconds: float | None = None
    """Seconds between reads; None is :data:`POLL_SECONDS` (read when the stream starts)."""
    heartbeat_seconds: float | None = None
    """Seconds of quiet before a keep-alive; None is :data:`HEARTBEAT_SECONDS`."""

    async def stream(self) -> AsyncIterator[str]:
        """Encoded SSE chunks until the job is final, gone, or the client disconnects."""
        poll = POLL_SECONDS if self.poll_seconds is None else self.poll_seconds
        heartbeat = HEARTBEAT_SECONDS if self.heartbeat_seconds is None else self.heartbeat_seconds
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        last: dict[str, Any] | None = None
        sent = 0
        quiet_since = time.monotonic()
        while True:
            job = await run_in_threadpool(self.read_job, self.job_id)
            if job is None:
                yield _event("gone", sent + 1, {"id": self.job_id})
                return
            status = job_status(job)
            if status != last:
                sent += 1
                last = status
                quiet_since = time.monotonic()
                yield _event("job", sent, status)
                if job.state.is_final:
                    return
            elif time.monotonic() - quiet_since >= heartbeat:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            if await self.request.is_disconnected():
                return
            await anyio.sleep(poll)


def _event(kind: str, number: int, data: dict[str, Any]) -> str:
    # json.dumps never emits a raw newline, so the data fits on one ``data:`` line.
    return f"event: {kind}\nid: {number}\ndata: {json.dumps(data, default=str)}\n\n"
