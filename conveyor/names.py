"""Validation of queue and job names (they appear in URLs, logs and SQL parameters)."""

from __future__ import annotations

import re

from conveyor.errors import ConfigurationError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:\-]*$")
MAX_QUEUE_LENGTH = 64
MAX_JOB_NAME_LENGTH = 200


MAX_KEY_LENGTH = 500
"""Longest unique, limit, rate or once key, in characters (an index entry must stay small)."""

def check_queue(queue: object) -> str:
    """Return ``queue`` if it is a valid queue name, else raise :class:`ConfigurationError`."""
    return _check(queue, "queue name", MAX_QUEUE_LENGTH)


def check_job_name(name: object) -> str:
    """Return ``name`` if it is a valid job name, else raise :class:`ConfigurationError`."""
    return _check(name, "job name", MAX_JOB_NAME_LENGTH)


def _check(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise ConfigurationError(f"{what} {value[:40]!r}... is longer than {limit} characters")
    if not _NAME.match(value):
        raise ConfigurationError(
            f"{what} {value!r} may hold only letters, digits, '_', '.', ':' and '-', and must "
            "start with a letter or '_'"
        )
    return value


def check_schedule_name(name: object) -> str:
    """Return ``name`` if it is a valid schedule or check-in name, else raise."""
    return _check(name, "schedule name", MAX_JOB_NAME_LENGTH)
