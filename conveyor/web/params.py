"""One set of query and path parameter validators, shared by the JSON API and the pages.

Every validator raises :class:`BadParameter`, a 400 that names the parameter and says what
it takes: the API answers it as ``{"error": "invalid_parameter", "parameter": ..., ...}``,
a page with the error page. So no value a client can put in a URL reaches the store unchecked
(no 500 from ``?before_id=²``, a twenty-digit id, a NUL in a search or ``newer_than=1e308``).

- whole numbers are ASCII digits within the store's integer range (both SQLite's INTEGER and
  PostgreSQL's bigint stop at 2**63 - 1; ``str.isdigit`` alone would take ``²``);
- text is at most :data:`MAX_TEXT` characters with no control character (C0, DEL, C1);
- durations are seconds or ``30s``/``15m``/``1h30m``/``2d``; beyond a century they mean a
  century (every job is younger), so a big number is never an error the caller must avoid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from conveyor._durations import to_seconds
from conveyor._names import control_character
from conveyor.errors import ConfigurationError
from conveyor.store.contract.usage import USAGE_BY
from conveyor.web.openapi_parts import DURATION_PATTERN, MAX_ID, MAX_TEXT
from conveyor.web.web_context import ApiError

MAX_AGE_SECONDS = 100 * 366 * 86400.0
"""``newer_than``/``older_than`` beyond this mean this: every job is younger."""
_DURATION = re.compile(DURATION_PATTERN)
_DIGITS = re.compile(r"[0-9]{1,19}")


class BadParameter(ApiError):
    """A query or path parameter that cannot be used: a 400 naming it (``parameter``)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(400, "invalid_parameter", message, parameter=parameter)
        self.parameter = parameter


def whole(raw: str, name: str, low: int = 1, high: int = MAX_ID) -> int:
    """``raw`` as a whole number from ``low`` to ``high`` (ASCII digits only), or a 400."""
    if _DIGITS.fullmatch(raw) is None or not low <= int(raw) <= high:
        raise BadParameter(name, f"{name} must be a whole number from {low} to {high}, "
                           f"got {raw[:40]!r}")
    return int(raw)


def text(raw: str, name: str, limit: int = MAX_TEXT) -> str | None:
    """``raw`` trimmed, or None when blank; a 400 when it is too long or holds a control
    character (checked before trimming, so a trailing newline is refused, not dropped)."""
    bad = control_character(raw)
    if bad is not None:
        raise BadParameter(name, f"{name} holds the control character {bad!r}; send "
                           "single-line printable text")
    value = raw.strip()
    if len(value) > limit:
        raise BadParameter(name, f"{name} must be at most {limit} characters, got "
                           f"{len(value)}")
    return value or None


def age(raw: str, name: str) -> float:
    """A duration in seconds (``"3600"``, ``"15m"``, ``"1h30m"``), at most a century."""
    if _DURATION.fullmatch(raw.strip().lower()) is None:
        raise BadParameter(name, f"{name} {raw[:40]!r} is not a duration; write seconds or "
                           "e.g. '30s', '15m', '1h30m', '2d'")
    try:
        return min(to_seconds(raw, what=name), MAX_AGE_SECONDS)
    except (ConfigurationError, OverflowError):
        return MAX_AGE_SECONDS  # only digits too many to be a finite float get here


def query_text(values: Mapping[str, Any] | FormData, name: str) -> str | None:
    """The checked, trimmed text of parameter ``name``, or None when absent or blank."""
    raw = values.get(name)
    return text(raw, name) if isinstance(raw, str) else None


def query_whole(values: Mapping[str, Any] | FormData, name: str) -> int | None:
    """The checked whole number (an id) of parameter ``name``, or None when absent or blank."""
    raw = query_text(values, name)
    return None if raw is None else whole(raw, name)


def query_age(values: Mapping[str, Any] | FormData, name: str) -> float | None:
    """The checked duration of parameter ``name``, or None when absent or blank."""
    raw = query_text(values, name)
    return None if raw is None else age(raw, name)


def job_id(request: Request) -> int:
    """The ``{job_id}`` of the request's path: a whole number from 1 to 2**63 - 1, or a 400."""
    raw = request.path_params["job_id"]
    return whole(str(raw), "job_id")


USAGE_SINCE = "1d"
"""The usage page's and ``GET /api/usage``'s window when none is given."""


def usage_query(values: Mapping[str, Any] | FormData) -> tuple[str, float]:
    """The checked ``by`` (name, queue or tenant; default name) and ``since`` (a duration
    over zero; default a day, in seconds) of the usage page and API."""
    by = query_text(values, "by") or "name"
    if by not in USAGE_BY:
        raise BadParameter("by", f"by must be one of {', '.join(USAGE_BY)}, got {by[:40]!r}")
    since = query_age(values, "since")
    if since is None:
        since = to_seconds(USAGE_SINCE)
    if since <= 0:
        raise BadParameter("since", "since must be a duration over zero, e.g. '1h' or '7d'")
    return by, since
