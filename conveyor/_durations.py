"""Human durations: parsing ``"30s"``, ``"15m"``, ``"1h30m"`` or ``2.5``, and showing them."""

from __future__ import annotations

import math
import re
import time
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


# -- showing ---------------------------------------------------------------------------------


def age(seconds: float | None) -> str:
    """A rough human age such as ``12s``, ``4m``, ``2h 5m`` or ``3d 4h``; ``-`` for unknown."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)}s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def since(moment: float | None, now: float | None = None) -> str:
    """How long ago an epoch-seconds ``moment`` was, as :func:`age` (``-`` when unknown)."""
    if moment is None:
        return "-"
    return age((now if now is not None else time.time()) - moment)


def until(moment: float, now: float | None = None) -> str:
    """How long until an epoch-seconds ``moment``, e.g. ``in 5m``, or ``now`` once due."""
    left = moment - (now if now is not None else time.time())
    return "now" if left <= 0 else f"in {age(left)}"


def duration(seconds: float | None) -> str:
    """A precise short duration: ``85ms``, ``2.4s``, ``3m 05s``, ``1h 02m``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def clock(moment: float | None) -> str:
    """A local wall-clock time ``YYYY-mm-dd HH:MM:SS`` for an epoch-seconds moment."""
    if moment is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment))
