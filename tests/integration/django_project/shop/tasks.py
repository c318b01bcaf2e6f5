"""The project's Conveyor app and its job; settings.CONVEYOR["APP"] names it."""

from __future__ import annotations

from typing import Any

from conveyor import Conveyor

app = Conveyor()


@app.job(queue="billing")
def send_receipt(ctx: Any, order_id: int) -> str:
    """Pretend to send a receipt."""
    return f"receipt for order {order_id}"
