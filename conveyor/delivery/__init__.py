"""The one delivery service of the outbox (:mod:`conveyor.outbox`).

:class:`~conveyor.delivery.deliverer.Deliverer` claims due deliveries under a lease, sends
each through the sender of its kind (:mod:`conveyor.delivery.senders`: monitor sinks for
alerts, a signed POST through :mod:`conveyor.outbound` for completion webhooks) and records
every attempt with the one retry schedule. Every worker runs it as a service
(:class:`~conveyor.delivery.service.DeliveryService`), and the monitor delivers its alerts
through it each round.
"""

from conveyor.delivery.deliverer import Deliverer, DeliveryReport
from conveyor.delivery.senders import AlertSender, Failed, Sender, WebhookSender

__all__ = ["AlertSender", "Deliverer", "DeliveryReport", "Failed", "Sender", "WebhookSender"]
