"""OpenTelemetry tracing as middleware: a producer span at enqueue, a consumer span per attempt.

``Conveyor(middleware=[OpenTelemetry()])`` (with the ``otel`` extra, ``opentelemetry-api``,
and an SDK configured by your app). At enqueue a ``PRODUCER`` span named ``send QUEUE`` is
made in the caller's current context (a web request's span, say) and its W3C trace context is
stored in the job's headers (``traceparent``); each attempt runs inside a ``CONSUMER`` span
named ``process QUEUE`` whose parent is that producer span, so the request, the enqueue and
every attempt and retry form one trace. Spans follow the OpenTelemetry messaging conventions:
``messaging.system`` = ``conveyor``, ``messaging.destination.name`` = the queue,
``messaging.operation.name``/``type``, ``messaging.message.id`` = the job id (on the consumer
span; the producer span ends before the job is written, so it has no id yet), plus
``conveyor.job.name``, ``conveyor.attempt`` and ``conveyor.outcome``. A failed attempt's span
has an error status and ``error.type``.

Spans your handler makes are children of the consumer span, for ``async def`` handlers and
for ``def`` handlers alike (the worker runs a sync handler in a copy of the context).
"""

from __future__ import annotations

import importlib
from typing import Any

from conveyor.errors import ConfigurationError
from conveyor.middleware import (
    AttemptEnd,
    AttemptStart,
    AttemptStatus,
    CallNext,
    Enqueueing,
    Middleware,
)

SYSTEM = "conveyor"
_FAILED = (AttemptStatus.RETRYING, AttemptStatus.DEAD, AttemptStatus.LOST)


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ConfigurationError(
            "OpenTelemetry tracing needs the opentelemetry-api package: pip install "
            "'conveyor[otel]' (and an SDK to export the spans)"
        ) from None


class OpenTelemetry(Middleware):
    """Traces enqueues and attempts (see the module's doc).

    ``tracer_provider`` defaults to the global one (``trace.set_tracer_provider``). Raises
    :class:`~conveyor.errors.ConfigurationError` when ``opentelemetry-api`` is missing.
    """

    def __init__(self, tracer_provider: Any = None) -> None:
        self._trace = _module("opentelemetry.trace")
        self._propagate = _module("opentelemetry.propagate")
        self._tracer = self._trace.get_tracer("conveyor", tracer_provider=tracer_provider)

    def on_enqueue(self, job: Enqueueing) -> None:
        """Make the producer span and store its context in the job's headers."""
        attributes = {
            "messaging.system": SYSTEM,
            "messaging.operation.name": "send",
            "messaging.operation.type": "send",
            "messaging.destination.name": job.queue,
            "conveyor.job.name": job.name,
        }
        with self._tracer.start_as_current_span(
            f"send {job.queue}", kind=self._trace.SpanKind.PRODUCER, attributes=attributes
        ):
            self._propagate.inject(job.headers)

    async def around_attempt(self, attempt: AttemptStart, call_next: CallNext) -> AttemptEnd:
        """Run the attempt inside a consumer span, child of the job's producer span."""
        ctx = attempt.ctx
        parent = self._propagate.extract(ctx.headers)
        attributes = {
            "messaging.system": SYSTEM,
            "messaging.operation.name": "process",
            "messaging.operation.type": "process",
            "messaging.destination.name": ctx.queue,
            "messaging.message.id": str(ctx.job_id),
            "conveyor.job.name": ctx.name,
            "conveyor.attempt": ctx.attempt,
        }
        with self._tracer.start_as_current_span(
            f"process {ctx.queue}", context=parent, kind=self._trace.SpanKind.CONSUMER,
            attributes=attributes, record_exception=False, set_status_on_exception=False,
        ) as span:
            end = await call_next()
            span.set_attribute("conveyor.outcome", str(end.status))
            if end.status in _FAILED and end.error_type is not None:
                span.set_attribute("error.type", end.error_type)
                span.set_status(self._trace.Status(
                    self._trace.StatusCode.ERROR, end.error_message or end.error_type
                ))
        return end
