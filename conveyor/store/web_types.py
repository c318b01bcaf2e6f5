"""Records the dashboard and the HTTP API read from the store."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ActionRow:
    """One operator action (retry, cancel, replay, discard, pause, trigger ...), with who."""

    id: int
    at: float
    actor: str
    action: str
    """What was done, e.g. ``"replay"``, ``"pause_queue"``, ``"trigger_schedule"``."""
    target: str
    """What it was done to, e.g. ``"job:42"``, ``"queue:emails"``, ``"dlq:name=x"``."""
    details_json: str = "{}"


@dataclass(frozen=True, slots=True)
class DeadGroup:
    """Dead jobs sharing a job name and last error type."""

    name: str
    error_type: str | None
    count: int
    newest_at: float
    """When the newest of them died."""
    oldest_at: float
    sample_message: str | None = None
    """The newest one's error message, as an example."""


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """Jobs finished in one time bucket of one queue (for the overview's charts)."""

    bucket: float
    """The bucket's start (epoch seconds, a multiple of the bucket size)."""
    queue: str
    succeeded: int = 0
    failed: int = 0
    """Jobs that went dead plus attempts that failed and were retried."""


@dataclass(frozen=True, slots=True)
class NewSession:
    """A login to record (see :meth:`DashboardVerbs.put_session`)."""

    credential: str
    """A digest of the token that logged in (never the token itself)."""
    role: str
    """The role that token has now."""
    seconds: float
    """How long the session lasts from now."""


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A dashboard session that has not expired (see :meth:`DashboardVerbs.put_session`)."""

    credential: str
    """A digest of the token that logged in (never the token itself)."""
    role: str
    """The role that token had at login; the session counts only while it still has it."""
    expires_at: float
