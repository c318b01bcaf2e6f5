"""Parsing of human durations such as ``"30s"``, ``"15m"``, ``"1h30m"`` or ``2.5``."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from conveyor.errors import ConfigurationError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")

Duration = float | int | timedelta | str
"""A duration: seconds as a number, a ``timedelta``, or a string like ``"1h30m"``."""


def to_seconds(value: Duration, *, what: str = "duration") -> float:
    """Return ``value`` as a non-negative number of seconds.

    Raises :class:`ConfigurationError` naming ``what`` when the value cannot be read.
    """
    if isinstance(value, bool):
        raise ConfigurationError(f"{what} must be a duration, not a bool")
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse(value.strip().lower(), what)
    else:
        raise ConfigurationError(
            f"{what} must be seconds, a timedelta or a string like '30s' or '1h30m', "
            f"not {type(value).__name__}"
        )
    if math.isnan(seconds) or seconds < 0:
        raise ConfigurationError(f"{what} must be zero or positive, got {value!r}")
    if math.isinf(seconds):
        raise ConfigurationError(f"{what} must be finite, got {value!r}")
    return seconds


def _parse(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ConfigurationError(
            f"{what} {text!r} is not a duration; write e.g. '500ms', '30s', '15m', '1h30m', '2d'"
        )
    return total
