"""The OpenAPI 3.1 document of the JSON API, written by hand as data.

It describes exactly what :mod:`conveyor.web.api` does: keep the two in step (the fuzz test
in tests/web/test_api_fuzz.py checks every response against this document).
"""

from __future__ import annotations

from conveyor._jobs import MAX_NOTIFY_URL_LENGTH, MAX_PRIORITY, MAX_TENANT_LENGTH
from conveyor._names import MAX_JOB_NAME_LENGTH, MAX_KEY_LENGTH, MAX_QUEUE_LENGTH
from conveyor.models import JobState
from conveyor.web.openapi_parts import (
    BAD_PARAMETER,
    DEFAULT_PAGE,
    DURATION,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_DELAY_SECONDS,
    MAX_ID,
    MAX_IDEMPOTENCY_KEY,
    MAX_PAGE,
    QUEUE_PATTERN,
    READ_ONLY,
    STATE,
    STATE_PATTERN,
    TEXT,
    TIME,
    UNAUTHENTICATED,
    UNAVAILABLE,
    JsonDict,
    error,
    json_body,
    nullable,
    obj,
    query,
    ref,
)
from conveyor.web.openapi_runs import RUN_PATHS, RUN_SCHEMAS

_JOB_SUMMARY = {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "queue": {"type": "string"},
    "state": STATE,
    "priority": {"type": "integer"},
    "attempts": {"type": "integer", "description": "Attempts made so far"},
    "max_attempts": {"type": "integer"},
    "tenant": nullable("string"),
    "created_at": {"type": "number"},
    "run_at": {"type": "number"},
    "started_at": TIME,
    "finished_at": TIME,
    "progress": nullable("number", description="0 to 1, as reported by ctx.progress"),
    "progress_message": nullable("string"),
    "error_type": nullable("string"),
    "error_message": nullable("string"),
}

_ERROR_INFO = {
    "oneOf": [
        {"type": "null"},
        obj(["type", "message"],
             {"type": nullable("string"), "message": nullable("string")}),
    ]
}

_JOB_DETAIL = {
    **_JOB_SUMMARY,
    "args": nullable("object", description="null when the stored payload cannot be decoded"),
    "result": {"description": "What the handler returned (any JSON value)"},
    "error": _ERROR_INFO,
    "worker_id": nullable("string"),
    "lease_until": TIME,
    "timeout": nullable("number"),
    "expires_at": {**TIME, "description": "The start deadline: not started by then, the job "
                   "ends cancelled (error type Expired)"},
    "unique_key": nullable("string"),
    "sequence": nullable("string", description="The job's sequence key (sequence=): jobs of "
                         "one key run one at a time, in enqueue order"),
    "meta": {"type": "object"},
    "progress_at": {**TIME, "description": "When ctx.progress last changed the progress"},
    "stall_after": nullable("number", description="The job type's stall_after=, in seconds"),
    "stalled_for": nullable("number", description=(
        "Seconds a running job's progress has stood still, once that is stall_after or "
        "longer; null when it is not stalled")),
}

SCHEMAS: JsonDict = {
    "Error": obj(
        ["error", "message"],
        {
            "error": {"type": "string", "description": "A stable code, e.g. unknown_job"},
            "message": {"type": "string", "description": "What was wrong and what to do"},
            "known": {"type": "array", "items": {"type": "string"},
                      "description": "unknown_job, unknown_pipeline: the declared names"},
            "parameter": {"type": "string", "description": "invalid_parameter: which one"},
            "state": {"type": "string", "description": (
                "invalid_transition, resume_refused: the job's or run's state")},
            "queue": {"type": "string", "description": "queue_full: the full queue"},
            "runs": {"type": "array", "items": {"type": "integer"}, "description": (
                "stage_job: the runs to resume instead (POST /api/runs/{run_id}/resume)")},
        },
    ),
    "Health": obj(
        ["status", "now", "principal", "role"],
        {"status": {"const": "ok"}, "now": {"type": "number"}, "principal": {"type": "string"},
         "role": {"type": "string", "enum": ["admin", "read"]}},
    ),
    "EnqueueRequest": obj(
        ["name"],
        {
            "name": {"type": "string", "minLength": 1, "description": "The job's name"},
            "args": {"type": "object", "description": "The handler's keyword arguments"},
            "queue": nullable("string", minLength=1, maxLength=MAX_QUEUE_LENGTH,
                               pattern=QUEUE_PATTERN),
            "priority": nullable("integer", minimum=-MAX_PRIORITY, maximum=MAX_PRIORITY,
                                  description="Higher runs first"),
            "delay": {
                "oneOf": [
                    {"type": "number", "minimum": 0, "maximum": MAX_DELAY_SECONDS},
                    DURATION,
                    {"type": "null"},
                ],
                "description": "Seconds, or text like '5m' or '1h30m'; at most ten years",
            },
            "tenant": nullable("string", maxLength=MAX_TENANT_LENGTH, pattern=r"\S"),
            "unique_key": nullable("string", minLength=1, maxLength=MAX_KEY_LENGTH),
            "notify_url": nullable("string", maxLength=MAX_NOTIFY_URL_LENGTH, description=(
                "An http(s) URL that receives a signed JSON POST when the job finishes")),
        },
        additionalProperties=False,
    ),
    "Enqueued": obj(
        ["id", "name", "state", "duplicate"],
        {"id": {"type": "integer"}, "name": {"type": "string"}, "state": STATE,
         "duplicate": {"type": "boolean", "description":
                       "True when the key was held: nothing was written, id is the holder's"}},
    ),
    "JobSummary": obj(list(_JOB_SUMMARY), _JOB_SUMMARY),
    "Job": obj(list(_JOB_DETAIL), _JOB_DETAIL),
    "JobList": obj(
        ["jobs", "next_before_id"],
        {"jobs": {"type": "array", "items": ref("JobSummary")},
         "next_before_id": nullable("integer", description=(
             "Pass as before_id for the next (older) page; null on the last page"))},
    ),
    "Attempt": obj(
        ["attempt", "worker_id", "started_at", "finished_at", "duration", "outcome",
         "error_type", "error_message", "traceback"],
        {"attempt": {"type": "integer"}, "worker_id": nullable("string"),
         "started_at": TIME, "finished_at": TIME, "duration": nullable("number"),
         "outcome": {"type": "string", "enum": ["succeeded", "failed", "dead", "cancelled",
                                                "released", "lost", "snoozed"]},
         "error_type": nullable("string"), "error_message": nullable("string"),
         "traceback": nullable("string")},
    ),
    "OutputChunk": obj(
        ["seq", "attempt", "at", "chunk"],
        {"seq": {"type": "integer"}, "attempt": {"type": "integer"}, "at": TIME,
         "chunk": {"description": "Text (a string) or any JSON value the job emitted"}},
    ),
    "Output": obj(
        ["job_id", "chunks", "next_after"],
        {"job_id": {"type": "integer"},
         "chunks": {"type": "array", "items": ref("OutputChunk")},
         "next_after": {"type": ["integer", "null"],
                        "description": "Pass as `after` for the next page; null: no more"}},
    ),
    "Attempts": obj(
        ["job_id", "attempts"],
        {"job_id": {"type": "integer"}, "attempts": {"type": "array", "items": ref("Attempt")}},
    ),
    "ActionResult": obj(
        ["id", "action", "changed", "state"],
        {"id": {"type": "integer"}, "action": {"type": "string", "enum": ["cancel", "retry"]},
         "changed": {"const": True}, "state": {"oneOf": [STATE, {"type": "null"}]}},
    ),
    "JobStatus": obj(
        ["id", "name", "state", "attempts", "progress", "progress_message", "result", "error",
         "finished_at"],
        {"id": {"type": "integer"}, "name": {"type": "string"}, "state": STATE,
         "attempts": {"type": "integer"}, "progress": nullable("number"),
         "progress_message": nullable("string"), "result": {}, "error": _ERROR_INFO,
         "finished_at": TIME},
        description="The data of each `event: job` of GET /api/jobs/{job_id}/events",
    ),
    "Usage": obj(["by", "since", "until", "groups"], {
        "by": {"type": "string"}, "since": {"type": "number"}, "until": {"type": "number"},
        "groups": {"type": "array", "items": obj(
            ["key", "attempts", "jobs", "wall", "cpu", "memory_mb", "units"],
            {"key": {"type": ["string", "null"]}, "attempts": {"type": "integer"},
             "jobs": {"type": "integer"}, "wall": {"type": "number"},
             "cpu": {"type": "number"}, "memory_mb": {"type": "number"},
             "units": {"type": "object", "additionalProperties": {"type": "number"}}})},
    }),
    "Queue": obj(
        ["queue", "queued", "scheduled", "running", "retrying", "dead", "oldest_queued_age",
         "succeeded_last_hour", "failed_last_hour", "failure_rate", "waiting_names", "paused",
         "approximate", "at_least"],
        {"queue": {"type": "string"}, "queued": {"type": "integer"},
         "scheduled": {"type": "integer"}, "running": {"type": "integer"},
         "retrying": {"type": "integer"}, "dead": {"type": "integer"},
         "oldest_queued_age": nullable("number", description="Seconds"),
         "succeeded_last_hour": {"type": "integer"}, "failed_last_hour": {"type": "integer"},
         "failure_rate": nullable("number"),
         "waiting_names": {"type": "array", "items": {"type": "string"}},
         "paused": {"type": "boolean"},
         "approximate": {"type": "boolean",
                         "description": "True when some count stopped at the cap (10,000)"},
         "at_least": {"type": "array", "items": {"type": "string"},
                      "description": "The counts that reached the cap: the true number is "
                                     "that or more"}},
    ),
    "Worker": obj(
        ["id", "hostname", "pid", "queues", "names", "started_at", "last_seen", "running"],
        {"id": {"type": "string"}, "hostname": {"type": "string"}, "pid": {"type": "integer"},
         "queues": {"type": "array", "items": {"type": "string"}},
         "names": {"type": "array", "items": {"type": "string"}},
         "started_at": {"type": "number"}, "last_seen": {"type": "number"},
         "running": {"type": "array", "items": {"type": "integer"},
                     "description": "Ids of the jobs it runs now"}},
    ),
    "Schedule": obj(
        ["name", "job_name", "timing", "tz", "args", "queue", "grace", "catch_up", "overlap",
         "source", "paused", "paused_by", "next_slot", "last"],
        {"name": {"type": "string"}, "job_name": {"type": "string"},
         "timing": {"type": "string", "description": "cron:<expr> or every:<seconds>"},
         "tz": {"type": "string"}, "args": {}, "queue": nullable("string"),
         "grace": {"type": "number"}, "catch_up": {"type": "string"},
         "overlap": {"type": "string"}, "source": {"type": "string", "enum": ["code", "store"]},
         "paused": {"type": "boolean"}, "paused_by": nullable("string"),
         "next_slot": TIME,
         "last": {"oneOf": [{"type": "null"}, ref("Slot")]}},
    ),
    "Slot": obj(
        ["slot", "status", "fired_at", "manual", "by", "job_id", "job_state", "verdict",
         "verdict_detail"],
        {"slot": {"type": "number"}, "status": {"type": "string"},
         "fired_at": {"type": "number"}, "manual": {"type": "boolean"},
         "by": nullable("string"), "job_id": nullable("integer"),
         "job_state": {"oneOf": [STATE, {"type": "null"}]},
         "verdict": nullable("string"), "verdict_detail": nullable("string")},
    ),
    "Alert": obj(
        ["id", "rule", "subject", "state", "summary", "details", "opened_at", "updated_at",
         "resolved_at"],
        {"id": {"type": "integer"}, "rule": {"type": "string"}, "subject": {"type": "string"},
         "state": {"type": "string"}, "summary": {"type": "string"}, "details": {},
         "opened_at": {"type": "number"}, "updated_at": {"type": "number"},
         "resolved_at": TIME},
    ),
}

_JOB_ID = {
    "name": "job_id", "in": "path", "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}


def _read(
    summary: str, ok: JsonDict, *, job: bool = False, errors: JsonDict | None = None
) -> JsonDict:
    """A GET operation: every one may answer 401 and 503, those of one job 400 and 404."""
    responses = {"200": ok, "401": UNAUTHENTICATED, "503": UNAVAILABLE, **(errors or {})}
    if job:
        responses["400"] = error("job_id is not a positive whole number")
        responses["404"] = error("No such job (it may have been pruned)")
    operation: JsonDict = {"summary": summary, "responses": responses}
    if job:
        operation["parameters"] = [_JOB_ID]
    return operation


def _action(summary: str, verb: str) -> JsonDict:
    return {
        "summary": summary,
        "parameters": [_JOB_ID],
        "responses": {
            "200": json_body(ref("ActionResult"), f"The job was {verb}; the action is recorded"),
            "400": error("job_id is not a positive whole number"),
            "401": UNAUTHENTICATED,
            "403": READ_ONLY,
            "404": error("No such job"),
            "409": error(
                "The job's state does not allow it (invalid_transition); or the job is a "
                "finished stage job of a pipeline run, which runs again only by resuming its "
                "run (stage_job, with runs)" if verb == "retried" else
                "The job's state does not allow it (invalid_transition)"
            ),
            "503": UNAVAILABLE,
        },
    }


_LIST_PARAMETERS = [
    query("state", {"type": "string", "pattern": STATE_PATTERN},
           "One or more of " + ", ".join(s.value for s in JobState)
           + " (comma-separated or repeated)"),
    query("queue", TEXT, "Only this queue"),
    query("name", TEXT, "Only this job name"),
    query("tenant", TEXT, "Only this tenant"),
    query("error_type", TEXT, "Only jobs whose last error has this type"),
    query("q", TEXT,
           "A case-insensitive substring of the arguments (as JSON) or the last error"),
    query("newer_than", DURATION,
           "Created less than this long ago: seconds or text like '15m'"),
    query("older_than", DURATION,
           "Created more than this long ago: seconds or text like '1d'"),
    query("before_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID},
           "Keyset paging: only jobs with smaller ids (pass the last page's next_before_id)"),
    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
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
            "schema": ref("EnqueueRequest"),
            "example": {"name": "send_email", "args": {"to": "a@example.com"},
                        "delay": "5m"},
        }},
    },
    "responses": {
        "200": json_body(ref("Enqueued"), "A repeat of an Idempotency-Key (or a held unique "
                     "key): the existing job, nothing written"),
        "201": json_body(ref("Enqueued"), "Enqueued"),
        "400": error("Invalid JSON, not an object, unknown fields, a missing name, or a bad "
                      "Idempotency-Key"),
        "401": UNAUTHENTICATED,
        "403": READ_ONLY,
        "404": error("No job of this name (unknown_job; `known` lists the names)"),
        "413": error("The body or the encoded arguments are too large"),
        "415": error("A form body; send application/json"),
        "422": error("Arguments that do not fit the job (invalid_args) or bad options "
                      "(invalid_options)"),
        "429": error("The queue is at its max_queued (queue_full); retry later"),
        "503": UNAVAILABLE,
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
    errors={"429": error("This principal already holds as many event streams open as it "
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
            "/api/health": {"get": _read("Check the store answers",
                                         json_body(ref("Health"), "OK"))},
            "/api/openapi.json": {"get": _read(
                "This document", json_body({"type": "object"}, "The OpenAPI document"))},
            "/api/jobs": {
                "get": {
                    **_read("List jobs, newest first, by keyset pages",
                            json_body(ref("JobList"), "A page of jobs (without payloads)"),
                            errors={"400": BAD_PARAMETER}),
                    "parameters": _LIST_PARAMETERS,
                },
                "post": _ENQUEUE,
            },
            "/api/jobs/{job_id}": {"get": _read(
                "Read a job: state, progress, arguments, result, error",
                json_body(ref("Job"), "The job"), job=True)},
            "/api/jobs/{job_id}/attempts": {"get": _read(
                "A job's attempts with tracebacks, oldest first",
                json_body(ref("Attempts"), "The attempts"), job=True)},
            "/api/jobs/{job_id}/output": {"get": {
                **_read("What the job emitted with ctx.emit, in order, a page at a time",
                        json_body(ref("Output"), "A page of chunks"), job=True),
                "parameters": [_JOB_ID, query("after", {"type": "integer", "minimum": 0},
                                              "Only chunks after this seq (default 0)")],
            }},
            "/api/jobs/{job_id}/events": {"get": _EVENTS},
            "/api/jobs/{job_id}/cancel": {"post": _action("Cancel a job not yet final",
                                                          "cancelled")},
            "/api/jobs/{job_id}/retry": {"post": _action(
                "Run a dead or cancelled job again, or a waiting one now (not running or "
                "succeeded ones)", "retried")},
            "/api/queues": {"get": _read("Queue statistics", json_body(
                obj(["queues"], {"queues": {"type": "array", "items": ref("Queue")}}),
                "Every queue"))},
            "/api/workers": {"get": _read("Live workers", json_body(
                obj(["workers"], {"workers": {"type": "array", "items": ref("Worker")}}),
                "Workers seen in the last minute"))},
            "/api/schedules": {"get": _read("Schedules", json_body(
                obj(["schedules"], {"schedules": {"type": "array",
                                                   "items": ref("Schedule")}}),
                "Every schedule"))},
            "/api/checkins/{name}": {"post": {
                "summary": "Record a check-in ping (for work outside Conveyor; see alerts)",
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": QUEUE_PATTERN,
                                           "maxLength": MAX_JOB_NAME_LENGTH}}],
                "responses": {
                    "200": json_body(obj(["name", "at"], {"name": {"type": "string"},
                                                       "at": {"type": "number"}}),
                                 "The ping is recorded at the store's time"),
                    "400": BAD_PARAMETER,
                    "401": UNAUTHENTICATED,
                    "403": READ_ONLY,
                    "404": error("No check-in of that name: create it first (app.checkin or "
                                  "conveyor checkin NAME --every/--cron)"),
                    "503": UNAVAILABLE,
                },
            }},
            "/api/alerts": {"get": _read("Alerts firing now", json_body(
                obj(["alerts"], {"alerts": {"type": "array", "items": ref("Alert")}}),
                "Firing incidents, oldest first"))},
            "/api/usage": {"get": {
                **_read("What the jobs cost: attempts, time, memory and ctx.usage units",
                        json_body(ref("Usage"), "One entry per group, ordered by key"),
                        errors={"400": BAD_PARAMETER}),
                "parameters": [
                    query("by", {"type": "string", "enum": ["name", "queue", "tenant"]},
                          "Group by job name (default), queue or tenant"),
                    query("since", DURATION,
                          "The window: attempts that ended this long ago or later (default 1d)"),
                ],
            }},
            **RUN_PATHS,
        },
        "components": {
            "schemas": {**SCHEMAS, **RUN_SCHEMAS},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A dashboard token (admin or read)"},
            },
        },
    }
