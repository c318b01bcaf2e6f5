"""The pieces the OpenAPI document is built from: the limits the API enforces, schema and
response builders, and the responses every operation shares.

:mod:`conveyor.web.openapi` (jobs, queues, schedules...) and :mod:`conveyor.web.openapi_runs`
(pipeline runs) both build on these, so the API's limits are stated once.
"""

from __future__ import annotations

from typing import Any

from conveyor.models import JobState

JsonDict = dict[str, Any]
"""A piece of the document."""

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


# -- builders ------------------------------------------------------------------------------------

def nullable(kind: str, **extra: Any) -> JsonDict:
    """A schema of type ``kind`` or null."""
    return {"type": [kind, "null"], **extra}


def obj(required: list[str], properties: JsonDict, **extra: Any) -> JsonDict:
    """An object schema with these properties (``required`` listed)."""
    return {"type": "object", "required": required, "properties": properties, **extra}


def ref(name: str) -> JsonDict:
    """A reference to schema ``name`` of the components."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: JsonDict, description: str) -> JsonDict:
    """A JSON response (or body) of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error(description: str) -> JsonDict:
    """An error response (the ``Error`` schema)."""
    return json_body(ref("Error"), description)


STATE = {"type": "string", "enum": [s.value for s in JobState]}
TEXT = {"type": "string", "maxLength": MAX_TEXT, "pattern": NO_CONTROL_PATTERN}
DURATION = {"type": "string", "pattern": DURATION_PATTERN}
TIME = nullable("number", description="Unix epoch seconds (UTC)")

UNAUTHENTICATED = error("No credentials, or ones not recognised")
READ_ONLY = error("A read-only principal, or a browser session without its CSRF token")
UNAVAILABLE = error("The store cannot be reached; nothing was changed, retry later")
BAD_PARAMETER = error("A parameter is invalid (`parameter` names it)")


def query(name: str, schema: JsonDict, description: str) -> JsonDict:
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}

