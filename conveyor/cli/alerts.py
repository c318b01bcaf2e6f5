"""``conveyor alerts``: the monitor's incidents, and the notifications it could not deliver."""

from __future__ import annotations

from typing import Any

import click

from conveyor import _durations as durations
from conveyor._outbox import DeliveryKind, DeliveryRow, DeliveryState
from conveyor.cli import render
from conveyor.cli.deliveries import alert_doc, delivery_status
from conveyor.cli.options import Target, json_option, target_options
from conveyor.store.protocol import Store
from conveyor.store.watch_types import IncidentRow, IncidentState

INCIDENTS_SHOWN = 100
OUTBOX_SCANNED = 500
"""Newest outbox rows looked at for undelivered notifications."""


@click.command(short_help="Incidents (firing first) and notifications not delivered.")
@click.option("--all", "include_resolved", is_flag=True,
              help="Show resolved incidents too, not only firing ones.")
@json_option
@target_options
def alerts(target: Target, include_resolved: bool, as_json: bool) -> None:
    """The monitor's incidents: firing ones first (with --all, resolved ones too).

    Each shows its rule and subject (a queue, schedule or check-in), when it opened and
    resolved, what is wrong, and how many notifications reached a sink. Below the table,
    every notification not delivered yet, or given up on, with its sink, attempts and last
    error: a sink that fails is visible here.
    """
    store = target.store()
    now = store.now()
    found = store.list_incidents(include_resolved=include_resolved, limit=INCIDENTS_SHOWN)
    # Firing first, newest first within each state (the store returns newest first).
    found.sort(key=lambda i: i.state != IncidentState.FIRING)
    sent = {i.id: _delivered(store, i.id) for i in found}
    undelivered = [n for n in store.list_deliveries(kind=DeliveryKind.ALERT, limit=OUTBOX_SCANNED)
                   if n.state is not DeliveryState.DELIVERED]
    if as_json:
        render.print_json({
            "incidents": [incident_doc(i, sent[i.id]) for i in found],
            "undelivered": [alert_doc(n) for n in undelivered],
        })
        return
    _print_incidents(found, sent, now, include_resolved)
    _print_undelivered(found, undelivered, now)


def _delivered(store: Store, incident_id: int) -> int:
    return len(store.list_deliveries(kind=DeliveryKind.ALERT, subject=incident_id,
                                     state=DeliveryState.DELIVERED))


def _print_incidents(found: list[IncidentRow], sent: dict[int, int], now: float,
                     include_resolved: bool) -> None:
    if not found:
        click.echo("no incidents" if include_resolved
                   else "no incidents firing (--all shows resolved ones)")
        return
    out = render.table("id", "rule", "subject", "state", "opened", "resolved", "sent",
                       "summary")
    out.columns[0].justify = "right"
    out.columns[6].justify = "right"
    for incident in found:
        firing = incident.state == IncidentState.FIRING
        out.add_row(
            str(incident.id),
            render.escape(incident.rule),
            render.escape(incident.subject),
            "[bold red]firing[/]" if firing else "[green]resolved[/]",
            durations.since(incident.opened_at, now),
            durations.since(incident.resolved_at, now),
            str(sent[incident.id]),
            render.escape(incident.summary),
        )
    render.print_table(out)
    firing_count = sum(1 for i in found if i.state == IncidentState.FIRING)
    click.echo(f"{render.plural(firing_count, 'incident')} firing")


def _print_undelivered(found: list[IncidentRow], undelivered: list[DeliveryRow],
                       now: float) -> None:
    if not undelivered:
        return
    rules = {i.id: f"{i.rule} {i.subject}" for i in found}
    click.echo()
    click.echo(f"{render.plural(len(undelivered), 'notification')} not delivered:")
    out = render.table("id", "incident", "kind", "sink", "tries", "state", "last error")
    out.columns[0].justify = "right"
    out.columns[3].overflow = "fold"  # the sink's name is its destination: show all of it
    out.columns[4].justify = "right"
    for note in undelivered:
        out.add_row(
            str(note.id),
            render.escape(rules.get(note.subject, f"#{note.subject}")),
            note.event,
            render.escape(note.destination),
            str(note.attempts),
            render.escape(delivery_status(note, now, brief=True)),
            render.escape(render.first_line(note.last_error, 200)) or "-",
        )
    render.print_table(out)


def incident_doc(incident: IncidentRow, sent: int) -> dict[str, Any]:
    """An incident as JSON, with how many of its notifications were delivered."""
    return {**render.to_dict(incident), "notifications_sent": sent}
