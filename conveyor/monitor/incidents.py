"""Incidents: open one when a rule starts firing for a subject, resolve it when it stops.

Each tick the monitor hands :func:`reconcile` what a group of rules found and which incidents
of theirs may resolve; reconcile writes the incidents and queues one notification per notice
and sink in the store's outbox (delivered later by :mod:`conveyor.monitor.delivery`), so a sink
that is down loses nothing. :func:`remind` queues reminders of incidents that keep firing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor._outbox import DeliveryKind, NewDelivery
from conveyor.monitor.config import Firing
from conveyor.monitor.notice import Notice, NoticeKind
from conveyor.store.watch_types import IncidentRow

if TYPE_CHECKING:
    from conveyor.store.protocol import Store

Key = tuple[str, str]
"""An incident's identity: (rule, subject)."""


@dataclass
class Changes:
    """What :func:`reconcile` and :func:`remind` did, as (rule, subject) keys."""

    opened: list[Key] = field(default_factory=list)
    updated: list[Key] = field(default_factory=list)
    resolved: list[Key] = field(default_factory=list)
    reminded: list[Key] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def add(self, other: Changes) -> None:
        """Merge ``other`` into this one."""
        self.opened.extend(other.opened)
        self.updated.extend(other.updated)
        self.resolved.extend(other.resolved)
        self.reminded.extend(other.reminded)
        self.notices.extend(other.notices)


def _details(incident: IncidentRow) -> dict[str, Any]:
    try:
        loaded = json.loads(incident.details_json)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _notice(
    incident: IncidentRow,
    kind: NoticeKind,
    now: float,
    *,
    summary: str | None = None,
    details: dict[str, Any] | None = None,
) -> Notice:
    return Notice(
        incident_id=incident.id,
        kind=kind,
        rule=incident.rule,
        subject=incident.subject,
        summary=incident.summary if summary is None else summary,
        details=_details(incident) if details is None else details,
        opened_at=incident.opened_at,
        at=now,
        resolved_at=incident.resolved_at,
    )


def reconcile(
    store: Store,
    *,
    firing_incidents: Sequence[IncidentRow],
    evaluated: Collection[str],
    findings: Iterable[Firing],
    cleared: Collection[Key] | None = None,
    sinks: Sequence[str],
    now: float,
) -> Changes:
    """Bring the incidents of the ``evaluated`` rules in line with what they found this tick.

    - a finding without a firing incident opens one (if another monitor opened it first, the
      store says so and nothing is sent twice), and queues a FIRING notice;
    - a finding with a firing incident refreshes its summary and details when they changed;
    - a firing incident of an evaluated rule resolves, with a RESOLVED notice: when ``cleared``
      is None, because nothing fired for its subject this tick; otherwise only when its key is
      in ``cleared`` (schedules and check-ins resolve on a good verdict, not on silence).

    Findings of rules not in ``evaluated`` are ignored. ``firing_incidents`` is what the store
    said was firing at the start of the tick; ``sinks`` the names of the configured sinks.
    """
    changes = Changes()
    open_now = {(i.rule, i.subject): i for i in firing_incidents if i.rule in evaluated}
    found: dict[Key, Firing] = {}
    for firing in findings:
        if firing.rule in evaluated:
            found.setdefault((firing.rule, firing.subject), firing)
    for key, firing in found.items():
        incident = open_now.get(key)
        details_json = json.dumps(firing.details, sort_keys=True, default=str)
        if incident is not None and (incident.summary, incident.details_json) == (
            firing.summary,
            details_json,
        ):
            continue
        change = store.upsert_incident(
            firing.rule,
            firing.subject,
            firing=True,
            summary=firing.summary,
            details_json=details_json,
            now=now,
        )
        if change is not None and change.opened:
            changes.opened.append(key)
            changes.notices.append(_notice(change.row, NoticeKind.FIRING, now))
        elif incident is not None:
            changes.updated.append(key)
        # else another monitor opened it since the tick began: it sent the FIRING notice.
    for key, incident in open_now.items():
        if key in found or (cleared is not None and key not in cleared):
            continue
        resolved = store.upsert_incident(incident.rule, incident.subject, firing=False, now=now)
        if resolved is not None:
            changes.resolved.append(key)
            changes.notices.append(_notice(resolved.row, NoticeKind.RESOLVED, now))
    _queue(store, changes.notices, sinks, now)
    return changes


def remind(
    store: Store,
    *,
    firing_incidents: Sequence[IncidentRow],
    skip: Collection[Key],
    reminder: float | None,
    sinks: Sequence[str],
    now: float,
) -> Changes:
    """Queue a REMINDER notice for each firing incident last notified ``reminder`` seconds ago.

    Pass the incidents firing after :func:`reconcile` ran, so reminders carry refreshed
    summaries; those whose key is in ``skip`` (opened this tick) are left out, and everything
    is when ``reminder`` is None.
    """
    changes = Changes()
    if reminder is None:
        return changes
    for incident in firing_incidents:
        key = (incident.rule, incident.subject)
        last = (
            incident.last_notified_at
            if incident.last_notified_at is not None
            else incident.opened_at
        )
        if key in skip or now < last + reminder:
            continue
        changes.reminded.append(key)
        changes.notices.append(_notice(incident, NoticeKind.REMINDER, now))
    _queue(store, changes.notices, sinks, now)
    return changes


def _queue(store: Store, notices: Sequence[Notice], sinks: Sequence[str], now: float) -> None:
    """Put every notice in the outbox once per sink; count firing and reminders as notified."""
    if not notices:
        return
    store.add_deliveries(
        [
            NewDelivery(
                kind=DeliveryKind.ALERT,
                subject=notice.incident_id,
                event=str(notice.kind),
                destination=sink,
                payload_json=json.dumps(notice.to_json(), sort_keys=True, default=str),
                event_at=notice.at,
            )
            for notice in notices
            for sink in sinks
        ]
    )
    for notice in notices:
        if notice.kind is not NoticeKind.RESOLVED:
            store.mark_notified(notice.incident_id, now=now)
