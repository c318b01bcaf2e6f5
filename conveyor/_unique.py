"""Unique jobs: the key template a job type declares, and how long a key is held.

A job with a unique key *holds* it while it is scheduled, queued, running or retrying, and
after it succeeds for ``unique_for`` seconds (or forever). Enqueueing a job whose key is held
writes nothing and returns the holder's handle. The stores enforce this; this module only
turns the declaration and the call into a key and a number. See docs/unique-jobs.md.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from conveyor._durations import Duration, to_seconds
from conveyor._names import MAX_KEY_LENGTH, check_no_control
from conveyor.errors import ArgumentError, ConfigurationError

FOREVER = -1.0
"""``unique_for`` as stored for "forever": any negative number means the hold never lapses."""

UniqueFor = Duration | None
"""A hold after success: seconds, a ``timedelta``, a string like ``"10m"``, or ``"forever"``."""


def to_unique_for(value: object) -> float | None:
    """Return ``value`` as stored: None (no hold after success), seconds, or :data:`FOREVER`.

    Raises :class:`ConfigurationError` for anything that is not a duration or ``"forever"``.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == "forever":
        return FOREVER
    if not isinstance(value, int | float | str | timedelta):
        raise ConfigurationError(
            f"unique_for must be None, a duration (seconds, a timedelta, '10m') or 'forever', "
            f"got {value!r}"
        )
    seconds = to_seconds(value, what="unique_for")
    # 0 means "release at success", which is what None already says; keep one spelling.
    return seconds or None


class UniqueTemplate:
    """A ``str.format`` template over a handler's parameters, e.g. ``"charge:{order_id}"``.

    Checked when the job is declared: every field must name a parameter of the handler, so a
    typo fails at import time instead of making every call share one key.
    """

    def __init__(
        self,
        template: object,
        job_name: str,
        parameters: tuple[str, ...],
        *,
        option: str = "unique",
        instead: str = "pass unique_key='...' explicitly",
    ) -> None:
        # ``option`` and ``instead`` let other keyed options (limit=, rate=) reuse the same
        # checks with their own wording.
        if not isinstance(template, str) or not template:
            raise ConfigurationError(
                f"job {job_name!r}: {option}= takes a non-empty key template such as "
                f"'charge:{{order_id}}', got {template!r}"
            )
        self.template = template
        self.job_name = job_name
        self.option = option
        self.instead = instead
        self.fields = _fields(template, job_name, parameters, option)

    def __repr__(self) -> str:
        return f"UniqueTemplate({self.template!r})"

    def fill(self, arguments: Mapping[str, Any]) -> str:
        """The key for one call's bound arguments; raise :class:`ArgumentError` if it fails."""
        try:
            key = self.template.format_map(arguments)
        except (KeyError, AttributeError, IndexError, TypeError, ValueError) as exc:
            raise ArgumentError(
                f"job {self.job_name!r}: the {self.option} key template {self.template!r} could "
                f"not be filled from the arguments ({type(exc).__name__}: {exc}); fix the "
                f"template or {self.instead}; nothing was enqueued"
            ) from exc
        if len(key) > MAX_KEY_LENGTH:
            raise ArgumentError(
                f"job {self.job_name!r}: its {self.option} key {key[:40]!r}... is longer than "
                f"{MAX_KEY_LENGTH} characters; nothing was enqueued"
            )
        return key


def _fields(
    template: str, job_name: str, parameters: tuple[str, ...], option: str = "unique"
) -> frozenset[str]:
    known = ", ".join(parameters) or "none"
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigurationError(
            f"job {job_name!r}: {option}={template!r} is not a valid format template ({exc}); "
            "write fields as {parameter_name} and double literal braces as {{ }}"
        ) from exc
    found = set()
    for _literal, field, _spec, _conversion in parsed:
        if field is None:
            continue
        # "{order.id}" and "{items[0]}" are allowed: only the first part names a parameter.
        head = field.split(".", 1)[0].split("[", 1)[0]
        if not head or head.isdigit():
            raise ConfigurationError(
                f"job {job_name!r}: {option}={template!r} has a positional field {{{field}}}; "
                f"name a parameter instead (parameters: {known})"
            )
        if head not in parameters:
            raise ConfigurationError(
                f"job {job_name!r}: {option}={template!r} uses {{{head}}}, which is not a "
                f"parameter of the handler (parameters: {known})"
            )
        found.add(head)
    return frozenset(found)


def check_unique_key(value: object) -> str:
    """Return a per-call ``unique_key`` if it is a non-empty string, else raise."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(
            f"unique_key must be a non-empty string such as 'charge:42', got {value!r}"
        )
    if len(value) > MAX_KEY_LENGTH:
        raise ConfigurationError(
            f"unique_key {value[:40]!r}... is longer than {MAX_KEY_LENGTH} characters"
        )
    return check_no_control(value, "unique_key")
