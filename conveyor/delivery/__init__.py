"""The one delivery loop of the outbox (:mod:`conveyor._outbox`).

:class:`~conveyor.delivery.deliverer.Deliverer` claims due deliveries under a lease, sends
each through the sender of its kind (:mod:`conveyor.delivery.senders`: a signed POST through
:mod:`conveyor._outbound` for completion webhooks; the monitor's
:class:`~conveyor.monitor.delivery.AlertSender` for alert notices) and records every attempt
with the one retry schedule. Every worker runs it as a service
(:class:`~conveyor.worker.outbox_service.DeliveryService`), and the monitor delivers its
alerts through it each round. It imports nothing of the monitor or the worker.
"""

from conveyor.delivery.deliverer import Deliverer, DeliveryReport
from conveyor.delivery.senders import Failed, Sender, WebhookSender

__all__ = ["Deliverer", "DeliveryReport", "Failed", "Sender", "WebhookSender"]
