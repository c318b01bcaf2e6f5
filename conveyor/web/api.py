"""The JSON HTTP API under ``/api``: enqueue, read, list, cancel and retry jobs; queues,
workers, schedules, alerts; a job's Server-Sent Events; and the OpenAPI document.

Every route needs a principal (a bearer token, a session cookie or the app's callback);
writes need an admin, and a browser session must also send its CSRF token. Errors are JSON,
``{"error": code, "message": ...}``, and a refused request writes nothing.

``Idempotency-Key``: a POST /api/jobs carrying this header enqueues with the unique key
``idempotency:<key>`` held for 24 hours after the job succeeds (and all the while it waits or
runs), so a client retrying after a timeout gets the first job back (200, ``duplicate``: true)
instead of a second one. Once the job went dead or was cancelled, or 24 hours after it
succeeded, the key is free and the same request enqueues a new job. Keys are shared by every
job type, like all unique keys (see docs/unique-jobs.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from conveyor._args import RESERVED
from conveyor._durations import to_seconds
from conveyor._handle import JobHandle
from conveyor._names import check_schedule_name
from conveyor.errors import (
    ArgumentError,
    ConfigurationError,
    PayloadTooLargeError,
    QueueFull,
    StoreUnavailableError,
    UnknownJobError,
)
from conveyor.models import LIVE_AFTER_SECONDS, Job, JobState
from conveyor.schedules.timing import parse_timing
from conveyor.store.protocol import JobFilter
from conveyor.web import params, serialize
from conveyor.web.events import JobEvents, SlotResponse, StreamSlots
from conveyor.web.openapi import openapi_document
from conveyor.web.openapi_parts import (
    DEFAULT_PAGE,
    MAX_DELAY_SECONDS,
    MAX_IDEMPOTENCY_KEY,
    MAX_PAGE,
)
from conveyor.web.pages_common import NO_STORE_HEADERS
from conveyor.web.params import BadParameter
from conveyor.web.web_context import MAX_BODY_BYTES, ApiError, WebContext

T = TypeVar("T")

IDEMPOTENCY_PREFIX = "idempotency:"
"""The unique key of a job enqueued with an ``Idempotency-Key`` is this plus the key."""
IDEMPOTENCY_HOLD_SECONDS = 24 * 3600.0
"""How long a succeeded job keeps answering its ``Idempotency-Key``."""
ENQUEUE_OPTIONS = ("queue", "priority", "delay", "tenant", "unique_key", "notify_url")
"""Body fields passed to ``prepare`` as enqueue options."""
ENQUEUE_FIELDS = frozenset({"name", "args", *ENQUEUE_OPTIONS})
LIST_PARAMETERS = (
    "state", "queue", "name", "tenant", "error_type", "q", "newer_than", "older_than",
    "before_id", "limit",
)
TEXT_FILTERS = {"queue": "queue", "name": "name", "tenant": "tenant",
                "error_type": "error_type", "q": "search"}
"""Query parameter -> JobFilter field, for the plain text filters."""
MAX_RUNNING_LISTED = 1000
"""Running jobs read to show each worker's current jobs."""


class ApiJson(JSONResponse):
    """A JSON answer of the API: never cached, never sniffed (:data:`NO_STORE_HEADERS`)."""

    def __init__(
        self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(content, status_code, {**NO_STORE_HEADERS, **(headers or {})})


def api_routes(context: WebContext) -> list[BaseRoute]:
    """The ``/api`` routes of one dashboard."""
    api = JsonApi(context)
    return [
        Route("/api/health", api.health, methods=["GET"], name="api_health"),
        Route("/api/openapi.json", api.openapi, methods=["GET"], name="api_openapi"),
        Route("/api/jobs", api.list_jobs, methods=["GET"], name="api_jobs"),
        Route("/api/jobs", api.enqueue, methods=["POST"], name="api_enqueue"),
        Route("/api/jobs/{job_id}", api.job, methods=["GET"], name="api_job"),
        Route("/api/jobs/{job_id}/attempts", api.attempts, methods=["GET"],
              name="api_job_attempts"),
        Route("/api/jobs/{job_id}/events", api.events, methods=["GET"], name="api_job_events"),
        Route("/api/jobs/{job_id}/cancel", api.cancel, methods=["POST"], name="api_job_cancel"),
        Route("/api/jobs/{job_id}/retry", api.retry, methods=["POST"], name="api_job_retry"),
        Route("/api/queues", api.queues, methods=["GET"], name="api_queues"),
        Route("/api/workers", api.workers, methods=["GET"], name="api_workers"),
        Route("/api/schedules", api.schedules, methods=["GET"], name="api_schedules"),
        Route("/api/alerts", api.alerts, methods=["GET"], name="api_alerts"),
        Route("/api/checkins/{name}", api.checkin, methods=["POST"], name="api_checkin"),
    ]


class JsonApi:
    """The handlers; each authenticates first, then validates, then touches the store."""

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

    # -- reading -------------------------------------------------------------------------------

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

    async def job(self, request: Request) -> Response:
        """One job: state, progress, arguments, result, error, attempts count, times."""
        await self.context.principal(request)
        return ApiJson(serialize.job_detail(await self._job(request)))

    async def attempts(self, request: Request) -> Response:
        """A job's attempts, oldest first, with their tracebacks."""
        await self.context.principal(request)
        job = await self._job(request)
        found = await self._run(self.context.store.list_attempts, job.id)
        return ApiJson(
            {"job_id": job.id, "attempts": [serialize.attempt_detail(a) for a in found]}
        )

    async def list_jobs(self, request: Request) -> Response:
        """Jobs matching the filters, newest first, one keyset page at a time."""
        await self.context.principal(request)
        flt, limit = _list_filter(request.query_params.multi_items())
        found = await self._run(self.context.store.list_jobs, flt)
        page = found[:limit]
        return ApiJson(
            {
                "jobs": [serialize.job_summary(job) for job in page],
                "next_before_id": page[-1].id if len(found) > limit else None,
            }
        )

    async def events(self, request: Request) -> Response:
        """The job's state and progress as Server-Sent Events, until it is final (or the
        stream's maximum age); a 429 past the principal's cap of open streams."""
        principal = await self.context.principal(request)
        job = await self._job(request)
        if request.method == "HEAD":  # headers only: a stream would run until the job ends
            return Response(media_type="text/event-stream", headers=NO_STORE_HEADERS)
        limits = self.slots.limits
        if not self.slots.take(principal.name):
            raise ApiError(
                429, "too_many_streams",
                f"{principal.name} already has {limits.per_principal} event streams open, the "
                "most one principal may hold; close one (a stream ends by itself when its job "
                "is final) and retry, or poll GET /api/jobs/{id} instead",
                limit=limits.per_principal,
            )
        stream = JobEvents(request, job.id, self.context.store.get_job,
                           max_age_seconds=limits.max_age_seconds)
        return SlotResponse(
            self.slots,
            principal.name,
            stream.stream(),
            media_type="text/event-stream",
            headers={**NO_STORE_HEADERS, "X-Accel-Buffering": "no"},
        )

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

    # -- acting --------------------------------------------------------------------------------

    async def enqueue(self, request: Request) -> Response:
        """Enqueue a job by name; 201 with its id, or 200 for an ``Idempotency-Key`` repeat."""
        await self.context.principal(request, act=True)
        body = await read_json(request)
        name = _job_name(body)
        handle = await self._run(
            self._enqueue_now, name, body, request.headers.get("idempotency-key")
        )
        return ApiJson(
            {"id": handle.id, "name": handle.name, "state": handle.state.value,
             "duplicate": handle.duplicate},
            status_code=200 if handle.duplicate else 201,
            headers={"Location": str(request.url_for("api_job", job_id=str(handle.id)))},
        )

    def _enqueue_now(
        self, name: str, body: dict[str, Any], idempotency_key: str | None
    ) -> JobHandle:
        app = self.context.app
        try:
            definition = app.get(name)
        except UnknownJobError as exc:
            raise ApiError(404, "unknown_job", str(exc), known=sorted(app.jobs)) from exc
        args, options = _call_of(body, idempotency_key)
        try:
            prepared = definition.prepare(**args, **options)
        except PayloadTooLargeError as exc:
            raise ApiError(413, "too_large", str(exc)) from exc
        except ArgumentError as exc:
            raise ApiError(422, "invalid_args", str(exc)) from exc
        except ConfigurationError as exc:
            raise ApiError(422, "invalid_options", str(exc)) from exc
        try:
            return app.enqueue_many([prepared])[0]
        except QueueFull as exc:
            raise ApiError(429, "queue_full", str(exc), queue=exc.queue) from exc

    async def cancel(self, request: Request) -> Response:
        """Cancel a job that is not final yet."""
        return await self._act(request, "cancel")

    async def retry(self, request: Request) -> Response:
        """Run a dead or cancelled job again with fresh attempts, or a waiting one now."""
        return await self._act(request, "retry")

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

    async def _act(self, request: Request, action: str) -> Response:
        principal = await self.context.principal(request, act=True)
        job = await self._job(request)
        store = self.context.store
        verb = store.cancel_jobs if action == "cancel" else store.retry_jobs
        changed = await self._run(verb, JobFilter(ids=(job.id,)))
        if not changed:
            raise ApiError(
                409,
                "invalid_transition",
                f"job {job.id} is {job.state.value}: {_cannot(action)}",
                state=job.state.value,
            )
        details = json.dumps({"via": "api", "from_state": job.state.value})
        await self._run(store.record_action, principal.name, action, f"job:{job.id}", details)
        after = await self._run(store.get_job, job.id)
        state = after.state.value if after is not None else None
        return ApiJson({"id": job.id, "action": action, "changed": True, "state": state})


def _cannot(action: str) -> str:
    if action == "cancel":
        return "only jobs not yet final (scheduled, queued, running, retrying) can be cancelled"
    return "a running or succeeded job cannot be retried (wait for a running one to end)"


# -- request parsing -----------------------------------------------------------------------------


async def read_json(request: Request, *, optional: bool = False) -> Any:
    """The JSON body, read at most :data:`MAX_BODY_BYTES` bytes far (a 413 beyond that).

    An empty body is a 400, or None with ``optional``."""
    kind = request.headers.get("content-type", "")
    if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large(size)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if optional:
            return None
        raise ApiError(400, "invalid_json", "the body is empty; send a JSON object")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ApiError(400, "invalid_json", f"the body is not valid JSON ({reason})") from exc


def _too_large(size: int) -> ApiError:
    return ApiError(
        413, "too_large", f"the body is at least {size} bytes; the limit is {MAX_BODY_BYTES}"
    )


def _job_name(body: Any) -> str:
    """The job name of a POST /api/jobs body whose shape fits the document, or a 400."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", 'the body must be a JSON object such as '
                       '{"name": "send_email", "args": {"to": "a@example.com"}}')
    unknown = sorted(set(body) - ENQUEUE_FIELDS)
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown field(s) {', '.join(map(repr, unknown))};"
                       f" the fields are {', '.join(sorted(ENQUEUE_FIELDS))}")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "invalid_request", 'the body needs "name": the job\'s registered name')
    return name


def _call_of(
    body: dict[str, Any], idempotency_key: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(arguments, enqueue options) of a POST /api/jobs body, or a 4xx.

    Checked once the job name is known, so an unknown name is always the 404 it is."""
    args = body.get("args", {})
    if not isinstance(args, dict):
        raise ApiError(422, "invalid_args", '"args" must be a JSON object of the job\'s '
                       "keyword arguments")
    options_named = sorted(set(args) & RESERVED)
    if options_named:
        raise ApiError(422, "invalid_args", f"{', '.join(map(repr, options_named))}: enqueue "
                       "options, not arguments; give them at the top level of the body")
    check_storable(args, "invalid_args", "args")
    options = {k: body[k] for k in ENQUEUE_OPTIONS if body.get(k) is not None}
    check_storable(options, "invalid_options", "options")
    if "delay" in options:
        options["delay"] = _seconds(options["delay"], "delay", MAX_DELAY_SECONDS,
                                    ApiError(422, "invalid_options", ""))
    if idempotency_key is not None:
        if "unique_key" in options:
            raise ApiError(400, "invalid_request", "give either the Idempotency-Key header or "
                           '"unique_key", not both')
        options["unique_key"] = IDEMPOTENCY_PREFIX + _idempotency_key(idempotency_key)
        options["unique_for"] = IDEMPOTENCY_HOLD_SECONDS
    return args, options


def _idempotency_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable() or not key.isascii():
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to "
                       f"{MAX_IDEMPOTENCY_KEY} printable ASCII characters (a UUID, say)")
    return key


def check_storable(value: Any, code: str, where: str) -> None:
    """Refuse strings no store can hold: NUL characters (PostgreSQL text and jsonb reject
    them) and unpaired surrogates (not encodable as UTF-8)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise ApiError(422, code, f"{where} contain a NUL character (\\u0000), which "
                               "cannot be stored")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ApiError(422, code, f"{where} contain an unpaired surrogate "
                               f"(\\u{ord(item[exc.start]):04x}), which is not valid "
                               "Unicode") from exc
        elif isinstance(item, float) and not math.isfinite(item):
            raise ApiError(422, code, f"{where} contain {item!r}, which JSON cannot carry")


def _seconds(value: Any, what: str, limit: float, error: ApiError) -> float:
    """A duration (seconds or text like ``"5m"``) within ``limit``, else ``error`` re-worded."""
    try:
        seconds = to_seconds(value, what=what)
    except (ConfigurationError, OverflowError) as exc:
        message = str(exc) if isinstance(exc, ConfigurationError) else f"{what} is too large"
        raise ApiError(error.status_code, error.code, message, **error.extra) from exc
    if seconds > limit:
        raise ApiError(error.status_code, error.code,
                       f"{what} must be at most {limit:.0f} seconds, got {value!r}", **error.extra)
    return seconds


def _list_filter(items: list[tuple[str, str]]) -> tuple[JobFilter, int]:
    """The JobFilter (fetching one row more than the page) and page size of a list query."""
    values: dict[str, list[str]] = {}
    for key, raw in items:
        if key not in LIST_PARAMETERS:
            raise BadParameter(key[:40], f"unknown parameter {key[:40]!r} (known: "
                               f"{', '.join(LIST_PARAMETERS)})")
        value = params.text(raw, key)
        if value is not None:
            values.setdefault(key, []).append(value)
    for key, given in values.items():
        if key != "state" and len(given) > 1:
            raise BadParameter(key, f"{key} was given {len(given)} times; give it once")
    single = {key: given[0] for key, given in values.items()}
    fields: dict[str, Any] = {TEXT_FILTERS[k]: v for k, v in single.items() if k in TEXT_FILTERS}
    fields["states"] = _states(values.get("state", []))
    for key in ("newer_than", "older_than"):
        if key in single:
            fields[key] = params.age(single[key], key)
    if "before_id" in single:
        fields["before_id"] = params.whole(single["before_id"], "before_id")
    limit = (params.whole(single["limit"], "limit", 1, MAX_PAGE) if "limit" in single
             else DEFAULT_PAGE)
    return JobFilter(limit=limit + 1, payloads=False, **fields), limit


def _states(given: list[str]) -> tuple[JobState, ...]:
    states: list[JobState] = []
    for value in (part.strip() for text in given for part in text.split(",") if part.strip()):
        try:
            states.append(JobState(value.lower()))
        except ValueError:
            raise BadParameter("state", f"state {value[:40]!r} is not one of "
                               f"{', '.join(s.value for s in JobState)}") from None
    return tuple(dict.fromkeys(states))
