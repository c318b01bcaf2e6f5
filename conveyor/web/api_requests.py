"""Reading the JSON API's requests: bodies, enqueue calls, ``Idempotency-Key`` and list
filters, each refused with a 4xx :class:`~conveyor.web.web_context.ApiError` that says what
was wrong."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from conveyor._args import RESERVED
from conveyor._durations import to_seconds
from conveyor.errors import ConfigurationError
from conveyor.models import JobState
from conveyor.store.protocol import JobFilter
from conveyor.web import params
from conveyor.web.openapi_parts import (
    DEFAULT_PAGE,
    MAX_DELAY_SECONDS,
    MAX_IDEMPOTENCY_KEY,
    MAX_PAGE,
)
from conveyor.web.params import BadParameter
from conveyor.web.web_context import MAX_BODY_BYTES, ApiError

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


def job_name(body: Any) -> str:
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


def call_of(
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


def query_values(items: list[tuple[str, str]], known: Sequence[str]) -> dict[str, list[str]]:
    """A list query's parameters by name: each must be ``known``, and only ``state`` repeats."""
    values: dict[str, list[str]] = {}
    for key, raw in items:
        if key not in known:
            raise BadParameter(key[:40], f"unknown parameter {key[:40]!r} (known: "
                               f"{', '.join(known)})")
        value = params.text(raw, key)
        if value is not None:
            values.setdefault(key, []).append(value)
    for key, given in values.items():
        if key != "state" and len(given) > 1:
            raise BadParameter(key, f"{key} was given {len(given)} times; give it once")
    return values


def list_filter(items: list[tuple[str, str]]) -> tuple[JobFilter, int]:
    """The JobFilter (fetching one row more than the page) and page size of a list query."""
    values = query_values(items, LIST_PARAMETERS)
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
