"""How the CLI shows an outbox row (:mod:`conveyor._outbox`): one wording for ``conveyor jobs
show`` (a job's webhook) and ``conveyor alerts`` (undelivered notices) alike."""

from __future__ import annotations

from typing import Any

from conveyor._durations import since, until
from conveyor._outbox import DeliveryRow, DeliveryState
from conveyor.cli import render


def delivery_status(row: DeliveryRow, now: float, *, brief: bool = False) -> str:
    """Delivered / failing / gave up, with the attempts and the last error; ``brief`` leaves
    both out, for a table that shows them in columns of their own."""
    if brief:
        if row.state is DeliveryState.DELIVERED:
            return f"delivered {since(row.delivered_at, now)} ago"
        if row.state is DeliveryState.FAILED:
            return f"gave up {since(row.failed_at, now)} ago"
        return f"next try {until(row.next_try_at, now)}"
    tries = f"{row.attempts} attempt{'s' if row.attempts != 1 else ''}"
    error = render.first_line(row.last_error, 120)
    if row.state is DeliveryState.DELIVERED:
        return f"delivered {since(row.delivered_at, now)} ago ({tries})"
    if row.state is DeliveryState.FAILED:
        return f"gave up after {tries} ({error})"
    if row.last_error:
        return f"failing ({error}); {tries}, next try {until(row.next_try_at, now)}"
    return "sending"


def alert_doc(row: DeliveryRow) -> dict[str, Any]:
    """An alert delivery as ``conveyor alerts --json`` has always shown a notification."""
    return {
        "id": row.id,
        "incident_id": row.subject,
        "kind": row.event,
        "sink": row.destination,
        "payload_json": row.payload_json,
        "created_at": row.created_at,
        "next_try_at": row.next_try_at,
        "attempts": row.attempts,
        "delivered_at": row.delivered_at,
        "failed_at": row.failed_at,
        "last_error": row.last_error,
        "state": str(row.state),
    }


def webhook_doc(row: DeliveryRow) -> dict[str, Any]:
    """A webhook delivery as ``conveyor jobs show --json`` has always shown it."""
    return {
        "job_id": row.subject,
        "url": row.destination,
        "payload_json": row.payload_json,
        "finished_at": row.event_at,
        "state": str(row.state),
        "attempts": row.attempts,
        "next_try_at": row.next_try_at,
        "last_error": row.last_error,
        "delivered_at": row.delivered_at,
        "created_at": row.created_at,
    }
