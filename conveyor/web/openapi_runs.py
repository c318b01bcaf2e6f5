"""The pipeline-run part of the OpenAPI document (:mod:`conveyor.web.api_runs`).

:mod:`conveyor.web.openapi` adds :data:`RUN_SCHEMAS` and :data:`RUN_PATHS` to the document;
the fuzz test checks every answer of these routes against them like the others.
"""

from __future__ import annotations

from conveyor.models import RunState, StageState
from conveyor.web.openapi_parts import (
    BAD_PARAMETER,
    DEFAULT_PAGE,
    MAX_ID,
    MAX_PAGE,
    READ_ONLY,
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
from conveyor.web.runs_view import MAX_OUTPUT_PAGE, OUTPUT_PAGE, OUTPUT_SHOWN, RUN_OUTPUTS

RUN_STATE = {"type": "string", "enum": [s.value for s in RunState]}
RUN_STATE_PATTERN = (
    r"^ *(" + "|".join(s.value for s in RunState) + r")? *(, *("
    + "|".join(s.value for s in RunState) + r")? *)*$"
)
_ANY = {"description": "Any JSON value"}

_SUMMARY = {
    "id": {"type": "integer"},
    "pipeline": {"type": "string"},
    "state": RUN_STATE,
    "created_at": {"type": "number"},
    "finished_at": TIME,
    "error": nullable("string", description="Which stage (and item) failed, and why"),
    "tenant": nullable("string"),
    "resumes": {"type": "integer"},
    "stages_total": {"type": "integer"},
    "stages_done": {"type": "integer", "description": "Stages that succeeded"},
}

_STAGE = {
    "name": {"type": "string"},
    "state": {"type": "string", "enum": [s.value for s in StageState]},
    "parents": {"type": "array", "items": {"type": "string"}},
    "fan_out": {"type": "boolean", "description": "One job per item (each=)"},
    "on_item_failure": {"type": "string", "enum": ["fail", "skip", "collect"]},
    "pending_parents": {"type": "integer"},
    "items_total": {"type": "integer"},
    "items_left": {"type": "integer"},
    "items_failed": {"type": "integer"},
    "job_name": {"type": "string"},
    "queue": {"type": "string"},
    "attempts": nullable("integer", description="A plain stage's current job's attempts"),
    "max_attempts": {"type": "integer"},
    "job_id": nullable("integer", description="Its current job (a fan-out's expander)"),
    "job_ids": {"type": "array", "items": {"type": "integer"}, "maxItems": 100,
                "description": "Its jobs in item order, expander first; at most 100"},
    "started_at": TIME,
    "finished_at": TIME,
    "duration": nullable("number", description="Seconds from active to finished"),
    "output": {"description": (
        f"Its output once it succeeded (a fan-out: the items' list); null when over "
        f"{OUTPUT_SHOWN} bytes or, for a fan-out, over {RUN_OUTPUTS} items (output_truncated) "
        "unless ?include=output: page it with output_url")},
    "output_bytes": nullable("integer", description=(
        f"Size of its output's JSON, once stored; null for a fan-out of over {RUN_OUTPUTS} "
        "items, whose outputs are not read with the run")),
    "output_items": nullable("integer", description=(
        "Values in its output: a fan-out's item outputs (failed items left out), 1 for a "
        "plain stage; null until it succeeded")),
    "output_truncated": {"type": "boolean", "description": (
        "The output was left out: too large, or too many items")},
    "output_url": nullable("string", description=(
        "When output_truncated: GET /api/runs/{run_id}/stages/{stage}/output, which pages it")),
    "error": nullable("string"),
    "override": {"description": "A resume's replacement input, or null"},
}

_RUN = {
    **{k: v for k, v in _SUMMARY.items() if k not in ("stages_total", "stages_done")},
    "input": _ANY,
    "result": {"description": (
        f"The last stage's output once the run succeeded, else null; null too when over "
        f"{OUTPUT_SHOWN} bytes (result_truncated) unless ?include=output")},
    "result_bytes": nullable("integer", description="Size of the result's JSON, once stored"),
    "result_truncated": {"type": "boolean", "description": "The result was left out: too large"},
    "deadline_at": TIME,
    "stall_after": nullable("number", description="Seconds"),
    "last_progress_at": {"type": "number"},
    "stages": {"type": "array", "items": ref("Stage")},
}

RUN_SCHEMAS: JsonDict = {
    "RunSummary": obj(list(_SUMMARY), _SUMMARY),
    "RunList": obj(
        ["runs", "next_before_id"],
        {"runs": {"type": "array", "items": ref("RunSummary")},
         "next_before_id": nullable("integer", description=(
             "Pass as before_id for the next (older) page; null on the last page"))},
    ),
    "Stage": obj(list(_STAGE), _STAGE),
    "Run": obj(list(_RUN), _RUN),
    "StartRun": obj(
        ["pipeline"],
        {"pipeline": {"type": "string", "minLength": 1,
                      "description": "A pipeline the dashboard's app declares"},
         "input": {"type": "object", "description": "The first stage's keyword arguments"},
         "tenant": nullable("string")},
        additionalProperties=False,
    ),
    "RunStarted": obj(
        ["id", "pipeline", "state"],
        {"id": {"type": "integer"}, "pipeline": {"type": "string"}, "state": {"const": "running"}},
    ),
    "ResumeRun": obj(
        [],
        {"from": {"type": "string", "description": "Re-run from this stage (and all after it)"},
         "input": {"description": "Replaces the `from` stage's input (needs `from`)"},
         "dry_run": {"type": "boolean", "description": "Only say what would re-run"}},
        additionalProperties=False,
    ),
    "ResumePlan": obj(
        ["run_id", "pipeline", "rerun", "reuse", "from", "input", "applied"],
        {"run_id": {"type": "integer"}, "pipeline": {"type": "string"},
         "rerun": {"type": "array", "items": {"type": "string"}},
         "reuse": {"type": "array", "items": {"type": "string"}},
         "from": nullable("string"), "input": {"description": "The replacement input, or null"},
         "applied": {"type": "boolean", "description": "False for a dry run: nothing written"}},
    ),
    "StageOutput": obj(
        ["run_id", "stage", "state", "fan_out", "total", "offset", "limit", "outputs",
         "next_offset"],
        {"run_id": {"type": "integer"}, "stage": {"type": "string"},
         "state": {"type": "string", "enum": [s.value for s in StageState]},
         "fan_out": {"type": "boolean"},
         "total": {"type": "integer", "description": "Output values in all (0 until it succeeded)"},
         "offset": {"type": "integer"}, "limit": {"type": "integer"},
         "outputs": {"type": "array", "items": _ANY, "description": (
             "The values from offset on: a fan-out's item outputs in item order (failed items "
             "left out), or a plain stage's one output")},
         "next_offset": nullable("integer", description="Pass as offset for the next page")},
    ),
    "RunActionResult": obj(
        ["id", "action", "changed", "state"],
        {"id": {"type": "integer"}, "action": {"const": "cancel"}, "changed": {"const": True},
         "state": {"oneOf": [RUN_STATE, {"type": "null"}]}},
    ),
}

_RUN_ID = {
    "name": "run_id", "in": "path", "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
_BAD_RUN_ID = error("run_id is not a positive whole number")
_NO_RUN = error("No such run (it may have been pruned)")

RUN_PATHS: JsonDict = {
    "/api/runs": {
        "get": {
            "summary": "List pipeline runs, newest first, by keyset pages",
            "parameters": [
                query("pipeline", TEXT,
                      "Only runs of this pipeline"),
                query("state", {"type": "string", "pattern": RUN_STATE_PATTERN},
                      "One or more of " + ", ".join(s.value for s in RunState)
                      + " (comma-separated or repeated)"),
                query("before_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                      "Keyset paging: only runs with smaller ids"),
                query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                      f"Runs per page (default {DEFAULT_PAGE})"),
            ],
            "responses": {
                "200": json_body(ref("RunList"), "A page of runs"),
                "400": BAD_PARAMETER,
                "401": UNAUTHENTICATED,
                "503": UNAVAILABLE,
            },
        },
        "post": {
            "summary": "Start a run of a pipeline by name",
            "description": "The input is checked against the first stage's parameters; "
                           "nothing is written on any error. Recorded in the audit log.",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": ref("StartRun"),
                "example": {"pipeline": "ingest", "input": {"doc_id": 7}},
            }}},
            "responses": {
                "201": json_body(ref("RunStarted"), "Started"),
                "400": error("Invalid JSON, not an object, unknown fields or no pipeline"),
                "401": UNAUTHENTICATED,
                "403": READ_ONLY,
                "404": error("The app declares no such pipeline (unknown_pipeline; `known` "
                             "lists them)"),
                "413": error("The body or the encoded input is too large"),
                "415": error("A form body; send application/json"),
                "422": error("An input that does not fit the first stage (invalid_input) or "
                             "a bad tenant (invalid_options)"),
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/runs/{run_id}": {"get": {
        "summary": "Read a run: every stage's state, items, attempts, timing, output, error",
        "description": f"Outputs and the result over {OUTPUT_SHOWN} bytes are left out "
                       "(with their size and item count) unless include=output, and so is the "
                       f"output of a fan-out stage of more than {RUN_OUTPUTS} items (not read "
                       "at all: its item count stays, its size is null); page a left-out "
                       "output with its output_url, GET /api/runs/{run_id}/stages/{stage}/output.",
        "parameters": [
            _RUN_ID,
            query("include", {"type": "string", "enum": ["output"]},
                  "output: every output and the result in full, however large"),
        ],
        "responses": {
            "200": json_body(ref("Run"), "The run"),
            "400": error("run_id is not a positive whole number, or a bad parameter"),
            "401": UNAUTHENTICATED,
            "404": _NO_RUN,
            "503": UNAVAILABLE,
        },
    }},
    "/api/runs/{run_id}/stages/{stage}/output": {"get": {
        "summary": "Page through a stage's output values (a fan-out's item outputs)",
        "parameters": [
            _RUN_ID,
            {"name": "stage", "in": "path", "required": True, "schema": {"type": "string"}},
            query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                  "The first value to return (default 0)"),
            query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_OUTPUT_PAGE},
                  f"Values per page (default {OUTPUT_PAGE})"),
        ],
        "responses": {
            "200": json_body(ref("StageOutput"), "A page of the stage's output"),
            "400": error("run_id, offset or limit is not a whole number in range, or an "
                         "unknown parameter"),
            "401": UNAUTHENTICATED,
            "404": error("No such run (run_not_found) or stage (stage_not_found)"),
            "503": UNAVAILABLE,
        },
    }},
    "/api/runs/{run_id}/cancel": {"post": {
        "summary": "Cancel a running run: queued stage jobs cancelled, running ones stopped",
        "parameters": [_RUN_ID],
        "responses": {
            "200": json_body(ref("RunActionResult"), "Cancelled; recorded in the audit log"),
            "400": _BAD_RUN_ID,
            "401": UNAUTHENTICATED,
            "403": READ_ONLY,
            "404": _NO_RUN,
            "409": error("The run is not running (invalid_transition)"),
            "503": UNAVAILABLE,
        },
    }},
    "/api/runs/{run_id}/resume": {"post": {
        "summary": "Resume a finished run: re-run its failed stages (or from a stage)",
        "description": "Re-runs the failed or cancelled stages and their descendants, "
                       "reusing every stored output upstream; `from` picks the stage, `input` "
                       "replaces its input (validated), `dry_run` only returns the plan. An "
                       "empty body resumes what failed. Recorded in the audit log.",
        "parameters": [_RUN_ID],
        "requestBody": {"required": False, "content": {"application/json": {
            "schema": ref("ResumeRun"), "example": {"from": "embed", "dry_run": True},
        }}},
        "responses": {
            "200": json_body(ref("ResumePlan"), "The plan, applied unless dry_run"),
            "400": error("run_id, invalid JSON, not an object or unknown fields"),
            "401": UNAUTHENTICATED,
            "403": READ_ONLY,
            "404": _NO_RUN,
            "409": error("Refused (resume_refused: still running, nothing failed, or a stored "
                         "output no longer fits the code, naming the stage to resume from), or "
                         "the app does not declare the run's pipeline (pipeline_not_declared)"),
            "413": error("The body or the replacement input is too large"),
            "415": error("A form body; send application/json"),
            "422": error("A replacement input that does not fit the stage (invalid_input), or "
                         "a bad `from`/`dry_run` (invalid_resume)"),
            "503": UNAVAILABLE,
        },
    }},
}
