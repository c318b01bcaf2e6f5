"""The OpenAPI 3.1 document of the JSON API, written by hand as data.

It describes exactly what :mod:`conveyor.web.api` does: keep the two in step (the fuzz test
in tests/web/test_api_fuzz.py checks every response against this document).
"""

from __future__ import annotations

from typing import Any

from conveyor._jobs import MAX_NOTIFY_URL_LENGTH, MAX_PRIORITY, MAX_TENANT_LENGTH
from conveyor._names import MAX_JOB_NAME_LENGTH, MAX_KEY_LENGTH, MAX_QUEUE_LENGTH
from conveyor.models import JobState

JsonDict = dict[str, Any]

# -- limits the API enforces (api.py imports them: the document is the contract) -------------

MAX_ID = 2**63 - 1
"""Ids beyond a signed 64-bit integer cannot exist in either store."""
DEFAULT_PAGE = 50
MAX_PAGE = 500
MAX_TEXT = 1000
"""Longest filter value accepted in a query string."""
MAX_IDEMPOTENCY_KEY = 200
MAX_DELAY_SECONDS = 10 * 366 * 86400.0
"""Ten years: a later start is a mistake (and beyond what every store's clock can hold)."""
DURATION_PATTERN = r"^ *(\d+(\.\d+)?|(\d+(\.\d+)?(ms|s|m|h|d|w))+) *$"
"""Seconds, or text like ``15m`` or ``1h30m`` (conveyor._durations)."""
NO_CONTROL_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
"""Query text: no control character (C0, DEL, C1), as the API checks."""
STATE_PATTERN = (
    r"^ *(" + "|".join(s.value for s in JobState) + r")? *(, *("
    + "|".join(s.value for s in JobState) + r")? *)*$"
)
QUEUE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:\-]*$"
IDEMPOTENCY_KEY_PATTERN = r"^[ -~]*[!-~][ -~]*$"
"""Printable ASCII with at least one character that is not a space."""


def _nullable(kind: str, **extra: Any) -> JsonDict:
    return {"type": [kind, "null"], **extra}


def _obj(required: list[str], properties: JsonDict, **extra: Any) -> JsonDict:
    return {"type": "object", "required": required, "properties": properties, **extra}


def _ref(name: str) -> JsonDict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: JsonDict, description: str) -> JsonDict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> JsonDict:
    return _json(_ref("Error"), description)


_STATE = {"type": "string", "enum": [s.value for s in JobState]}
_TEXT = {"type": "string", "maxLength": MAX_TEXT, "pattern": NO_CONTROL_PATTERN}
_DURATION = {"type": "string", "pattern": DURATION_PATTERN}
_TIME = _nullable("number", description="Unix epoch seconds (UTC)")

_JOB_SUMMARY = {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "queue": {"type": "string"},
    "state": _STATE,
    "priority": {"type": "integer"},
    "attempts": {"type": "integer", "description": "Attempts made so far"},
    "max_attempts": {"type": "integer"},
    "tenant": _nullable("string"),
    "created_at": {"type": "number"},
    "run_at": {"type": "number"},
    "started_at": _TIME,
    "finished_at": _TIME,
    "progress": _nullable("number", description="0 to 1, as reported by ctx.progress"),
    "progress_message": _nullable("string"),
    "error_type": _nullable("string"),
    "error_message": _nullable("string"),
}

_ERROR_INFO = {
    "oneOf": [
        {"type": "null"},
        _obj(["type", "message"],
             {"type": _nullable("string"), "message": _nullable("string")}),
    ]
}

_JOB_DETAIL = {
    **_JOB_SUMMARY,
    "args": _nullable("object", description="null when the stored payload cannot be decoded"),
    "result": {"description": "What the handler returned (any JSON value)"},
    "error": _ERROR_INFO,
    "worker_id": _nullable("string"),
    "lease_until": _TIME,
    "timeout": _nullable("number"),
    "unique_key": _nullable("string"),
    "meta": {"type": "object"},
}

SCHEMAS: JsonDict = {
    "Error": _obj(
        ["error", "message"],
        {
            "error": {"type": "string", "description": "A stable code, e.g. unknown_job"},
            "message": {"type": "string", "description": "What was wrong and what to do"},
            "known": {"type": "array", "items": {"type": "string"},
                      "description": "unknown_job: the registered job names"},
            "parameter": {"type": "string", "description": "invalid_parameter: which one"},
            "state": {"type": "string", "description": "invalid_transition: the job's state"},
            "queue": {"type": "string", "description": "queue_full: the full queue"},
        },
    ),
    "Health": _obj(
        ["status", "now", "principal", "role"],
        {"status": {"const": "ok"}, "now": {"type": "number"}, "principal": {"type": "string"},
         "role": {"type": "string", "enum": ["admin", "read"]}},
    ),
    "EnqueueRequest": _obj(
        ["name"],
        {
            "name": {"type": "string", "minLength": 1, "description": "The job's name"},
            "args": {"type": "object", "description": "The handler's keyword arguments"},
            "queue": _nullable("string", minLength=1, maxLength=MAX_QUEUE_LENGTH,
                               pattern=QUEUE_PATTERN),
            "priority": _nullable("integer", minimum=-MAX_PRIORITY, maximum=MAX_PRIORITY,
                                  description="Higher runs first"),
            "delay": {
                "oneOf": [
                    {"type": "number", "minimum": 0, "maximum": MAX_DELAY_SECONDS},
                    _DURATION,
                    {"type": "null"},
                ],
                "description": "Seconds, or text like '5m' or '1h30m'; at most ten years",
            },
            "tenant": _nullable("string", maxLength=MAX_TENANT_LENGTH, pattern=r"\S"),
            "unique_key": _nullable("string", minLength=1, maxLength=MAX_KEY_LENGTH),
            "notify_url": _nullable("string", maxLength=MAX_NOTIFY_URL_LENGTH, description=(
                "An http(s) URL that receives a signed JSON POST when the job finishes")),
        },
        additionalProperties=False,
    ),
    "Enqueued": _obj(
        ["id", "name", "state", "duplicate"],
        {"id": {"type": "integer"}, "name": {"type": "string"}, "state": _STATE,
         "duplicate": {"type": "boolean", "description":
                       "True when the key was held: nothing was written, id is the holder's"}},
    ),
    "JobSummary": _obj(list(_JOB_SUMMARY), _JOB_SUMMARY),
    "Job": _obj(list(_JOB_DETAIL), _JOB_DETAIL),
    "JobList": _obj(
        ["jobs", "next_before_id"],
        {"jobs": {"type": "array", "items": _ref("JobSummary")},
         "next_before_id": _nullable("integer", description=(
             "Pass as before_id for the next (older) page; null on the last page"))},
    ),
    "Attempt": _obj(
        ["attempt", "worker_id", "started_at", "finished_at", "duration", "outcome",
         "error_type", "error_message", "traceback"],
        {"attempt": {"type": "integer"}, "worker_id": _nullable("string"),
         "started_at": _TIME, "finished_at": _TIME, "duration": _nullable("number"),
         "outcome": {"type": "string", "enum": ["succeeded", "failed", "dead", "cancelled",
                                                "released", "lost"]},
         "error_type": _nullable("string"), "error_message": _nullable("string"),
         "traceback": _nullable("string")},
    ),
    "Attempts": _obj(
        ["job_id", "attempts"],
        {"job_id": {"type": "integer"}, "attempts": {"type": "array", "items": _ref("Attempt")}},
    ),
    "ActionResult": _obj(
        ["id", "action", "changed", "state"],
        {"id": {"type": "integer"}, "action": {"type": "string", "enum": ["cancel", "retry"]},
         "changed": {"const": True}, "state": {"oneOf": [_STATE, {"type": "null"}]}},
    ),
    "JobStatus": _obj(
        ["id", "name", "state", "attempts", "progress", "progress_message", "result", "error",
         "finished_at"],
        {"id": {"type": "integer"}, "name": {"type": "string"}, "state": _STATE,
         "attempts": {"type": "integer"}, "progress": _nullable("number"),
         "progress_message": _nullable("string"), "result": {}, "error": _ERROR_INFO,
         "finished_at": _TIME},
        description="The data of each `event: job` of GET /api/jobs/{job_id}/events",
    ),
    "Queue": _obj(
        ["queue", "queued", "scheduled", "running", "retrying", "dead", "oldest_queued_age",
         "succeeded_last_hour", "failed_last_hour", "failure_rate", "waiting_names", "paused"],
        {"queue": {"type": "string"}, "queued": {"type": "integer"},
         "scheduled": {"type": "integer"}, "running": {"type": "integer"},
         "retrying": {"type": "integer"}, "dead": {"type": "integer"},
         "oldest_queued_age": _nullable("number", description="Seconds"),
         "succeeded_last_hour": {"type": "integer"}, "failed_last_hour": {"type": "integer"},
         "failure_rate": _nullable("number"),
         "waiting_names": {"type": "array", "items": {"type": "string"}},
         "paused": {"type": "boolean"}},
    ),
    "Worker": _obj(
        ["id", "hostname", "pid", "queues", "names", "started_at", "last_seen", "running"],
        {"id": {"type": "string"}, "hostname": {"type": "string"}, "pid": {"type": "integer"},
         "queues": {"type": "array", "items": {"type": "string"}},
         "names": {"type": "array", "items": {"type": "string"}},
         "started_at": {"type": "number"}, "last_seen": {"type": "number"},
         "running": {"type": "array", "items": {"type": "integer"},
                     "description": "Ids of the jobs it runs now"}},
    ),
    "Schedule": _obj(
        ["name", "job_name", "timing", "tz", "args", "queue", "grace", "catch_up", "overlap",
         "source", "paused", "paused_by", "next_slot", "last"],
        {"name": {"type": "string"}, "job_name": {"type": "string"},
         "timing": {"type": "string", "description": "cron:<expr> or every:<seconds>"},
         "tz": {"type": "string"}, "args": {}, "queue": _nullable("string"),
         "grace": {"type": "number"}, "catch_up": {"type": "string"},
         "overlap": {"type": "string"}, "source": {"type": "string", "enum": ["code", "store"]},
         "paused": {"type": "boolean"}, "paused_by": _nullable("string"),
         "next_slot": _TIME,
         "last": {"oneOf": [{"type": "null"}, _ref("Slot")]}},
    ),
    "Slot": _obj(
        ["slot", "status", "fired_at", "manual", "by", "job_id", "job_state", "verdict",
         "verdict_detail"],
        {"slot": {"type": "number"}, "status": {"type": "string"},
         "fired_at": {"type": "number"}, "manual": {"type": "boolean"},
         "by": _nullable("string"), "job_id": _nullable("integer"),
         "job_state": {"oneOf": [_STATE, {"type": "null"}]},
         "verdict": _nullable("string"), "verdict_detail": _nullable("string")},
    ),
    "Alert": _obj(
        ["id", "rule", "subject", "state", "summary", "details", "opened_at", "updated_at",
         "resolved_at"],
        {"id": {"type": "integer"}, "rule": {"type": "string"}, "subject": {"type": "string"},
         "state": {"type": "string"}, "summary": {"type": "string"}, "details": {},
         "opened_at": {"type": "number"}, "updated_at": {"type": "number"},
         "resolved_at": _TIME},
    ),
}

_UNAUTHENTICATED = _error("No credentials, or ones not recognised")
_READ_ONLY = _error("A read-only principal, or a browser session without its CSRF token")
_UNAVAILABLE = _error("The store cannot be reached; nothing was changed, retry later")

_BAD_PARAMETER = _error("A parameter is invalid (`parameter` names it)")

_JOB_ID = {
    "name": "job_id", "in": "path", "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}


def _query(name: str, schema: JsonDict, description: str) -> JsonDict:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _read(
    summary: str, ok: JsonDict, *, job: bool = False, errors: JsonDict | None = None
) -> JsonDict:
    """A GET operation: every one may answer 401 and 503, those of one job 400 and 404."""
    responses = {"200": ok, "401": _UNAUTHENTICATED, "503": _UNAVAILABLE, **(errors or {})}
    if job:
        responses["400"] = _error("job_id is not a positive whole number")
        responses["404"] = _error("No such job (it may have been pruned)")
    operation: JsonDict = {"summary": summary, "responses": responses}
    if job:
        operation["parameters"] = [_JOB_ID]
    return operation


def _action(summary: str, verb: str) -> JsonDict:
    return {
        "summary": summary,
        "parameters": [_JOB_ID],
        "responses": {
            "200": _json(_ref("ActionResult"), f"The job was {verb}; the action is recorded"),
            "400": _error("job_id is not a positive whole number"),
            "401": _UNAUTHENTICATED,
            "403": _READ_ONLY,
            "404": _error("No such job"),
            "409": _error("The job's state does not allow it (invalid_transition)"),
            "503": _UNAVAILABLE,
        },
    }


_LIST_PARAMETERS = [
    _query("state", {"type": "string", "pattern": STATE_PATTERN},
           "One or more of " + ", ".join(s.value for s in JobState)
           + " (comma-separated or repeated)"),
    _query("queue", _TEXT, "Only this queue"),
    _query("name", _TEXT, "Only this job name"),
    _query("tenant", _TEXT, "Only this tenant"),
    _query("error_type", _TEXT, "Only jobs whose last error has this type"),
    _query("q", _TEXT,
           "A case-insensitive substring of the arguments (as JSON) or the last error"),
    _query("newer_than", _DURATION,
           "Created less than this long ago: seconds or text like '15m'"),
    _query("older_than", _DURATION,
           "Created more than this long ago: seconds or text like '1d'"),
    _query("before_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID},
           "Keyset paging: only jobs with smaller ids (pass the last page's next_before_id)"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
           f"Jobs per page (default {DEFAULT_PAGE})"),
]

_ENQUEUE = {
    "summary": "Enqueue a job by name",
    "description": (
        "With an Idempotency-Key header, the job gets the unique key `idempotency:<key>`, "
        "held while the job waits or runs and for 24 hours after it succeeds: repeating the "
        "request in that time returns the same job (200, duplicate true) and writes nothing. "
        "Nothing is written on any error."
    ),
    "parameters": [
        {"name": "Idempotency-Key", "in": "header", "required": False,
         "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY,
                    "pattern": IDEMPOTENCY_KEY_PATTERN}},
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {
            "schema": _ref("EnqueueRequest"),
            "example": {"name": "send_email", "args": {"to": "a@example.com"},
                        "delay": "5m"},
        }},
    },
    "responses": {
        "200": _json(_ref("Enqueued"), "A repeat of an Idempotency-Key (or a held unique "
                     "key): the existing job, nothing written"),
        "201": _json(_ref("Enqueued"), "Enqueued"),
        "400": _error("Invalid JSON, not an object, unknown fields, a missing name, or a bad "
                      "Idempotency-Key"),
        "401": _UNAUTHENTICATED,
        "403": _READ_ONLY,
        "404": _error("No job of this name (unknown_job; `known` lists the names)"),
        "413": _error("The body or the encoded arguments are too large"),
        "415": _error("A form body; send application/json"),
        "422": _error("Arguments that do not fit the job (invalid_args) or bad options "
                      "(invalid_options)"),
        "429": _error("The queue is at its max_queued (queue_full); retry later"),
        "503": _UNAVAILABLE,
    },
}

_EVENTS = _read(
    "Stream a job's state and progress (Server-Sent Events)",
    {
        "description": (
            "`event: job` with a JobStatus JSON whenever the state or progress changes; the "
            "stream ends after the event showing the job final, with `event: gone` when "
            "the job disappears, or with `event: expired` after the stream's maximum age "
            "(an hour by default). A `: keep-alive` comment comes every 15 seconds."
        ),
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    job=True,
    errors={"429": _error("This principal already holds as many event streams open as it "
                          "may (too_many_streams); close one and retry")},
)


def openapi_document(root_path: str = "") -> JsonDict:
    """The OpenAPI 3.1 document, its server set to the dashboard's mount point."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Conveyor API",
            "version": "1",
            "description": (
                "Enqueue, read, list, cancel and retry Conveyor jobs. Every route needs "
                "Authorization: Bearer <token>; writes need an admin token. Errors are "
                '{"error": code, "message": ...}. Times are Unix epoch seconds.'
            ),
        },
        "servers": [{"url": root_path or "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/health": {"get": _read("Check the store answers", _json(_ref("Health"), "OK"))},
            "/api/openapi.json": {"get": _read(
                "This document", _json({"type": "object"}, "The OpenAPI document"))},
            "/api/jobs": {
                "get": {
                    **_read("List jobs, newest first, by keyset pages",
                            _json(_ref("JobList"), "A page of jobs (without payloads)"),
                            errors={"400": _BAD_PARAMETER}),
                    "parameters": _LIST_PARAMETERS,
                },
                "post": _ENQUEUE,
            },
            "/api/jobs/{job_id}": {"get": _read(
                "Read a job: state, progress, arguments, result, error",
                _json(_ref("Job"), "The job"), job=True)},
            "/api/jobs/{job_id}/attempts": {"get": _read(
                "A job's attempts with tracebacks, oldest first",
                _json(_ref("Attempts"), "The attempts"), job=True)},
            "/api/jobs/{job_id}/events": {"get": _EVENTS},
            "/api/jobs/{job_id}/cancel": {"post": _action("Cancel a job not yet final",
                                                          "cancelled")},
            "/api/jobs/{job_id}/retry": {"post": _action(
                "Run a dead or cancelled job again, or a waiting one now (not running or "
                "succeeded ones)", "retried")},
            "/api/queues": {"get": _read("Queue statistics", _json(
                _obj(["queues"], {"queues": {"type": "array", "items": _ref("Queue")}}),
                "Every queue"))},
            "/api/workers": {"get": _read("Live workers", _json(
                _obj(["workers"], {"workers": {"type": "array", "items": _ref("Worker")}}),
                "Workers seen in the last minute"))},
            "/api/schedules": {"get": _read("Schedules", _json(
                _obj(["schedules"], {"schedules": {"type": "array",
                                                   "items": _ref("Schedule")}}),
                "Every schedule"))},
            "/api/checkins/{name}": {"post": {
                "summary": "Record a check-in ping (for work outside Conveyor; see alerts)",
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": QUEUE_PATTERN,
                                           "maxLength": MAX_JOB_NAME_LENGTH}}],
                "responses": {
                    "200": _json(_obj(["name", "at"], {"name": {"type": "string"},
                                                       "at": {"type": "number"}}),
                                 "The ping is recorded at the store's time"),
                    "400": _BAD_PARAMETER,
                    "401": _UNAUTHENTICATED,
                    "403": _READ_ONLY,
                    "404": _error("No check-in of that name: create it first (app.checkin or "
                                  "conveyor checkin NAME --every/--cron)"),
                    "503": _UNAVAILABLE,
                },
            }},
            "/api/alerts": {"get": _read("Alerts firing now", _json(
                _obj(["alerts"], {"alerts": {"type": "array", "items": _ref("Alert")}}),
                "Firing incidents, oldest first"))},
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A dashboard token (admin or read)"},
            },
        },
    }
