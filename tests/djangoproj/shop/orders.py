"""What a view would call: save an order and enqueue its receipt in one transaction."""

from django.db import transaction

from shop.jobs import send_receipt
from shop.models import Order


def place_order(customer: str, total: int, *, fail: bool = False) -> int:
    """Save an order and enqueue its receipt; ``fail`` raises before the commit."""
    with transaction.atomic():
        order = Order.objects.create(customer=customer, total=total)
        send_receipt.enqueue(order_id=order.id)  # joins the atomic block: no connection= needed
        if fail:
            raise RuntimeError("payment declined")
    return order.id
