"""An app whose jobs ask for completion webhooks (notify_url=), signed; the first two retries
come quickly, the third only after a minute (so a test can watch a failing delivery).

Which internal receivers it may reach comes from ``CONVEYOR_WEBHOOK_ALLOW``, each POST's
deadline from ``IT_WEBHOOK_TIMEOUT`` (default 10s), both set by the tests."""

import os

from conveyor import Conveyor

app = Conveyor(
    webhook_secret="it-notify-secret",
    webhook_backoff=["300ms", "300ms", "1m"],
    webhook_timeout=os.environ.get("IT_WEBHOOK_TIMEOUT", "10s"),
)


@app.job(name="notify.add", retries=0)
def add(ctx, a: int, b: int) -> int:
    return a + b


@app.job(name="notify.fail", retries=0)
def fail(ctx, order_id: int) -> None:
    raise ValueError(f"order {order_id} has no customer")
