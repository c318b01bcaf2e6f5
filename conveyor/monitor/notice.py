"""A notice: one message about an incident, in the forms every sink needs (title, text, JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conveyor._durations import age
from conveyor.store.watch_types import NoticeKind

__all__ = ["Notice", "NoticeKind"]


def _iso(moment: float | None) -> str | None:
    """An epoch-seconds moment as a UTC ISO 8601 string (whole seconds), ``None`` kept."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification about an incident, handed to every configured sink.

    ``rule`` names the alert rule (``"missed_run"``, ``"dlq_growth"``, ``"queue_age"``,
    ``"failure_rate"``, ``"unknown_job"``, ``"no_worker"``, ``"checkin"``...); ``subject`` is what
    the incident is about (a schedule, queue or check-in name); ``summary`` is one human sentence;
    ``details`` holds JSON-able facts. Times are epoch seconds: ``opened_at`` when the incident
    opened, ``at`` when this notice was made, ``resolved_at`` when it ended (resolved notices).
    """

    incident_id: int
    kind: NoticeKind
    rule: str
    subject: str
    summary: str
    details: Mapping[str, Any]
    opened_at: float
    at: float
    resolved_at: float | None = None

    def title(self) -> str:
        """A one-line headline, e.g. ``[conveyor] FIRING missed_run nightly_report``."""
        return f"[conveyor] {self.kind.value.upper()} {self.rule} {self.subject}"

    def open_for(self) -> float:
        """Seconds the incident has been open: until it resolved, else until this notice."""
        end = self.resolved_at if self.resolved_at is not None else self.at
        return max(0.0, end - self.opened_at)

    def text(self) -> str:
        """A multi-line plain-text body for email and logs."""
        lines = [self.title(), "", self.summary, ""]
        lines.append(f"incident: {self.incident_id}")
        lines.append(f"opened: {_iso(self.opened_at)}")
        if self.resolved_at is not None:
            lines.append(f"resolved: {_iso(self.resolved_at)}")
            lines.append(f"lasted: {age(self.open_for())}")
        else:
            lines.append(f"open for: {age(self.open_for())}")
        if self.details:
            lines.append("")
            lines.extend(f"{key}: {value}" for key, value in self.details.items())
        return "\n".join(lines) + "\n"

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Notice:
        """Rebuild a notice from :meth:`to_json` output (as the outbox stores it).

        Raises KeyError, TypeError or ValueError for a payload that is not one.
        """
        resolved_at = payload.get("resolved_at")
        return cls(
            incident_id=int(payload["incident_id"]),
            kind=NoticeKind(payload["kind"]),
            rule=str(payload["rule"]),
            subject=str(payload["subject"]),
            summary=str(payload["summary"]),
            details=dict(payload.get("details") or {}),
            opened_at=float(payload["opened_at"]),
            at=float(payload["at"]),
            resolved_at=None if resolved_at is None else float(resolved_at),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON body webhooks receive. The fields are stable; new ones may be added.

        - ``incident_id`` (int): the incident this notice is about.
        - ``kind`` (str): ``"firing"``, ``"reminder"`` or ``"resolved"``.
        - ``rule`` (str): the alert rule, e.g. ``"missed_run"``.
        - ``subject`` (str): the schedule, queue or check-in concerned.
        - ``title`` (str): :meth:`title`.
        - ``summary`` (str): one human sentence.
        - ``details`` (object): rule-specific facts.
        - ``opened_at``, ``at`` (float), ``resolved_at`` (float or null): epoch seconds.
        - ``opened_at_iso``, ``at_iso``, ``resolved_at_iso`` (str or null): the same in UTC
          ISO 8601.
        - ``open_seconds`` (float): how long the incident has been (or was) open.
        """
        return {
            "incident_id": self.incident_id,
            "kind": self.kind.value,
            "rule": self.rule,
            "subject": self.subject,
            "title": self.title(),
            "summary": self.summary,
            "details": dict(self.details),
            "opened_at": self.opened_at,
            "at": self.at,
            "resolved_at": self.resolved_at,
            "opened_at_iso": _iso(self.opened_at),
            "at_iso": _iso(self.at),
            "resolved_at_iso": _iso(self.resolved_at),
            "open_seconds": self.open_for(),
        }
