"""Server-Sent Events of one job: an event each time its state or progress changes.

The stream polls the store (on a worker thread, never on the event loop) a few times a
second rather than listening for notifications, so it works the same on SQLite and
PostgreSQL and costs one primary-key read per poll. Each event is::

    event: job
    id: <n>
    data: {"id": 7, "state": "running", "progress": 0.5, ...}

(:func:`conveyor.web.serialize.job_status`). What the job emits (``ctx.emit``) comes as
``event: output`` with ``{"seq": 1, "attempt": 1, "chunk": ...}``, every chunk once, in order,
before the ``job`` event that shows it final. The stream ends after the event that shows the
job final (succeeded, dead or cancelled), or with ``event: gone`` when the job no longer
exists (pruned or discarded), or with ``event: expired`` once it has been open
:attr:`StreamLimits.max_age_seconds` (``EventSource`` then reconnects, authenticating
afresh), or when the client goes away. A comment line (``: keep-alive``) goes out every
:data:`HEARTBEAT_SECONDS` so proxies keep the connection open.

Each principal may hold at most :attr:`StreamLimits.per_principal` streams open at once (per
dashboard process); one more is refused with a 429 before it starts.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from conveyor.errors import ConfigurationError
from conveyor.models import Job
from conveyor.store.contract.output import OutputChunk
from conveyor.web.serialize import job_status

POLL_SECONDS = 0.3
"""How often the stream reads the job."""
HEARTBEAT_SECONDS = 15.0
"""How often a keep-alive comment is sent while nothing changes."""
RETRY_MILLISECONDS = 2000
"""What the stream tells ``EventSource`` to wait before reconnecting."""
STREAMS_PER_PRINCIPAL = 8
"""Default cap on the streams one principal holds open at once."""
MAX_STREAM_AGE_SECONDS = 3600.0
"""Default age at which a stream ends (``event: expired``) though its job is not final."""


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """Bounds on the event streams of one dashboard (``create_app(stream_limits=...)``)."""

    per_principal: int = STREAMS_PER_PRINCIPAL
    """Streams one principal may hold open at once; one more is a 429."""
    max_age_seconds: float = MAX_STREAM_AGE_SECONDS
    """A stream ends (``event: expired``) after this long, even if its job is not final."""

    def __post_init__(self) -> None:
        if isinstance(self.per_principal, bool) or not isinstance(self.per_principal, int) \
                or self.per_principal < 1:
            raise ConfigurationError(f"StreamLimits.per_principal must be a whole number of 1 "
                                     f"or more, got {self.per_principal!r}")
        if not (isinstance(self.max_age_seconds, int | float)
                and 0 < self.max_age_seconds < math.inf):
            raise ConfigurationError(f"StreamLimits.max_age_seconds must be a positive number "
                                     f"of seconds, got {self.max_age_seconds!r}")


class StreamSlots:
    """How many streams each principal holds open, against :attr:`StreamLimits.per_principal`.

    Only touched on the event loop (the handler and the response run there), so a plain
    counter needs no lock."""

    def __init__(self, limits: StreamLimits) -> None:
        self.limits = limits
        self.open: dict[str, int] = {}

    def take(self, principal: str) -> bool:
        """Count one more stream of ``principal``; False (nothing counted) when at the cap."""
        held = self.open.get(principal, 0)
        if held >= self.limits.per_principal:
            return False
        self.open[principal] = held + 1
        return True

    def give_back(self, principal: str) -> None:
        """Forget one stream of ``principal`` (it ended, or its client left)."""
        held = self.open.get(principal, 0) - 1
        if held > 0:
            self.open[principal] = held
        else:
            self.open.pop(principal, None)


class SlotResponse(StreamingResponse):
    """A streaming response that gives its slot back however it ends (finished, client gone,
    server shutting down), even when the body never started."""

    def __init__(self, slots: StreamSlots, principal: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = slots
        self.principal = principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream, then release the slot."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.give_back(self.principal)


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
    max_age_seconds: float = MAX_STREAM_AGE_SECONDS
    """The stream ends with ``event: expired`` once open this long."""
    clock: Callable[[], float] = time.monotonic
    """Where the stream's age and quiet time are read (a test may pass its own)."""
    read_output: Callable[[int, int], list[OutputChunk]] | None = None
    """A blocking read of the job's output after a seq (``store.read_output``); None: the
    stream carries no output events."""

    async def stream(self) -> AsyncIterator[str]:
        """Encoded SSE chunks until the job is final, gone, or the client disconnects."""
        poll = POLL_SECONDS if self.poll_seconds is None else self.poll_seconds
        heartbeat = HEARTBEAT_SECONDS if self.heartbeat_seconds is None else self.heartbeat_seconds
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        last: dict[str, Any] | None = None
        sent = 0
        after = 0
        started = quiet_since = self.clock()
        while True:
            job = await run_in_threadpool(self.read_job, self.job_id)
            if job is None:
                yield _event("gone", sent + 1, {"id": self.job_id})
                return
            # Read after the job: once it shows final, every chunk it emitted is stored.
            while self.read_output is not None and (
                chunks := await run_in_threadpool(self.read_output, self.job_id, after)
            ):
                for chunk in chunks:
                    sent += 1
                    yield _event("output", sent, {"seq": chunk.seq, "attempt": chunk.attempt,
                                                  "chunk": json.loads(chunk.chunk_json)})
                after = chunks[-1].seq
                quiet_since = self.clock()
            status = job_status(job)
            if status != last:
                sent += 1
                last = status
                quiet_since = self.clock()
                yield _event("job", sent, status)
                if job.state.is_final:
                    return
            elif self.clock() - quiet_since >= heartbeat:
                quiet_since = self.clock()
                yield ": keep-alive\n\n"
            if self.clock() - started >= self.max_age_seconds:
                yield _event("expired", sent + 1,
                             {"id": self.job_id, "max_age_seconds": self.max_age_seconds})
                return
            if await self.request.is_disconnected():
                return
            await anyio.sleep(poll)


def _event(kind: str, number: int, data: dict[str, Any]) -> str:
    # json.dumps never emits a raw newline, so the data fits on one ``data:`` line.
    return f"event: {kind}\nid: {number}\ndata: {json.dumps(data, default=str)}\n\n"
