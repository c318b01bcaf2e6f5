"""The project's Conveyor app, on Django's own database."""

from conveyor import Conveyor
from conveyor.contrib.django import database_url

app = Conveyor(database_url())


@app.job(name="shop.send_receipt")
def send_receipt(ctx, order_id: int) -> str:
    """Reads the order through the ORM: the job sees what the transaction committed."""
    from shop.models import Order

    order = Order.objects.get(pk=order_id)
    return f"receipt for {order.customer}: {order.total}"
