"""An app whose jobs ask for completion webhooks (notify_url=), signed; the first two retries
come quickly, the third only after a minute (so a test can watch a failing delivery)."""

from conveyor import Conveyor

app = Conveyor(webhook_secret="it-notify-secret", webhook_backoff=["300ms", "300ms", "1m"])


@app.job(name="notify.add", retries=0)
def add(ctx, a: int, b: int) -> int:
    return a + b


@app.job(name="notify.fail", retries=0)
def fail(ctx, order_id: int) -> None:
    raise ValueError(f"order {order_id} has no customer")
