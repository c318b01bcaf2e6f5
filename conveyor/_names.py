"""Validation of names and other short identifiers (they appear in URLs, logs and SQL).

Queue, job, schedule and check-in names are ASCII identifiers (:func:`check_queue`,
:func:`check_job_name`, :func:`check_schedule_name`); free-form identifiers such as a tenant or
a per-call unique key may hold any text but no control character (:func:`check_no_control`):
a newline or NUL in an identifier forges log lines, breaks PostgreSQL (which refuses NUL) and
makes two names that look the same on a dashboard differ.
"""

from __future__ import annotations

import re

from conveyor.errors import ConfigurationError

# Matched with fullmatch: "$" alone would also match before a trailing newline ("default\n").
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
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


def check_schedule_name(name: object) -> str:
    """Return ``name`` if it is a valid schedule or check-in name, else raise."""
    return _check(name, "schedule name", MAX_JOB_NAME_LENGTH)


def control_character(text: str) -> str | None:
    """The first control character (C0, DEL or C1) in ``text``, or None when it has none."""
    found = _CONTROL.search(text)
    return None if found is None else found.group()


def check_no_control(value: str, what: str) -> str:
    """Return ``value`` if it holds no control character, else raise
    :class:`ConfigurationError` naming ``what`` and the character."""
    bad = control_character(value)
    if bad is not None:
        raise ConfigurationError(
            f"{what} {value[:40]!r} holds the control character {bad!r}; remove it (names "
            "and keys are single-line printable text)"
        )
    return value


def _check(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise ConfigurationError(f"{what} {value[:40]!r}... is longer than {limit} characters")
    if not _NAME.fullmatch(value):
        raise ConfigurationError(
            f"{what} {value!r} may hold only letters, digits, '_', '.', ':' and '-', and must "
            "start with a letter or '_'"
        )
    return value
