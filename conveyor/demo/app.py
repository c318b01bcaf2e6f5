"""Jobs for ``conveyor demo``: emails, exports with progress, a flaky partner API, a bad import.

Point a worker at it with ``conveyor worker conveyor.demo.app:app``. The store comes from
``CONVEYOR_URL``, which ``conveyor demo`` sets to a database in a temporary folder.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from conveyor import Backoff, Conveyor, JobContext, Permanent

app = Conveyor()

FAST_BACKOFF = Backoff(base=0.2, cap=1.0)


@app.job(name="demo.send_welcome", queue="emails", retries=3)
def send_welcome(ctx: JobContext, user_id: int, email: str) -> dict[str, Any]:
    """Send a welcome email (a short sleep stands in for the mail server)."""
    time.sleep(random.uniform(0.05, 0.3))
    return {"to": email, "message_id": f"<welcome-{user_id}@demo.conveyor>"}


@app.job(name="demo.build_export", queue="exports", timeout="2m")
async def build_export(ctx: JobContext, account_id: int, pages: int = 12) -> dict[str, Any]:
    """Build a CSV export page by page, reporting progress as it goes."""
    rows = 0
    for page in range(1, pages + 1):
        await asyncio.sleep(0.4)
        rows += random.randint(80, 120)
        ctx.progress(page / pages, f"page {page}/{pages}")
    return {"account_id": account_id, "rows": rows, "file": f"export-{account_id}.csv"}


@app.job(name="demo.sync_crm", queue="default", retries=4, backoff=FAST_BACKOFF)
def sync_crm(ctx: JobContext, contact_id: int) -> dict[str, Any]:
    """Push a contact to a flaky third-party CRM: its first two calls time out."""
    time.sleep(0.1)
    if ctx.attempt <= 2:
        raise TimeoutError(f"crm.example.com did not answer within 5s (attempt {ctx.attempt})")
    return {"contact_id": contact_id, "crm_id": f"crm-{contact_id}"}


@app.job(name="demo.import_contacts", queue="default", retries=2, backoff=FAST_BACKOFF)
def import_contacts(ctx: JobContext, upload_id: int) -> None:
    """Import an uploaded CSV whose row 17 is broken: it fails on every attempt."""
    time.sleep(0.1)
    raise ValueError(f"upload {upload_id}: row 17 has no email address; fix the file and replay")


@app.job(name="demo.charge_card", queue="default")
def charge_card(ctx: JobContext, order_id: int, card: str) -> None:
    """Charge a card that the bank declines for good: retrying cannot help."""
    raise Permanent(f"order {order_id}: card {card} was declined (do not retry)")


@app.job(name="demo.send_reminder", queue="emails")
def send_reminder(ctx: JobContext, user_id: int) -> dict[str, Any]:
    """A reminder enqueued with a delay: it waits in ``scheduled`` first."""
    time.sleep(0.05)
    return {"user_id": user_id, "sent": True}


SCHEDULED_DELAY = 2.0
"""Seconds the demo's reminder waits in ``scheduled`` before it is due."""


def enqueue_workload() -> list[int]:
    """Enqueue the demo's workload and return the job ids, in the order enqueued."""
    users = [(1000 + n, f"user{n}@example.com") for n in range(1, 21)]
    handles = send_welcome.enqueue_many(
        [{"user_id": user_id, "email": email} for user_id, email in users]
    )
    handles += build_export.enqueue_many([{"account_id": 7}, {"account_id": 8}])
    handles.append(sync_crm.enqueue(contact_id=314))
    handles.append(import_contacts.enqueue(upload_id=42))
    handles.append(charge_card.enqueue(order_id=9001, card="**** 4242"))
    handles.append(send_reminder.enqueue(user_id=1001, delay=SCHEDULED_DELAY))
    return [handle.id for handle in handles]
